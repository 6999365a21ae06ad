"""Recent robot poses in the map frame, to place what the camera saw where it was then.

Pure module. A fall is decided seconds after the frame that shows it, and the
robot may have turned since: a position in the robot's base frame is only
meaningful together with the robot's pose at the frame's time. The perception
node keeps the map-frame odometry of the last few seconds here and turns a
person's floor point into map coordinates with the pose interpolated at the
image stamp, so staff and the brain see where the person is, not where they were
relative to a robot that has moved on.
"""
from __future__ import annotations

import bisect
import math

from carebot.frames import PlanarPose, wrap_angle as _wrap   # noqa: F401  (PlanarPose: part of this API)


class PoseHistory:
    """Timestamped poses of the last ``span_s`` seconds, interpolated on demand.

    ``at(stamp)`` answers only when a pose lies within ``max_gap_s`` of the stamp
    (across a hole in the odometry only the near side counts): a guess from stale odometry would put the
    person in the wrong room, which is worse than saying "relative to the robot".
    """

    def __init__(self, span_s: float = 5.0, max_gap_s: float = 0.5) -> None:
        if not span_s > 0 or not max_gap_s > 0:
            raise ValueError("span_s and max_gap_s must be > 0")
        self.span_s = span_s
        self.max_gap_s = max_gap_s
        self._stamps: list[float] = []
        self._poses: list[PlanarPose] = []

    def __len__(self) -> int:
        return len(self._stamps)

    def add(self, stamp: float, pose: PlanarPose) -> bool:
        """Keep a pose; False (and nothing kept) for a non-finite one.

        A stamp older than the newest one means a new stream (a restarted
        simulation, a bag played again): the history starts over.
        """
        if not (math.isfinite(stamp) and pose.is_finite()):
            return False
        if self._stamps and stamp < self._stamps[-1]:
            self.clear()
        self._stamps.append(stamp)
        self._poses.append(pose)
        cut = bisect.bisect_left(self._stamps, stamp - self.span_s)
        if cut:
            del self._stamps[:cut], self._poses[:cut]
        return True

    def clear(self) -> None:
        self._stamps.clear()
        self._poses.clear()

    def at(self, stamp: float) -> PlanarPose | None:
        """The pose at ``stamp``, or None when no pose is close enough in time."""
        if not self._stamps or not math.isfinite(stamp):
            return None
        i = bisect.bisect_left(self._stamps, stamp)
        if i < len(self._stamps) and self._stamps[i] == stamp:
            return self._poses[i]
        if i == 0 or i == len(self._stamps):  # before the first or after the last pose
            j = 0 if i == 0 else i - 1
            return self._poses[j] if abs(self._stamps[j] - stamp) <= self.max_gap_s else None
        t0, t1 = self._stamps[i - 1], self._stamps[i]
        a, b = self._poses[i - 1], self._poses[i]
        before_ok, after_ok = stamp - t0 <= self.max_gap_s, t1 - stamp <= self.max_gap_s
        if not (before_ok and after_ok):  # a hole in the odometry: only a near neighbour counts
            return a if before_ok else b if after_ok else None
        f = (stamp - t0) / (t1 - t0)
        return PlanarPose(a.x + f * (b.x - a.x), a.y + f * (b.y - a.y),
                          _wrap(a.theta + f * _wrap(b.theta - a.theta)))
