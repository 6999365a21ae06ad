"""Pinhole model of the simulated camera (pure: no MuJoCo, so processes that run
torch can use it; MuJoCo and torch's triton clash when loaded in one process)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from carebot.sim.robot import CameraSpec


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @property
    def k(self) -> list[float]:
        """Row-major 3x3 camera matrix (sensor_msgs/CameraInfo.k)."""
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]

    @property
    def p(self) -> list[float]:
        """Row-major 3x4 projection matrix (monocular: no baseline)."""
        return [self.fx, 0.0, self.cx, 0.0, 0.0, self.fy, self.cy, 0.0, 0.0, 0.0, 1.0, 0.0]


def intrinsics(spec: CameraSpec) -> Intrinsics:
    """Pinhole intrinsics of a MuJoCo camera rendered at spec.width x spec.height."""
    fy = (spec.height / 2) / math.tan(math.radians(spec.fovy_deg) / 2)
    return Intrinsics(spec.width, spec.height, fy, fy, (spec.width - 1) / 2, (spec.height - 1) / 2)
