"""Fall response state machine: approach slowly, ask, listen, escalate, close on staff ack."""
import math

import pytest

from carebot.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.brain.fall_response import (Answer, FallConfig, FallResponder, FallState, LookAt, Navigate,
                                         PublishAlert, Speak, classify_answer, standoff_goal)


def fall_alert(**kw):
    base = dict(id="fall-1", kind=AlertKind.FALL, severity=Severity.CRITICAL, state=AlertState.RAISED,
                place="lounge", position=(3.0, 2.0, 0.0), message="person down in the lounge")
    base.update(kw)
    return AlertRecord(**base)


def test_no_answer_escalates_after_the_configured_time():
    fr = FallResponder(FallConfig(approach_speed_mps=0.2, answer_timeout_s=15))
    effects = fr.on_fall_alert(fall_alert(), now=0.0, track_id=7)
    assert effects == [Navigate("lounge", (3.0, 2.0, 0.0), 0.2, reply_to="fall")]
    assert fr.state is FallState.APPROACHING
    effects = fr.on_arrived(True, now=20.0)
    assert isinstance(effects[0], LookAt) and isinstance(effects[-1], Speak)
    assert fr.state is FallState.LISTENING
    assert fr.tick(34.0) == []
    effects = fr.tick(35.0)
    alert = next(e.alert for e in effects if isinstance(e, PublishAlert))
    assert alert.id == "fall-1" and alert.state is AlertState.ESCALATED and "no answer" in alert.message
    assert fr.state is FallState.ESCALATED
    assert fr.on_alert_update(alert.with_state(AlertState.ACKNOWLEDGED, handled_by="nurse_li"), 40.0)
    assert fr.state is FallState.CLOSED and not fr.active


@pytest.mark.parametrize("answer", ["Help me, my hip hurts", "No, I can't get up", "救命", "我起不来"])
def test_call_for_help_escalates_at_once(answer):
    fr = FallResponder()
    fr.on_fall_alert(fall_alert(), 0.0)
    fr.on_arrived(True, 10.0)
    effects = fr.on_transcript(answer, 12.0)
    assert any(isinstance(e, PublishAlert) and e.alert.state is AlertState.ESCALATED for e in effects)


def test_fine_answer_waits_for_staff_without_escalating():
    fr = FallResponder(FallConfig(answer_timeout_s=5))
    fr.on_fall_alert(fall_alert(), 0.0)
    fr.on_arrived(True, 10.0)
    effects = fr.on_transcript("I'm fine, thank you", 11.0)
    assert fr.state is FallState.WAITING_STAFF and not any(isinstance(e, PublishAlert) for e in effects)
    assert fr.tick(100.0) == []
    fr.on_alert_update(fall_alert(state=AlertState.RESOLVED), 120.0)
    assert fr.state is FallState.CLOSED


def test_unclear_answer_asks_again_then_escalates():
    fr = FallResponder(FallConfig(max_questions=2))
    fr.on_fall_alert(fall_alert(), 0.0)
    fr.on_arrived(True, 1.0)
    assert isinstance(fr.on_transcript("the weather is nice", 2.0)[0], Speak)
    effects = fr.on_transcript("hmm", 3.0)
    assert any(isinstance(e, PublishAlert) for e in effects)


def test_navigation_failure_and_arrival_timeout_escalate():
    fr = FallResponder()
    fr.on_fall_alert(fall_alert(), 0.0)
    assert any(isinstance(e, PublishAlert) for e in fr.on_arrived(False, 5.0))
    fr2 = FallResponder(FallConfig(arrive_timeout_s=30))
    fr2.on_fall_alert(fall_alert(id="fall-2"), 0.0)
    assert any(isinstance(e, PublishAlert) for e in fr2.tick(31.0))


def test_other_alerts_and_other_incidents_are_ignored():
    fr = FallResponder()
    assert fr.on_fall_alert(fall_alert(kind=AlertKind.HELP_REQUEST), 0.0) == []
    fr.on_fall_alert(fall_alert(), 0.0)
    assert fr.on_fall_alert(fall_alert(id="fall-9"), 1.0) == []
    assert fr.on_alert_update(fall_alert(id="fall-9", state=AlertState.RESOLVED), 2.0) == []
    assert fr.active


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        FallConfig(approach_speed_mps=1.5)


def test_answer_classifier():
    assert classify_answer("yes I'm okay") is Answer.FINE
    assert classify_answer("我没事") is Answer.FINE
    assert classify_answer("no") is Answer.NEEDS_HELP
    assert classify_answer("my leg hurts") is Answer.NEEDS_HELP
    assert classify_answer("") is Answer.UNCLEAR


def test_standoff_goal_stops_short_of_the_person_facing_them():
    x, y, yaw = standoff_goal((0.0, 0.0), (3.0, 4.0), 1.0)
    assert (round(x, 6), round(y, 6)) == (2.4, 3.2) and abs(yaw - 0.927295) < 1e-5
    assert standoff_goal((0.0, 0.0), (0.5, 0.0), 0.8) is None


def test_a_verdict_given_by_the_caller_is_not_matched_again():
    """The router hands the safety net's verdict down: the phrase rules run once per utterance."""
    assert classify_answer("the weather is nice", distress=True) is Answer.NEEDS_HELP
    assert classify_answer("help me, I fell", distress=False) is Answer.UNCLEAR   # verdict wins
    fr = FallResponder()
    fr.on_fall_alert(fall_alert(), 0.0)
    assert fr.on_transcript("hmm", 1.0, distress=True)[0].alert.state is AlertState.ESCALATED  # while approaching


def test_plan_approach_stops_short_on_the_map_or_falls_back_to_the_place():
    from carebot.brain.fall_response import plan_approach
    from carebot.frames import PlanarPose

    on_map = Navigate("lounge", (3.0, 4.0, 0.0), 0.2, "map", reply_to="fall")
    plan = plan_approach(on_map, PlanarPose(0.0, 0.0, 0.0), standoff_m=1.0)
    assert plan.goal == pytest.approx((2.4, 3.2)) and plan.yaw == pytest.approx(0.927295, abs=1e-5)
    assert plan.person == (3.0, 4.0) and not plan.already_there
    # seen 2 m ahead of a robot facing +y at (1, 1): the person is at (1, 3) on the map
    in_base = Navigate("", (2.0, 0.0, 0.0), 0.2, "base_link", reply_to="fall")
    plan = plan_approach(in_base, PlanarPose(1.0, 1.0, math.pi / 2), standoff_m=0.5)
    assert plan.person == pytest.approx((1.0, 3.0)) and plan.goal == pytest.approx((1.0, 2.5))
    assert plan_approach(in_base, PlanarPose(1.0, 2.8, 0.0), 0.8).already_there is False
    assert plan_approach(on_map, PlanarPose(2.9, 4.0, 0.0), 0.8).already_there
    # no robot pose: a base-frame position cannot be placed; the named place is the goal
    assert plan_approach(Navigate("lounge", (2.0, 0.0, 0.0), 0.2, "base_link"), None, 0.8).place == "lounge"
    nowhere = plan_approach(Navigate("", None, 0.2), None, 0.8)
    assert nowhere.goal is None and nowhere.place == "" and not nowhere.already_there
    # a blocked drive close to the person counts as arrived
    plan = plan_approach(on_map, PlanarPose(0.0, 0.0, 0.0), standoff_m=1.0)
    assert plan.arrived(False, (2.0, 3.0), near_m=1.6) and not plan.arrived(False, (0.0, 0.0), near_m=1.6)
