"""Fall decision state machine on synthetic detections (no model, no ROS)."""
from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from carebot.perception.detection import Box, Detection, DetectionClass, PersonState
from carebot.perception.fall_logic import (AlertChange, FallConfig, FallMonitor, drop_evidence, frame_fall_score,
                                           shape_evidence, single_image_state, single_image_states)

SIZE = (640, 480)
STANDING = Box(300, 100, 360, 400)          # 60 x 300: upright, feet at y=400
LYING = Box(200, 330, 440, 410)             # 240 x 80: across the view, feet still near y=400
FPS = 10.0


def det(box, label=DetectionClass.PERSON, score=0.8, tid=1):
    return Detection(box, score, label, tid)


def ids():
    counter = itertools.count(1)
    return lambda: f"incident-{next(counter)}"


def run(monitor, frames, t0=0.0):
    """frames: list of detection lists at FPS; returns (last reports, all events, t after)."""
    events, reports, t = [], [], t0
    for dets in frames:
        reports, evs = monitor.update(t, dets, SIZE)
        events += evs
        t += 1.0 / FPS
    return reports, events, t


def secs(seconds, dets):
    return [dets] * int(round(seconds * FPS))


def test_standing_person_is_normal_with_no_evidence():
    cfg = FallConfig()
    assert shape_evidence(STANDING, SIZE, cfg) == 0.0
    state, score = single_image_state(det(STANDING), SIZE, cfg)
    assert state is PersonState.NORMAL and score == 0.0


def test_lying_box_with_fall_class_is_fallen_in_one_image():
    state, score = single_image_state(det(LYING, DetectionClass.FALL, 0.6), SIZE, FallConfig())
    assert state is PersonState.FALLEN and score >= 0.5


def test_shape_alone_is_not_enough_in_a_still_image():
    # A wide box labelled Normal (e.g. someone resting on a sofa) is not a fall by shape alone.
    state, _ = single_image_state(det(LYING, DetectionClass.PERSON, 0.9), SIZE, FallConfig())
    assert state is PersonState.NORMAL


def test_box_cut_by_image_border_gives_no_shape_evidence():
    cut = Box(0, 200, 400, 480)  # a person cut at the waist by the bottom edge looks wide
    assert shape_evidence(cut, SIZE, FallConfig()) == 0.0
    assert frame_fall_score(det(cut), SIZE, FallConfig()) == 0.0


def test_a_very_wide_box_cut_by_the_border_is_still_lying():
    # Someone lying across the view near the camera, feet or back cut by the bottom edge:
    # 2-3 times wider than tall, which no waist-cut upright person is.
    assert shape_evidence(Box(0, 330, 600, 480), SIZE, FallConfig()) == 1.0
    assert 0.0 < shape_evidence(Box(0, 300, 400, 480), SIZE, FallConfig()) < 1.0


def test_a_box_cut_by_one_side_border_leaves_its_shape_out_instead_of_calling_it_upright():
    # Someone lying across the view, half outside the image at the right: the visible part
    # can be taller than wide. The width is unknown, so the Fall class is not outvoted by it.
    cut = Box(560, 300, 640, 420)                     # 80 x 120 at the right border
    inside = Box(500, 300, 580, 420)                  # the same box inside the image
    fall = DetectionClass.FALL
    assert single_image_state(det(cut, fall, 0.45), SIZE, FallConfig())[0] is PersonState.FALLEN
    assert single_image_state(det(inside, fall, 0.45), SIZE, FallConfig())[0] is PersonState.NORMAL
    assert single_image_state(det(cut, fall, 0.35), SIZE, FallConfig())[0] is PersonState.NORMAL
    assert single_image_state(det(cut, DetectionClass.PERSON, 0.9), SIZE, FallConfig())[0] is PersonState.NORMAL
    # A box over the whole frame (both sides, top) is no person cut at one side.
    whole = Box(0, 0, 640, 480)
    assert single_image_state(det(whole, fall, 0.45), SIZE, FallConfig())[0] is PersonState.NORMAL


def test_a_box_reaching_higher_than_the_camera_is_never_fallen():
    # A seated person the model calls Fall: their head is above the horizon line, higher
    # than the camera (1.2-1.3 m): nobody lying on the floor reaches there.
    seated = Detection(Box(200, 150, 330, 300), 0.8, DetectionClass.FALL, 1)
    assert single_image_state(seated, SIZE, FallConfig())[0] is PersonState.FALLEN
    assert single_image_state(replace(seated, too_high=True), SIZE, FallConfig()) == (PersonState.NORMAL, 0.0)


def test_the_other_image_sizes_lying_box_counts_for_the_shape():
    # The 640 look framed the person upright-ish, the 320 look (whose Fall it carries) lying.
    upright_ish = Box(300, 300, 400, 420)
    low_fall = Detection(upright_ish, 0.3, DetectionClass.FALL, 1)
    assert single_image_state(low_fall, SIZE, FallConfig())[0] is PersonState.NORMAL
    with_box = replace(low_fall, fall_box=Box(280, 340, 460, 420))
    state, score = single_image_state(with_box, SIZE, FallConfig())
    assert state is PersonState.FALLEN and score == pytest.approx(0.6 * 0.3 + 0.2)


def test_drop_needs_feet_to_stay():
    cfg = FallConfig()
    assert drop_evidence(LYING, STANDING, cfg) == 1.0
    walked_away = Box(310, 200, 340, 330)  # smaller and higher in the image: further away
    assert drop_evidence(walked_away, STANDING, cfg) == 0.0
    assert drop_evidence(STANDING, STANDING, cfg) == 0.0


def test_fall_raises_exactly_one_alert_after_persistence_and_resolves_when_up():
    cfg = FallConfig(persistence_s=2.0, clear_s=2.0)
    mon = FallMonitor(cfg, new_id=ids())
    _, events, t = run(mon, secs(2, [det(STANDING)]))
    assert events == []
    # Lying, model says Fall: alert only after the persistence time.
    reports, events, t = run(mon, secs(1.5, [det(LYING, DetectionClass.FALL, 0.7)]), t)
    assert events == [] and reports[0].state is PersonState.NORMAL and reports[0].seconds_down > 1.0
    reports, events, t = run(mon, secs(10, [det(LYING, DetectionClass.FALL, 0.7)]), t)
    assert [e.change for e in events] == [AlertChange.RAISED]
    assert events[0].incident_id == "incident-1" and events[0].track_id == 1
    assert 2.0 <= events[0].seconds_down < 2.2
    assert reports[0].state is PersonState.FALLEN and reports[0].incident_id == "incident-1"
    assert mon.open_incidents == {"incident-1": 1}
    # Up again: resolved once, after clear_s.
    reports, events, t = run(mon, secs(1.5, [det(STANDING)]), t)
    assert events == [] and reports[0].state is PersonState.FALLEN
    reports, events, t = run(mon, secs(5, [det(STANDING)]), t)
    assert [(e.change, e.incident_id) for e in events] == [(AlertChange.RESOLVED, "incident-1")]
    assert reports[0].state is PersonState.NORMAL and mon.open_incidents == {}


def test_flicker_between_classes_does_not_storm():
    """The model alternating Fall/Normal on a lying person: one alert, never resolved by flicker."""
    mon = FallMonitor(FallConfig(), new_id=ids())
    _, _, t = run(mon, secs(2, [det(STANDING)]))
    flicker = [[det(LYING, DetectionClass.FALL if k % 3 else DetectionClass.PERSON, 0.7)] for k in range(300)]
    _, events, _ = run(mon, flicker, t)
    assert [e.change for e in events] == [AlertChange.RAISED]


def test_brief_bend_below_persistence_raises_nothing():
    mon = FallMonitor(FallConfig(persistence_s=2.0), new_id=ids())
    frames = secs(2, [det(STANDING)]) + secs(1.0, [det(LYING, DetectionClass.FALL, 0.8)]) + secs(3, [det(STANDING)])
    _, events, _ = run(mon, frames * 3)
    assert events == []


def test_drop_and_shape_alert_even_when_the_model_says_normal():
    # The model may call a lying person Normal at low resolution; the box fell on the spot.
    mon = FallMonitor(FallConfig(), new_id=ids())
    frames = secs(2, [det(STANDING)]) + secs(6, [det(LYING, DetectionClass.PERSON, 0.5)])
    _, events, _ = run(mon, frames)
    assert [e.change for e in events] == [AlertChange.RAISED]


def test_lying_from_the_start_with_fall_class_alerts():
    mon = FallMonitor(FallConfig(), new_id=ids())
    _, events, _ = run(mon, secs(4, [det(LYING, DetectionClass.FALL, 0.6)]))
    assert [e.change for e in events] == [AlertChange.RAISED]


def test_two_people_get_separate_incidents():
    mon = FallMonitor(FallConfig(), new_id=ids())
    other_lying = Box(20, 300, 200, 380)
    frames = secs(4, [det(LYING, DetectionClass.FALL, 0.7, tid=1), det(other_lying, DetectionClass.FALL, 0.7, tid=2)])
    _, events, _ = run(mon, frames)
    assert sorted((e.track_id, e.incident_id) for e in events) == [(1, "incident-1"), (2, "incident-2")]


def test_new_track_id_where_a_fallen_person_lay_takes_over_the_incident():
    mon = FallMonitor(FallConfig(lost_track_s=10.0), new_id=ids())
    _, events, t = run(mon, secs(4, [det(LYING, DetectionClass.FALL, 0.7, tid=1)]))
    assert len(events) == 1
    _, events, t = run(mon, secs(1, []), t)  # occluded: no detection
    moved = Box(205, 332, 445, 412)
    reports, events, t = run(mon, secs(4, [det(moved, DetectionClass.FALL, 0.7, tid=7)]), t)
    assert events == []  # no second alert for the same incident
    assert reports[0].state is PersonState.FALLEN and reports[0].incident_id == "incident-1"
    _, events, _ = run(mon, secs(4, [det(STANDING, tid=7)]), t)
    assert [(e.change, e.incident_id, e.track_id) for e in events] == [(AlertChange.RESOLVED, "incident-1", 7)]


def test_getting_up_under_a_new_track_id_resolves_the_incident():
    mon = FallMonitor(FallConfig(clear_s=2.0), new_id=ids())
    _, events, t = run(mon, secs(2, [det(STANDING, tid=1)]) + secs(4, [det(LYING, DetectionClass.FALL, 0.7, tid=1)]))
    assert [e.change for e in events] == [AlertChange.RAISED]
    reports, events, t = run(mon, secs(1, [det(STANDING, tid=2)]), t)  # tracker gave a new id on rising
    assert events == [] and reports[0].state is PersonState.FALLEN
    _, events, _ = run(mon, secs(2, [det(STANDING, tid=2)]), t)
    assert [(e.change, e.incident_id) for e in events] == [(AlertChange.RESOLVED, "incident-1")]


def test_someone_appearing_elsewhere_does_not_take_over_an_incident():
    mon = FallMonitor(FallConfig(), new_id=ids())
    _, _, t = run(mon, secs(4, [det(LYING, DetectionClass.FALL, 0.7, tid=1)]))
    far = Box(560, 100, 620, 400)
    _, events, _ = run(mon, secs(5, [det(far, tid=2)]), t)
    assert events == [] and mon.open_incidents == {"incident-1": 1}


def _on_floor(detection, x, y):
    return Detection(detection.box, detection.score, detection.label, detection.track_id, floor=(x, y))


def test_after_the_robot_turned_the_same_floor_point_continues_the_incident():
    """The robot (or its head) moved while the fallen person was out of view: the person
    is now somewhere else in the image, but on the same spot of the map."""
    mon = FallMonitor(FallConfig(lost_track_s=10.0), new_id=ids())
    _, events, t = run(mon, secs(4, [_on_floor(det(LYING, DetectionClass.FALL, 0.7, tid=1), 3.0, 4.0)]))
    assert [e.change for e in events] == [AlertChange.RAISED]
    _, _, t = run(mon, secs(2, []), t)                      # turning: nobody in view
    elsewhere_in_image = Box(400, 300, 630, 380)            # no overlap with LYING
    reports, events, _ = run(mon, secs(4, [_on_floor(det(elsewhere_in_image, DetectionClass.FALL, 0.7, tid=5),
                                                     3.3, 4.2)]), t)
    assert events == [] and reports[0].incident_id == "incident-1"


def test_someone_else_at_the_same_image_place_after_the_robot_moved_is_a_new_incident():
    mon = FallMonitor(FallConfig(lost_track_s=10.0), new_id=ids())
    _, _, t = run(mon, secs(4, [_on_floor(det(LYING, DetectionClass.FALL, 0.7, tid=1), 3.0, 4.0)]))
    _, _, t = run(mon, secs(2, []), t)
    _, events, _ = run(mon, secs(4, [_on_floor(det(LYING, DetectionClass.FALL, 0.7, tid=5), 9.0, 1.5)]), t)
    assert [(e.change, e.incident_id) for e in events] == [(AlertChange.RAISED, "incident-2")]
    assert set(mon.open_incidents) == {"incident-1", "incident-2"}


def test_unseen_fallen_person_is_forgotten_but_never_resolved():
    mon = FallMonitor(FallConfig(lost_track_s=3.0), new_id=ids())
    _, events, t = run(mon, secs(4, [det(LYING, DetectionClass.FALL, 0.7)]))
    _, events, _ = run(mon, secs(5, []), t)
    assert [e.change for e in events] == [AlertChange.FORGOTTEN]
    assert mon.open_incidents == {}


def test_untracked_boxes_never_alert():
    mon = FallMonitor(FallConfig(), new_id=ids())
    reports, events, _ = run(mon, secs(5, [det(LYING, DetectionClass.FALL, 0.9, tid=None)]))
    assert events == [] and reports[0].state is PersonState.NORMAL and reports[0].fall_score > 0.5


@pytest.mark.parametrize("bad", [
    dict(fall_threshold=0.3, clear_threshold=0.4),
    dict(model_weight=0, shape_weight=0, drop_weight=0),
    dict(model_weight=-1),
    dict(persistence_s=-1),
    dict(upright_aspect=2.0, lying_aspect=1.0),
    dict(drop_start=0.5, drop_full=0.4),
])
def test_invalid_config_is_rejected(bad):
    with pytest.raises(ValueError):
        FallConfig(**bad).validate()


def test_tracker_reviving_the_old_id_on_rising_resolves_the_incident():
    """ByteTrack may give the fallen person a new id, then revive the pre-fall id when they stand."""
    mon = FallMonitor(FallConfig(clear_s=2.0), new_id=ids())
    frames = secs(2, [det(STANDING, tid=1)]) + secs(4, [det(LYING, DetectionClass.FALL, 0.7, tid=3)])
    _, events, t = run(mon, frames)
    assert [e.change for e in events] == [AlertChange.RAISED]
    _, events, _ = run(mon, secs(3, [det(STANDING, tid=1)]), t)
    assert [(e.change, e.incident_id, e.track_id) for e in events] == [(AlertChange.RESOLVED, "incident-1", 1)]


def test_new_track_id_on_falling_still_sees_the_drop():
    """The tracker starts a new id as the person falls; the drop from the old track's boxes counts."""
    cfg = FallConfig(persistence_s=1.0)
    mon = FallMonitor(cfg, new_id=ids())
    _, _, t = run(mon, secs(2, [det(STANDING, tid=1)]))
    reports, _, _ = run(mon, secs(0.5, [det(LYING, DetectionClass.PERSON, 0.6, tid=2)]), t)
    assert reports[0].fall_score >= cfg.fall_threshold  # shape + drop although the model says Normal
    fresh = FallMonitor(cfg, new_id=ids())
    reports, _, _ = run(fresh, secs(0.5, [det(LYING, DetectionClass.PERSON, 0.6, tid=2)]))
    assert reports[0].fall_score < cfg.fall_threshold   # without the handover there is no drop evidence


def test_two_boxes_on_one_fallen_person_share_one_alert():
    """NMS can leave a nested second box on a lying person: still one incident, one alert."""
    mon = FallMonitor(FallConfig(), new_id=ids())
    nested = Box(230, 350, 400, 410)
    frames = secs(2, [det(STANDING, tid=1)]) + secs(5, [det(LYING, DetectionClass.FALL, 0.7, tid=2),
                                                         det(nested, DetectionClass.FALL, 0.4, tid=3)])
    reports, events, t = run(mon, frames)
    assert [e.change for e in events] == [AlertChange.RAISED]
    assert {r.incident_id for r in reports} == {"incident-1"}
    _, events, _ = run(mon, secs(4, [det(STANDING, tid=1)]), t)
    assert [(e.change, e.incident_id) for e in events] == [(AlertChange.RESOLVED, "incident-1")]
    assert mon.open_incidents == {}


def test_shipped_fusion_model_alone_shape_alone_and_resting():
    cfg = FallConfig()
    # The model's Fall class decides alone when sure (someone lying along the view has an upright box) ...
    assert single_image_state(det(STANDING, DetectionClass.FALL, 0.55), SIZE, cfg)[0] is PersonState.FALLEN
    assert single_image_state(det(STANDING, DetectionClass.FALL, 0.45), SIZE, cfg)[0] is PersonState.NORMAL
    # ... with a lying box from 0.17; a lying box alone (a sofa, a wide group box) never does.
    assert single_image_state(det(LYING, DetectionClass.FALL, 0.3), SIZE, cfg)[0] is PersonState.FALLEN
    assert single_image_state(det(LYING, DetectionClass.PERSON, 0.9), SIZE, cfg)[0] is PersonState.NORMAL
    # On the site's bed or sofa (furniture.py) it is rest, whatever the model says.
    on_bed = replace(det(LYING, DetectionClass.FALL, 0.9), resting_on="bed_101")
    assert single_image_state(on_bed, SIZE, cfg) == (PersonState.NORMAL, 0.0)


# A standing person (upright box, arms out: wider than STANDING) whose legs the model framed again
# as a weak, wide Fall box (seen in dim light, docs/perception.md).
ARMS_OUT = Box(280, 100, 400, 400)          # 120 x 300
LEGS = Box(285, 330, 385, 398)              # 100 x 68, inside ARMS_OUT's lower part: lying-shaped


def test_a_weak_fall_box_on_a_standing_persons_legs_is_not_a_second_person():
    standing, legs = det(ARMS_OUT, tid=1), det(LEGS, DetectionClass.FALL, 0.3, tid=2)
    assert single_image_state(legs, SIZE, FallConfig())[0] is PersonState.FALLEN     # alone it would be
    decided = single_image_states([standing, legs], SIZE, FallConfig())
    assert [(d.box, s) for d, s, _ in decided] == [(ARMS_OUT, PersonState.NORMAL)]
    # in a stream too: the legs' track never alerts
    monitor = FallMonitor(replace(FallConfig(), persistence_s=1.0))
    reports, events, _ = run(monitor, secs(3.0, [standing, legs]))
    assert events == [] and [r.detection.box for r in reports] == [ARMS_OUT]


def test_a_fallen_person_beside_a_standing_one_is_still_fallen():
    standing = det(ARMS_OUT, tid=1)
    beside = det(Box(200, 340, 440, 410), DetectionClass.FALL, 0.3, tid=2)    # reaches far out of the standing box
    sure = det(LEGS, DetectionClass.FALL, 0.7, tid=2)                         # the model is sure: it decides
    for other in (beside, sure):
        states = {d.track_id: s for d, s, _ in single_image_states([standing, other], SIZE, FallConfig())}
        assert states == {1: PersonState.NORMAL, 2: PersonState.FALLEN}, other
    high = det(Box(290, 120, 390, 190), DetectionClass.FALL, 0.3, tid=2)      # at the top of the box: not the legs
    assert len(single_image_states([standing, high], SIZE, FallConfig())) == 2


def test_a_box_whose_top_is_near_the_floor_is_fallen_whatever_its_class():
    # Lying along the view the box is narrow and the model may say Normal; its top under
    # 0.6 m over its feet says the person is down (geometry.near_floor, the camera known).
    along = Detection(Box(280, 260, 360, 330), 0.7, DetectionClass.PERSON, 1)
    assert single_image_state(along, SIZE, FallConfig())[0] is PersonState.NORMAL
    assert single_image_state(replace(along, near_floor=True), SIZE, FallConfig()) == (PersonState.FALLEN, 1.0)
    # on the site's bed, or reaching too high, it is not
    assert single_image_state(replace(along, near_floor=True, resting_on="bed"), SIZE, FallConfig())[1] == 0.0
