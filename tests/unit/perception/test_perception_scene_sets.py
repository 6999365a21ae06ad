"""The varied labelled sets (dev / held-out) and the merge of two looks: no model here."""
from __future__ import annotations

import numpy as np

from carebot.perception import scene_sets as ss
from carebot.perception.detection import Box, Detection, DetectionClass
from carebot.perception.detector import merge_looks, needs_second_look
from carebot.perception.scenes import Truth


def test_every_condition_is_made_deterministically_with_its_truth():
    a = ss.image_set(ss.Part.DEV, 1)
    b = ss.image_set(ss.Part.DEV, 1)
    assert [i.condition for i in a] == list(ss.Condition)
    for x, y in zip(a, b):
        assert np.array_equal(x.image, y.image) and x.boxes == y.boxes
        assert x.image.shape == (ss.FRAME_H, ss.FRAME_W, 3)
        if x.condition is ss.Condition.EMPTY:
            assert x.truth is Truth.NONE and not x.boxes
        else:
            assert x.boxes, x.name   # the person is visible
    assert {i.condition for i in a if i.truth is Truth.FALLEN} == set(ss.FALL_CONDITIONS)


def test_held_out_images_differ_from_dev_and_use_their_own_floors_and_person():
    dev = ss.image_set(ss.Part.DEV, 2, (ss.Condition.ACROSS,))
    held = ss.image_set(ss.Part.HELDOUT, 2, (ss.Condition.ACROSS,))
    assert not any(np.array_equal(d.image, h.image) for d in dev for h in held)
    assert not set(ss.DEV_FLOORS) & set(ss.HELDOUT_FLOORS)
    assert not set(ss.HELDOUT_SOURCES) & set(ss._context(ss.Part.DEV, 0).full)
    assert set(ss.HELDOUT_SOURCES) <= set(ss._context(ss.Part.HELDOUT, 0).full)


def test_dim_images_are_dark_and_lying_boxes_are_wide():
    dims = ss.image_set(ss.Part.DEV, 4, (ss.Condition.DIM, ss.Condition.UPRIGHT))
    dark = [i.image.mean() for i in dims if i.condition is ss.Condition.DIM]
    assert max(dark) < 60
    across = ss.image_set(ss.Part.DEV, 4, (ss.Condition.ACROSS,))
    for im in across:
        x1, y1, x2, y2 = im.boxes[0]
        assert (x2 - x1) > (y2 - y1), im.name


def test_bed_and_sofa_images_carry_their_furniture_and_the_camera():
    for im in ss.image_set(ss.Part.DEV, 4, (ss.Condition.BED_SOFA,)):
        assert any(f.name in ("bed", "sofa") for f in im.furniture)
        u, v = im.view.project(4.0, 0.0, 0.0)
        assert 0 <= u <= ss.FRAME_W and v > ss.FRAME_H / 2   # the floor 4 m ahead is below the middle


def test_sequences_have_a_truth_timeline():
    seq = ss.sequence(ss.Part.DEV, ss.SeqMotion.FALL_ALONG, 0, fps=2.0, lie_s=2.0)
    assert seq.motion.is_fall and seq.fall_at < seq.up_at < seq.frames[-1][0]
    assert not ss.SeqMotion.LIE_DOWN.is_fall


def det(label, score, box, tid=None):
    return Detection(Box(*box), score, label, tid)


def test_second_look_only_for_lying_or_fall_boxes_or_nobody():
    upright = det(DetectionClass.PERSON, 0.8, (100, 50, 160, 250))
    assert not needs_second_look([upright])
    assert needs_second_look([])
    assert needs_second_look([det(DetectionClass.PERSON, 0.8, (100, 200, 300, 260))])
    assert needs_second_look([upright, det(DetectionClass.FALL, 0.4, (300, 50, 350, 250))])


def test_merge_keeps_the_primary_box_and_id_and_takes_the_strongest_fall():
    primary = [det(DetectionClass.PERSON, 0.7, (100, 200, 300, 260), tid=4),
               det(DetectionClass.PERSON, 0.9, (400, 50, 460, 250), tid=5)]
    second = [det(DetectionClass.FALL, 0.55, (105, 198, 296, 262)),
              det(DetectionClass.FALL, 0.35, (500, 300, 600, 340))]
    merged = merge_looks(primary, second)
    assert merged[0].label is DetectionClass.FALL and merged[0].score == 0.55
    assert merged[0].box == primary[0].box and merged[0].track_id == 4
    assert merged[0].fall_box == second[0].box       # the box the Fall was seen in counts for its shape
    assert merged[1] == primary[1]
    assert merged[2] == second[1] and merged[2].track_id is None   # only the second look saw it
    assert len(merged) == 3
