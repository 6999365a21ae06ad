"""Joint trajectory following for the simulated arm and head (pure logic).

Semantics of ros2_control's joint_trajectory_controller, simplified: a new
trajectory replaces the running one for the joints it names, starting at its
header stamp (or now when the stamp is zero); between points the set-point is
interpolated linearly; the joint tracks the set-point no faster than its URDF
velocity limit and stays inside its position limits. This is what a well-tuned
position controller does, without the tuning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


class TrajectoryError(ValueError):
    """A trajectory that cannot be followed; the message says why."""


@dataclass(frozen=True)
class TrajectoryPoint:
    time: float                      # s from the trajectory start
    positions: tuple[float, ...]


@dataclass(frozen=True)
class Trajectory:
    joints: tuple[str, ...]
    points: tuple[TrajectoryPoint, ...]
    start: float                     # sim time, s

    def setpoint(self, now: float) -> tuple[float, ...] | None:
        """Interpolated positions at ``now``; None before the start."""
        t = now - self.start
        if t < 0:
            return None
        prev_t, prev = 0.0, None
        for point in self.points:
            if t <= point.time:
                if prev is None or point.time <= prev_t:
                    return point.positions
                alpha = (t - prev_t) / (point.time - prev_t)
                return tuple(a + alpha * (b - a) for a, b in zip(prev, point.positions, strict=True))
            prev_t, prev = point.time, point.positions
        return self.points[-1].positions

    @property
    def duration(self) -> float:
        return self.points[-1].time


def make_trajectory(joints: list[str], points: list[tuple[float, list[float]]], start: float,
                    known: set[str]) -> Trajectory:
    """Validate a trajectory (names known, sizes match, times increase, numbers finite)."""
    if not joints:
        raise TrajectoryError("trajectory names no joints")
    unknown = [j for j in joints if j not in known]
    if unknown:
        raise TrajectoryError(f"unknown joints {unknown}; known: {sorted(known)}")
    if len(set(joints)) != len(joints):
        raise TrajectoryError(f"joint names repeat: {joints}")
    if not points:
        raise TrajectoryError("trajectory has no points")
    out, last = [], -1.0
    for i, (time, positions) in enumerate(points):
        if len(positions) != len(joints):
            raise TrajectoryError(f"point {i}: {len(positions)} positions for {len(joints)} joints")
        if not all(math.isfinite(p) for p in positions) or not math.isfinite(time):
            raise TrajectoryError(f"point {i}: positions and time must be finite")
        if time < last or time < 0:
            raise TrajectoryError(f"point {i}: time_from_start {time} s does not increase")
        last = time
        out.append(TrajectoryPoint(float(time), tuple(float(p) for p in positions)))
    return Trajectory(tuple(joints), tuple(out), float(start))


class JointFollower:
    """Joint positions that follow trajectories within velocity and position limits."""

    def __init__(self, limits: dict[str, tuple[float, float, float]]):
        """limits: joint -> (lower, upper, max velocity)."""
        self.limits = dict(limits)
        self.positions = {name: min(max(0.0, lo), hi) for name, (lo, hi, _) in limits.items()}
        self.velocities = {name: 0.0 for name in limits}
        self._active: dict[str, tuple[Trajectory, int]] = {}   # joint -> (trajectory, index in it)

    def accept(self, trajectory: Trajectory) -> None:
        for index, joint in enumerate(trajectory.joints):
            self._active[joint] = (trajectory, index)

    def busy(self, now: float) -> bool:
        """True while a trajectory is running or a joint still moves toward its goal."""
        return any(traj.start + traj.duration > now for traj, _ in self._active.values()) or any(
            abs(v) > 1e-6 for v in self.velocities.values())

    def step(self, now: float, dt: float) -> None:
        setpoints: dict[str, float] = {}
        cache: dict[int, tuple[float, ...] | None] = {}
        for joint, (traj, index) in self._active.items():
            key = id(traj)
            if key not in cache:
                cache[key] = traj.setpoint(now)
            if cache[key] is not None:
                setpoints[joint] = cache[key][index]
        for joint, (lower, upper, vmax) in self.limits.items():
            if joint not in setpoints:
                self.velocities[joint] = 0.0
                continue
            target = min(max(setpoints[joint], lower), upper)
            error = target - self.positions[joint]
            move = max(-vmax * dt, min(vmax * dt, error))
            self.positions[joint] += move
            self.velocities[joint] = move / dt if dt > 0 else 0.0
