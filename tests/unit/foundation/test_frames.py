"""Planar frames and message parts every role shares (carebot.frames)."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from carebot.frames import PlanarPose, fill_stamp, quaternion_of_yaw, set_yaw, split_s, stamp_to_s, wrap_angle, yaw_of


@pytest.mark.parametrize("yaw", [-3.0, -1.2, 0.0, 0.7, 3.1])
def test_yaw_of_inverts_a_rotation_about_z(yaw):
    assert yaw_of(SimpleNamespace(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))) == pytest.approx(yaw)
    q = SimpleNamespace()
    set_yaw(q, yaw)
    assert yaw_of(q) == pytest.approx(yaw)
    assert yaw_of(SimpleNamespace(**dict(zip("xyzw", quaternion_of_yaw(yaw))))) == pytest.approx(yaw)


@pytest.mark.parametrize("angle, wrapped", [(0.0, 0.0), (math.pi, -math.pi), (3 * math.pi / 2, -math.pi / 2),
                                            (-7.0, -7.0 + 2 * math.pi), (2 * math.pi, 0.0)])
def test_wrap_angle_lands_in_minus_pi_to_pi(angle, wrapped):
    assert wrap_angle(angle) == pytest.approx(wrapped)


def test_base_to_map_and_back():
    pose = PlanarPose(2.0, 3.0, math.pi / 2)      # facing +y in the map
    assert pose.to_map(1.5, 0.0) == pytest.approx((2.0, 4.5))    # 1.5 m ahead
    assert pose.to_map(0.0, 1.0) == pytest.approx((1.0, 3.0))    # 1 m to the left
    assert pose.from_map(2.0, 4.5) == pytest.approx((1.5, 0.0))
    rng = np.random.default_rng(3)
    for _ in range(20):
        pose = PlanarPose(*rng.uniform(-5, 5, 2), rng.uniform(-math.pi, math.pi))
        point = tuple(rng.uniform(-3, 3, 2))
        assert pose.from_map(*pose.to_map(*point)) == pytest.approx(point)
        assert pose.points_to_map(np.array([point]))[0] == pytest.approx(pose.to_map(*point))


def test_stamps_round_trip_to_the_nanosecond():
    stamp = fill_stamp(SimpleNamespace(), 12.000000001)
    assert (stamp.sec, stamp.nanosec) == (12, 1)
    assert stamp_to_s(stamp) == pytest.approx(12.000000001)
    assert split_s(-3.0) == (0, 0)          # no negative times on the wire
    assert split_s(1.9999999999) == (2, 0)  # rounding carries into the seconds
