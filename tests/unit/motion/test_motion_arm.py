"""Arm and head: Pinocchio IK, trajectories within the URDF limits, gestures, LookAt (no ROS)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from carebot.motion.description import ARM_JOINTS, FOOTPRINT_RADIUS, HEAD_JOINTS, LASER_HEIGHT
from carebot.motion.gestures import (HANDOVER_POINT, REST_ARM, REST_HEAD, GestureError, GesturePlanner)
from carebot.motion.kinematics import TOOL_AXIS, TOOL_FRAME
from carebot.motion.trajectory import JointLimit, Waypoint, build_trajectory

CURRENT = {**{n: 0.0 for n in ARM_JOINTS}, **{n: 0.0 for n in HEAD_JOINTS}}


@pytest.fixture(scope="module")
def planner():
    return GesturePlanner()


def within_limits(planner, traj):
    for p in traj.points:
        for name, q in zip(traj.joint_names, p.positions):
            lim = planner.limits[name]
            assert lim.lower - 1e-9 <= q <= lim.upper + 1e-9, (name, q)
    assert traj.max_velocity_ratio(planner.limits) <= 1.0 + 1e-9
    times = [p.time for p in traj.points]
    assert all(b > a for a, b in zip(times, times[1:]))


def test_ik_reaches_reachable_points_and_fk_agrees(planner):
    kin = planner.kin
    rng = np.random.default_rng(7)
    for _ in range(10):
        # A random pose inside the limits gives a reachable target; IK from the rest pose finds it.
        q = {n: float(rng.uniform(max(kin.limits(n)[0], -1.2), min(kin.limits(n)[1], 1.6))) for n in ARM_JOINTS}
        goal = kin.frame_pose(TOOL_FRAME, q).translation
        result = kin.solve_pose(TOOL_FRAME, goal, seed=REST_ARM)
        assert result.success, (q, result)
        assert np.linalg.norm(kin.frame_pose(TOOL_FRAME, result.q).translation - goal) < 0.01
        for name, value in result.q.items():
            assert kin.limits(name)[0] - 1e-9 <= value <= kin.limits(name)[1] + 1e-9
    far = kin.solve_pose(TOOL_FRAME, (3.0, 0.0, 1.0), seed=REST_ARM)
    assert not far.success and far.error > 1.0


def test_rest_pose_keeps_the_arm_inside_the_footprint_and_above_the_lidar(planner):
    tool = planner.kin.frame_pose(TOOL_FRAME, REST_ARM).translation
    assert math.hypot(tool[0], tool[1]) < FOOTPRINT_RADIUS
    assert tool[2] > LASER_HEIGHT + 0.2


@pytest.mark.parametrize("name", ["wave", "nod", "handover", "rest"])
def test_gestures_stay_within_limits(planner, name):
    plan = planner.plan(name, CURRENT)
    for traj in (plan.arm, plan.head):
        if traj is not None:
            within_limits(planner, traj)
    assert 0 < plan.duration < 15


def test_handover_pose_puts_the_open_gripper_forward(planner):
    plan = planner.plan("handover", CURRENT)
    pose = planner.kin.frame_pose(TOOL_FRAME, plan.arm.final)
    assert np.linalg.norm(pose.translation - HANDOVER_POINT) < 0.01
    assert (pose.rotation @ TOOL_AXIS) @ np.array([1.0, 0, 0]) > 0.98
    assert plan.gripper > 0


@pytest.mark.parametrize("target", [(2.0, 0.0, 1.0), (1.5, -1.5, 0.0), (1.0, 1.5, 1.6), (3.0, 0.5, 0.3)])
def test_point_aims_the_gripper_at_the_target(planner, target):
    plan = planner.plan("point", CURRENT, target)
    within_limits(planner, plan.arm)
    assert planner.kin.aim_error(TOOL_FRAME, TOOL_AXIS, target, plan.arm.final) < math.radians(3)


def test_point_behind_and_bad_names_fail_clearly(planner):
    with pytest.raises(GestureError, match="cannot point"):
        planner.plan("point", CURRENT, (-2.0, 0.0, 1.0))
    with pytest.raises(GestureError, match="finite"):
        planner.plan("point", CURRENT, (float("nan"), 0.0, 1.0))
    with pytest.raises(GestureError, match="unknown gesture"):
        planner.plan("dance", CURRENT)


@pytest.mark.parametrize("target", [(2.0, 1.0, 1.5), (1.0, -0.5, 0.0), (3.0, 0.0, 1.3), (0.8, 1.2, 0.5)])
def test_look_at_turns_the_camera_to_the_point(planner, target):
    traj, goal, error = planner.look_at(target, {**REST_HEAD})
    within_limits(planner, traj)
    assert error < 0.01
    assert planner.head_error(target, goal) < 0.01
    # The head turns the right way: left targets pan left, low targets tilt down.
    assert math.copysign(1, goal["head_pan_joint"]) == math.copysign(1, target[1]) or abs(target[1]) < 0.1
    assert (goal["head_tilt_joint"] > 0) == (target[2] < 1.3)


def test_trajectory_clamps_targets_and_times_segments_by_velocity():
    limits = {"a": JointLimit(-1.0, 1.0, 0.5), "b": JointLimit(-3.0, 3.0, 2.0)}
    traj = build_trajectory(("a", "b"), {"a": 0.0, "b": 0.0}, [Waypoint({"a": 5.0, "b": 1.0}, hold=0.5)], limits,
                            speed_scale=1.0)
    assert traj.final["a"] == 1.0 and traj.final["b"] == 1.0
    assert traj.duration == pytest.approx(1.875 * 1.0 / 0.5 + 0.5, rel=1e-6)
    assert traj.max_velocity_ratio(limits) <= 1.0 + 1e-9
    with pytest.raises(KeyError):
        build_trajectory(("a",), {}, [Waypoint({"c": 1.0})], limits)
