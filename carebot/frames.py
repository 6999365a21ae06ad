"""Planar frames and the message parts every role converts: angles, quaternions, stamps.

Pure module (no ROS import; message parts are duck-typed). The robot lives on a floor:
a pose is (x, y, theta) and a point moves between the base frame and the map with one
rotation (``PlanarPose.to_map``) and its inverse (``PlanarPose.from_map``). The lidar
(returns on the map), perception (a fallen person on the map) and the brain (a fall
alert in base_link, a place to point at) all use these two, so a sign convention can
only be wrong in one place.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NANO = 1_000_000_000


def wrap_angle(angle: float) -> float:
    """The same angle in [-pi, pi), rad."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def finite(*values: float) -> bool:
    """True when every value is a finite number."""
    return all(math.isfinite(v) for v in values)


def yaw_of(q) -> float:
    """Yaw (rad, left +) of a quaternion with fields x, y, z, w (geometry_msgs/Quaternion)."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def set_yaw(q, yaw: float) -> None:
    """Fill a quaternion (x, y, z, w) with a pure rotation of ``yaw`` rad about z."""
    q.x, q.y, q.z, q.w = 0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)


def quaternion_of_yaw(yaw: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation of ``yaw`` rad about z."""
    return 0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)


def stamp_to_s(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec / NANO


def split_s(seconds: float) -> tuple[int, int]:
    """Seconds -> (sec, nanosec), rounded to whole nanoseconds; negative times become 0."""
    return divmod(int(round(max(0.0, seconds) * NANO)), NANO)


def fill_stamp(stamp, seconds: float):
    """Fill a builtin_interfaces/Time from seconds; returns it."""
    stamp.sec, stamp.nanosec = split_s(seconds)
    return stamp


@dataclass(frozen=True)
class PlanarPose:
    """The base's pose in the map: position in m, heading in rad (left +)."""

    x: float
    y: float
    theta: float

    def is_finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.x, self.y, self.theta))

    def to_map(self, px: float, py: float) -> tuple[float, float]:
        """A point of the base frame in map coordinates."""
        c, s = math.cos(self.theta), math.sin(self.theta)
        return self.x + c * px - s * py, self.y + s * px + c * py

    def from_map(self, mx: float, my: float) -> tuple[float, float]:
        """A point of the map in the base frame (the inverse of ``to_map``)."""
        dx, dy = mx - self.x, my - self.y
        c, s = math.cos(self.theta), math.sin(self.theta)
        return c * dx + s * dy, -s * dx + c * dy

    def points_to_map(self, points) -> np.ndarray:
        """Base-frame points (N, 2) in the map frame (``to_map`` for many)."""
        c, s = math.cos(self.theta), math.sin(self.theta)
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        return np.column_stack((self.x + c * pts[:, 0] - s * pts[:, 1], self.y + s * pts[:, 0] + c * pts[:, 1]))
