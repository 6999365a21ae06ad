"""Path following for a differential-drive base: pure pursuit with turn-in-place (no ROS)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from carebot.frames import PlanarPose, wrap_angle  # noqa: F401  (wrap_angle: used here, re-exported)


@dataclass(frozen=True)
class PursuitConfig:
    """Units: m, s, rad."""

    lookahead: float = 0.5              # distance to the carrot point on the path
    max_linear: float = 0.5             # m/s (the safety layer may lower it further)
    max_angular: float = 0.8            # rad/s
    linear_accel: float = 0.4           # m/s^2, so the safety layer's ramp rarely has to act
    rotate_threshold: float = 0.8       # rad; larger heading errors turn in place first
    goal_tolerance: float = 0.12        # m
    yaw_tolerance: float = 0.12         # rad
    approach_distance: float = 0.8      # m before the goal where the speed ramps down
    min_linear: float = 0.06            # m/s, slowest approach speed
    yaw_gain: float = 1.5               # rad/s per rad when turning in place

    def validate(self) -> "PursuitConfig":
        for name, value in vars(self).items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"pursuit config {name} must be > 0, got {value!r}")
        return self


@dataclass(frozen=True)
class Track:
    """One control step of the follower."""

    linear: float               # m/s
    angular: float              # rad/s
    remaining: float            # m along the path to the goal
    index: int                  # nearest path point
    arrived: bool               # within the position and heading tolerances


class PurePursuit:
    """Follows one path; call ``step`` with the current pose at the control rate."""

    def __init__(self, path: list[tuple[float, float]], goal_yaw: float | None, config: PursuitConfig | None = None):
        if len(path) < 1:
            raise ValueError("path must have at least one point")
        self.config = (config or PursuitConfig()).validate()
        self.path = np.asarray(path, dtype=float).reshape(-1, 2)
        self.goal_yaw = goal_yaw
        seg = np.hypot(*np.diff(self.path, axis=0).T) if len(self.path) > 1 else np.zeros(0)
        # Distance from each point to the end of the path.
        self._to_end = np.concatenate((np.cumsum(seg[::-1])[::-1], [0.0]))
        self._index = 0
        self._linear = 0.0
        self._position_reached = False

    def remaining(self, x: float, y: float) -> float:
        i = self._nearest(x, y)
        return float(math.hypot(*(self.path[i] - (x, y))) + self._to_end[i])

    def _nearest(self, x: float, y: float) -> int:
        # Search forward only (a window), so a path that passes near itself is not cut short.
        window = self.path[self._index:self._index + 40]
        i = self._index + int(np.argmin(np.hypot(window[:, 0] - x, window[:, 1] - y)))
        return i

    def step(self, x: float, y: float, yaw: float, dt: float, max_speed: float | None = None) -> Track:
        cfg = self.config
        vmax = cfg.max_linear if max_speed is None or max_speed <= 0 else min(cfg.max_linear, max_speed)
        self._index = self._nearest(x, y)
        goal = self.path[-1]
        to_goal = math.hypot(goal[0] - x, goal[1] - y)
        remaining = float(math.hypot(*(self.path[self._index] - (x, y))) + self._to_end[self._index])
        if to_goal <= cfg.goal_tolerance or self._position_reached:
            # Hysteresis: once there, only turn to the goal heading.
            self._position_reached = to_goal <= cfg.goal_tolerance * 2
            self._linear = 0.0
            if self.goal_yaw is None:
                return Track(0.0, 0.0, to_goal, self._index, self._position_reached)
            error = wrap_angle(self.goal_yaw - yaw)
            if abs(error) <= cfg.yaw_tolerance and self._position_reached:
                return Track(0.0, 0.0, to_goal, self._index, True)
            return Track(0.0, _clamp(cfg.yaw_gain * error, cfg.max_angular), to_goal, self._index, False)
        # Carrot: the first path point at least `lookahead` from the robot, past the nearest one.
        ahead = self.path[self._index:]
        dist = np.hypot(ahead[:, 0] - x, ahead[:, 1] - y)
        beyond = np.nonzero(dist >= cfg.lookahead)[0]
        carrot = ahead[beyond[0]] if len(beyond) else goal
        local_x, local_y = PlanarPose(x, y, yaw).from_map(carrot[0], carrot[1])
        heading_error = math.atan2(local_y, local_x)
        if abs(heading_error) > cfg.rotate_threshold:
            self._linear = 0.0
            return Track(0.0, _clamp(cfg.yaw_gain * heading_error, cfg.max_angular), remaining, self._index, False)
        speed = vmax * min(1.0, max(remaining / cfg.approach_distance, 0.0))
        speed = max(speed, cfg.min_linear)
        # Slow into sharp turns: full speed when straight, half at the rotate threshold.
        speed *= 1.0 - 0.5 * abs(heading_error) / cfg.rotate_threshold
        speed = min(speed, self._linear + cfg.linear_accel * max(dt, 0.0))
        lookahead_sq = local_x * local_x + local_y * local_y
        curvature = 2.0 * local_y / max(lookahead_sq, 1e-6)
        angular = speed * curvature
        if abs(angular) > cfg.max_angular:
            speed *= cfg.max_angular / abs(angular)
            angular = _clamp(angular, cfg.max_angular)
        self._linear = speed
        return Track(speed, angular, remaining, self._index, False)


def _clamp(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))
