"""Map-frame poses at an image's time: interpolation, holes, new streams, bad input."""
import math

import pytest

from carebot.perception.pose_history import PlanarPose, PoseHistory


def test_a_point_ahead_of_a_robot_facing_north_lies_north_of_it():
    x, y = PlanarPose(2.0, 3.0, math.pi / 2).to_map(1.5, 0.0)
    z = 0.1
    assert (x, y, z) == pytest.approx((2.0, 4.5, 0.1))


def test_a_point_to_the_left_of_a_robot_facing_west_lies_south_of_it():
    x, y = PlanarPose(0.0, 0.0, math.pi).to_map(0.0, 1.0)
    assert (x, y) == pytest.approx((0.0, -1.0))


def test_poses_between_samples_are_interpolated():
    history = PoseHistory()
    history.add(10.0, PlanarPose(0.0, 0.0, 0.0))
    history.add(10.2, PlanarPose(0.2, 0.0, 0.4))
    pose = history.at(10.05)
    assert (pose.x, pose.y, pose.theta) == pytest.approx((0.05, 0.0, 0.1))


def test_heading_interpolates_the_short_way_across_pi():
    history = PoseHistory()
    history.add(0.0, PlanarPose(0.0, 0.0, 3.0))
    history.add(0.2, PlanarPose(0.0, 0.0, -3.0))   # turned 0.28 rad left, through pi
    theta = history.at(0.1).theta
    assert abs(abs(theta) - math.pi) < 0.01


def test_no_pose_is_invented_for_a_time_far_from_every_sample():
    history = PoseHistory(max_gap_s=0.5)
    assert history.at(1.0) is None                     # nothing heard yet
    history.add(1.0, PlanarPose(1.0, 0.0, 0.0))
    history.add(5.0, PlanarPose(5.0, 0.0, 0.0))
    assert history.at(3.0) is None                     # a 4 s hole in the odometry
    assert history.at(0.0) is None and history.at(6.0) is None
    assert history.at(1.3).x == 1.0                    # near one side of the hole: that side
    assert history.at(4.8).x == 5.0
    assert history.at(5.4).x == 5.0                    # slightly newer than the last pose


def test_old_poses_are_forgotten_and_a_stamp_going_back_starts_a_new_stream():
    history = PoseHistory(span_s=1.0)
    for i in range(30):
        history.add(i * 0.1, PlanarPose(float(i), 0.0, 0.0))
    assert len(history) <= 11 and history.at(0.5) is None
    history.add(0.0, PlanarPose(-7.0, 0.0, 0.0))       # simulation restarted
    assert len(history) == 1 and history.at(0.0).x == -7.0


def test_non_finite_poses_are_refused_and_change_nothing():
    history = PoseHistory()
    history.add(1.0, PlanarPose(1.0, 2.0, 0.0))
    assert not history.add(1.1, PlanarPose(math.nan, 2.0, 0.0))
    assert not history.add(math.inf, PlanarPose(1.0, 2.0, 0.0))
    assert len(history) == 1 and history.at(math.nan) is None


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        PoseHistory(span_s=0.0)
    with pytest.raises(ValueError):
        PoseHistory(max_gap_s=-1.0)
