"""Conversions the nodes share (carebot.motion.ros_common)."""
import math
from types import SimpleNamespace

import pytest

from carebot.motion.ros_common import set_yaw, yaw_of


@pytest.mark.parametrize("yaw", [-3.0, -1.2, 0.0, 0.7, 3.1])
def test_yaw_of_inverts_a_rotation_about_z(yaw):
    assert yaw_of(SimpleNamespace(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))) == pytest.approx(yaw)
    q = SimpleNamespace()
    set_yaw(q, yaw)
    assert yaw_of(q) == pytest.approx(yaw)
