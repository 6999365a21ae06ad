"""Supervision of arm and head goals (pure, no ROS): start checks, targets, and one step at a time.

``arm_head_node`` steps these the way ``navigator_node`` steps ``Navigator``: it feeds in the
time, the joint positions and what the clients and the e-stop say, and carries out what the
step answers (feedback, a new head trajectory, holding the joints, the result).

- ``start_refusal``: why a goal must not start (e-stop engaged or unknown, no joint data);
- ``GestureRun``: a planned gesture until its joints reach the targets, with a deadline of
  the trajectory's duration plus ``settle_timeout``;
- ``LookRun``: the head toward a point, or following a tracked person (re-aimed every
  ``retarget_s``), until the gaze is on target, or for ``follow_s`` when following;
- ``look_target``: a LookAt goal's target in base_footprint from a person, a base-frame or a
  map-frame point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from carebot.frames import PlanarPose, finite
from carebot.motion.description import BASE_FRAMES

RETARGET_S = 0.3          # s between head re-aims while following a person


@dataclass(frozen=True)
class Step:
    """What the node does after one step of a goal."""

    done: bool                      # the goal ends now (``success``, ``message``)
    success: bool = False
    message: str = ""
    canceled: bool = False          # ended by the client's cancel request
    hold: bool = False              # stop the joints where they are (cancel)
    aim: bool = False               # LookAt: send a new head trajectory toward the target now
    feedback: float = 0.0           # gesture: progress 0..1; look: angle error, rad
    error: float = math.inf         # gesture: largest joint error; look: gaze error, rad


def start_refusal(estop: bool, status_known: bool, joints_ready: bool, what: str = "arm") -> str:
    """Why a goal must not start ('' when it may): checked after waiting for the first data."""
    if estop:
        return "emergency stop engaged: reset it first"
    if not status_known:
        return "no robot/status: the emergency stop state is unknown"
    if not joints_ready:
        return f"no joint_states: cannot move or check the {what}"
    return ""


def _interrupted(cancel_requested: bool, preempted: bool, estop: bool, what: str) -> Step | None:
    if cancel_requested:
        return Step(True, message="canceled", canceled=True, hold=True)
    if preempted:
        return Step(True, message=f"preempted by a new {what}")
    if estop:
        return Step(True, message="emergency stop engaged")
    return None


class GestureRun:
    """One gesture: done when the trajectory's time is up and every joint is within ``tolerance``."""

    def __init__(self, targets: dict[str, float], duration: float, tolerance: float, settle_timeout: float,
                 started: float):
        self.targets, self.duration, self.tolerance = targets, duration, tolerance
        self.started = started
        self.deadline = started + duration + settle_timeout

    def step(self, now: float, joints: dict[str, float], cancel_requested: bool = False, preempted: bool = False,
             estop: bool = False) -> Step:
        stop = _interrupted(cancel_requested, preempted, estop, "gesture")
        if stop is not None:
            return stop
        elapsed = now - self.started
        error = max((abs(joints.get(n, math.inf) - q) for n, q in self.targets.items()), default=0.0)
        progress = float(min(elapsed / max(self.duration, 1e-3), 1.0))
        if elapsed >= self.duration and error <= self.tolerance:
            return Step(True, True, feedback=progress, error=error)
        if now > self.deadline:
            return Step(True, message=f"target not reached in time: joint error {error:.3f} rad", error=error)
        return Step(False, feedback=progress, error=error)


class LookRun:
    """One LookAt: a point (``tracking`` False) or a person followed for ``follow_s`` (0: until on target)."""

    def __init__(self, tracking: bool, follow_s: float, tolerance: float, timeout: float, started: float,
                 retarget_s: float = RETARGET_S):
        self.tracking, self.tolerance, self.started = tracking, tolerance, started
        self.follow_s = follow_s if math.isfinite(follow_s) and follow_s > 0 else 0.0
        self.deadline = started + self.follow_s + timeout
        self.retarget_s = retarget_s
        self._last_aim: float | None = None

    def aim_due(self, now: float) -> bool:
        """Send a head trajectory now: the first aim, then every ``retarget_s`` while following."""
        return self._last_aim is None or (self.tracking and now - self._last_aim >= self.retarget_s)

    def aimed(self, now: float) -> None:
        self._last_aim = now

    def step(self, now: float, error: float, reach_error: float, cancel_requested: bool = False,
             preempted: bool = False, estop: bool = False) -> Step:
        stop = _interrupted(cancel_requested, preempted, estop, "look-at")
        if stop is not None:
            return stop
        if self.follow_s == 0.0 and error <= self.tolerance:
            return Step(True, True, feedback=error, error=error)
        if self.follow_s > 0.0 and now - self.started >= self.follow_s and error <= self.tolerance * 2:
            return Step(True, True, feedback=error, error=error)       # a moving person: allow some lag
        if now > self.deadline:
            why = "target outside the head's range" if reach_error > self.tolerance else "too slow"
            return Step(True, message=f"gaze {math.degrees(error):.0f} deg off target ({why})", error=error)
        return Step(False, feedback=error, error=error)


@dataclass(frozen=True)
class SeenPerson:
    x: float                 # m, in the persons' frame
    y: float
    fallen: bool


def look_target(track_id: int, persons: dict[int, SeenPerson] | None, persons_frame: str,
                point: tuple[float, float, float], point_frame: str, pose: PlanarPose | None,
                person_height: float, fallen_height: float) -> tuple[np.ndarray | None, str]:
    """The target in base_footprint, or None and why. ``persons`` None: no fresh detections."""
    if track_id >= 0:
        person = (persons or {}).get(track_id)
        if person is None:
            return None, f"person {track_id} not seen"
        if persons_frame not in BASE_FRAMES:
            return None, f"persons are in frame {persons_frame!r}, expected a base frame"
        return np.array([person.x, person.y, fallen_height if person.fallen else person_height]), ""
    if not finite(*point):
        return None, "target point is not finite"
    if point_frame in BASE_FRAMES:
        return np.array([point[0], point[1], point[2] + BASE_FRAMES[point_frame]]), ""
    if point_frame == "map":
        if pose is None:
            return None, "map-frame target but no odometry"
        return np.array([*pose.from_map(point[0], point[1]), point[2]]), ""
    return None, f"target frame {point_frame!r} not supported (base_footprint, base_link or map)"
