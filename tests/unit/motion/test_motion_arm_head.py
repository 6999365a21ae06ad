"""The arm/head goal supervisor (carebot.motion.arm_head), stepped as arm_head_node steps it."""
import math

import pytest

from carebot.frames import PlanarPose
from carebot.motion.arm_head import GestureRun, LookRun, SeenPerson, look_target, start_refusal


def test_start_refusals_in_order():
    assert start_refusal(True, False, False) == "emergency stop engaged: reset it first"
    assert "robot/status" in start_refusal(False, False, True)
    assert start_refusal(False, True, False, "head") == "no joint_states: cannot move or check the head"
    assert start_refusal(False, True, True) == ""


def test_gesture_succeeds_when_time_is_up_and_joints_are_there():
    run = GestureRun({"a": 1.0, "b": -0.5}, duration=2.0, tolerance=0.05, settle_timeout=3.0, started=10.0)
    early = run.step(11.0, {"a": 1.0, "b": -0.5})
    assert not early.done and early.feedback == pytest.approx(0.5)      # on target, but not yet its time
    late = run.step(12.5, {"a": 0.9, "b": -0.5})
    assert not late.done and late.error == pytest.approx(0.1)
    done = run.step(13.0, {"a": 0.98, "b": -0.49})
    assert done.done and done.success and done.feedback == 1.0


def test_gesture_times_out_and_is_interrupted():
    run = GestureRun({"a": 1.0}, duration=2.0, tolerance=0.05, settle_timeout=3.0, started=0.0)
    slow = run.step(5.1, {"a": 0.5})
    assert slow.done and not slow.success and "joint error 0.500" in slow.message
    assert run.step(1.0, {}, cancel_requested=True) == run.step(1.0, {}, cancel_requested=True)
    canceled = run.step(1.0, {"a": 0.0}, cancel_requested=True)
    assert canceled.done and canceled.canceled and canceled.hold and not canceled.success
    assert run.step(1.0, {"a": 0.0}, preempted=True).message == "preempted by a new gesture"
    assert run.step(1.0, {"a": 0.0}, estop=True).message == "emergency stop engaged"
    assert math.isinf(run.step(1.0, {}).error)                      # a joint not reported: not reached


def test_look_at_a_point_and_follow_a_person():
    point = LookRun(tracking=False, follow_s=0.0, tolerance=0.05, timeout=6.0, started=0.0)
    assert point.aim_due(0.0)
    point.aimed(0.0)
    assert not point.aim_due(1.0)                                   # a point is aimed at once
    assert point.step(0.5, error=0.2, reach_error=0.0).done is False
    assert point.step(1.0, error=0.04, reach_error=0.0).success
    out_of_range = point.step(6.5, error=0.6, reach_error=0.5)
    assert out_of_range.done and "outside the head's range" in out_of_range.message
    follow = LookRun(tracking=True, follow_s=5.0, tolerance=0.05, timeout=6.0, started=0.0, retarget_s=0.3)
    follow.aimed(0.0)
    assert not follow.aim_due(0.2) and follow.aim_due(0.3)         # re-aimed at the person as they move
    assert not follow.step(2.0, error=0.01, reach_error=0.0).done  # following for 5 s
    assert follow.step(5.0, error=0.09, reach_error=0.0).success   # some lag allowed at the end
    assert LookRun(True, float("nan"), 0.05, 6.0, 0.0).follow_s == 0.0


def test_look_targets_from_people_and_frames():
    people = {3: SeenPerson(2.0, 0.5, fallen=False), 4: SeenPerson(1.0, 0.0, fallen=True)}
    target, _ = look_target(3, people, "base_link", (0, 0, 0), "", None, 1.5, 0.2)
    assert list(target) == [2.0, 0.5, 1.5]
    assert look_target(4, people, "base_link", (0, 0, 0), "", None, 1.5, 0.2)[0][2] == 0.2
    assert look_target(5, people, "base_link", (0, 0, 0), "", None, 1.5, 0.2) == (None, "person 5 not seen")
    assert look_target(3, None, "base_link", (0, 0, 0), "", None, 1.5, 0.2)[0] is None   # detections stale
    assert "expected a base frame" in look_target(3, people, "map", (0, 0, 0), "", None, 1.5, 0.2)[1]
    assert list(look_target(-1, None, "", (1.0, 0.0, 1.0), "base_link", None, 1.5, 0.2)[0]) == [1.0, 0.0, 1.08]
    on_map, _ = look_target(-1, None, "", (2.0, 3.0, 1.0), "map", PlanarPose(2.0, 1.0, math.pi / 2), 1.5, 0.2)
    assert on_map == pytest.approx([2.0, 0.0, 1.0])                 # 2 m straight ahead of the robot
    assert "no odometry" in look_target(-1, None, "", (2.0, 3.0, 1.0), "map", None, 1.5, 0.2)[1]
    assert "not supported" in look_target(-1, None, "", (1.0, 0.0, 0.0), "odom", None, 1.5, 0.2)[1]
    assert "not finite" in look_target(-1, None, "", (math.nan, 0.0, 0.0), "map", None, 1.5, 0.2)[1]
