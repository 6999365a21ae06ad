"""Joint trajectories within the URDF limits (no ROS).

Waypoints are joined by minimum-jerk segments (zero velocity and acceleration at each
waypoint). A segment lasts long enough that no joint's peak velocity (1.875 x the mean
for minimum jerk) exceeds ``speed_scale`` x its URDF velocity limit; positions are
clamped into the position limits before anything is timed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_JERK_PEAK = 1.875           # peak / mean velocity of a minimum-jerk move
MIN_SEGMENT = 0.4               # s, shortest move (gentle even for tiny steps)
SAMPLE_DT = 0.1                 # s between published trajectory points


@dataclass(frozen=True)
class JointLimit:
    lower: float
    upper: float
    velocity: float


@dataclass(frozen=True)
class Waypoint:
    positions: dict[str, float]     # joints not named keep their previous position
    hold: float = 0.0               # s to stay after arriving


@dataclass(frozen=True)
class TrajectoryPoint:
    time: float                     # s from the start
    positions: tuple[float, ...]
    velocities: tuple[float, ...]


@dataclass(frozen=True)
class Trajectory:
    joint_names: tuple[str, ...]
    points: tuple[TrajectoryPoint, ...]

    @property
    def duration(self) -> float:
        return self.points[-1].time if self.points else 0.0

    @property
    def final(self) -> dict[str, float]:
        return dict(zip(self.joint_names, self.points[-1].positions)) if self.points else {}

    def max_velocity_ratio(self, limits: dict[str, JointLimit]) -> float:
        """Largest |velocity| / limit over all points and joints (<= 1 when within limits)."""
        ratio = 0.0
        for p in self.points:
            for name, v in zip(self.joint_names, p.velocities):
                ratio = max(ratio, abs(v) / limits[name].velocity)
        return ratio


def segment_duration(q0: np.ndarray, q1: np.ndarray, vmax: np.ndarray, speed_scale: float) -> float:
    """Shortest minimum-jerk duration (s) keeping every joint under speed_scale x vmax."""
    need = MIN_JERK_PEAK * np.abs(q1 - q0) / (vmax * speed_scale)
    return float(max(np.max(need) if len(need) else 0.0, MIN_SEGMENT))


def build_trajectory(joint_names, start: dict[str, float], waypoints: list[Waypoint],
                     limits: dict[str, JointLimit], speed_scale: float = 0.6,
                     sample_dt: float = SAMPLE_DT) -> Trajectory:
    """Sampled trajectory from ``start`` through ``waypoints`` for ``joint_names``."""
    if not 0 < speed_scale <= 1:
        raise ValueError("speed_scale must be in (0, 1]")
    names = tuple(joint_names)
    lo = np.array([limits[n].lower for n in names])
    hi = np.array([limits[n].upper for n in names])
    vmax = np.array([limits[n].velocity for n in names])
    q = np.clip(np.array([float(start.get(n, 0.0)) for n in names]), lo, hi)
    points = [TrajectoryPoint(0.0, tuple(q), tuple(np.zeros(len(names))))]
    t = 0.0
    for wp in waypoints:
        unknown = set(wp.positions) - set(names)
        if unknown:
            raise KeyError(f"waypoint names joints not in this trajectory: {sorted(unknown)}")
        target = q.copy()
        for i, n in enumerate(names):
            if n in wp.positions:
                target[i] = wp.positions[n]
        target = np.clip(target, lo, hi)
        duration = segment_duration(q, target, vmax, speed_scale)
        steps = max(int(np.ceil(duration / sample_dt)), 1)
        for k in range(1, steps + 1):
            s = k / steps
            blend = 10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5
            rate = (30 * s ** 2 - 60 * s ** 3 + 30 * s ** 4) / duration
            points.append(TrajectoryPoint(t + s * duration, tuple(q + blend * (target - q)),
                                          tuple(rate * (target - q))))
        t += duration
        q = target
        if wp.hold > 0:
            t += wp.hold
            points.append(TrajectoryPoint(t, tuple(q), tuple(np.zeros(len(names)))))
    return Trajectory(names, tuple(points))
