"""Trajectory following: interpolation, velocity and position limits, replacement, validation."""
import math

import pytest

from carebot.sim.trajectory import JointFollower, TrajectoryError, make_trajectory

KNOWN = {"pan", "tilt"}


def _follower():
    return JointFollower({"pan": (-2.0, 2.0, 1.0), "tilt": (-0.5, 0.9, 1.0)})


def _run(follower, start, seconds, dt=0.01):
    t = start
    for _ in range(int(round(seconds / dt))):
        t += dt
        follower.step(t, dt)
    return t


def test_setpoint_interpolates_between_points():
    traj = make_trajectory(["pan"], [(1.0, [0.5]), (2.0, [1.0])], start=10.0, known=KNOWN)
    assert traj.setpoint(9.0) is None
    assert traj.setpoint(10.5) == pytest.approx((0.5,))       # before the first point: go to it
    assert traj.setpoint(11.5) == pytest.approx((0.75,))
    assert traj.setpoint(20.0) == pytest.approx((1.0,))


def test_joint_reaches_goal_within_velocity_limit():
    follower = _follower()
    follower.accept(make_trajectory(["pan", "tilt"], [(0.2, [1.5, 0.3])], start=0.0, known=KNOWN))
    _run(follower, 0.0, 0.5)
    assert follower.positions["pan"] == pytest.approx(0.5, abs=0.011)   # 1 rad/s limit, not 0.2 s
    _run(follower, 0.5, 1.5)
    assert follower.positions["pan"] == pytest.approx(1.5)
    assert follower.positions["tilt"] == pytest.approx(0.3)
    assert not follower.busy(3.0)


def test_position_limits_hold():
    follower = _follower()
    follower.accept(make_trajectory(["tilt"], [(0.1, [3.0])], start=0.0, known=KNOWN))
    _run(follower, 0.0, 3.0)
    assert follower.positions["tilt"] == pytest.approx(0.9)


def test_new_trajectory_replaces_the_old_for_its_joints_only():
    follower = _follower()
    follower.accept(make_trajectory(["pan", "tilt"], [(1.0, [1.0, 0.5])], start=0.0, known=KNOWN))
    t = _run(follower, 0.0, 0.3)
    follower.accept(make_trajectory(["pan"], [(0.5, [-1.0])], start=t, known=KNOWN))
    _run(follower, t, 3.0)
    assert follower.positions["pan"] == pytest.approx(-1.0)
    assert follower.positions["tilt"] == pytest.approx(0.5)


@pytest.mark.parametrize("joints, points, words", [
    (["elbow"], [(1.0, [0.0])], "unknown joints"),
    (["pan"], [], "no points"),
    (["pan", "pan"], [(1.0, [0.0, 0.0])], "repeat"),
    (["pan"], [(1.0, [0.0, 1.0])], "positions for"),
    (["pan"], [(1.0, [math.nan])], "finite"),
    (["pan"], [(2.0, [0.0]), (1.0, [0.0])], "does not increase"),
])
def test_bad_trajectories_are_refused_with_a_reason(joints, points, words):
    with pytest.raises(TrajectoryError, match=words):
        make_trajectory(joints, points, 0.0, KNOWN)
