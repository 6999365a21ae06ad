"""Replay timing, without ROS: bag time against wall time at a rate, with pauses.

``ros2 bag play --rate R`` publishes a message recorded at bag time t at wall time
``start + (t - t0) / R``. carebot's player adds one thing rosbag2 does not have: a pause
while a node answers (``--sync camera/image_raw=perception/persons``), during which bag
time, and the /clock published from it, stand still. That is how the simulation runs
perception in lockstep (docs/sim.md), so a recording replays into a slow CPU with the
same frames seen at the same sim times as when it was made.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PlaybackClock:
    """Maps bag nanoseconds to wall seconds (time.monotonic) and back."""

    rate: float
    bag_origin_ns: int
    wall_origin_s: float
    paused_at_s: float | None = None

    def __post_init__(self):
        if not self.rate > 0:
            raise ValueError(f"rate must be above 0, got {self.rate!r}")

    def wall_for(self, bag_ns: int) -> float:
        """The wall time at which a message of bag time ``bag_ns`` is due."""
        return self.wall_origin_s + (bag_ns - self.bag_origin_ns) / 1e9 / self.rate

    def bag_at(self, wall_s: float) -> int:
        """Bag time at ``wall_s`` (frozen while paused)."""
        if self.paused_at_s is not None:
            wall_s = min(wall_s, self.paused_at_s)
        return self.bag_origin_ns + int(round((wall_s - self.wall_origin_s) * self.rate * 1e9))

    def pause(self, wall_s: float) -> None:
        if self.paused_at_s is None:
            self.paused_at_s = wall_s

    def resume(self, wall_s: float) -> None:
        """Continue; everything still to come is due later by the length of the pause."""
        if self.paused_at_s is not None:
            self.wall_origin_s += wall_s - self.paused_at_s
            self.paused_at_s = None


def parse_sync(text: str) -> tuple[str, str]:
    """'camera/image_raw=perception/persons' -> (trigger, reply); ValueError otherwise."""
    trigger, sep, reply = text.partition("=")
    if not sep or not trigger.strip() or not reply.strip():
        raise ValueError(f"--sync wants TRIGGER=REPLY (e.g. camera/image_raw=perception/persons), got {text!r}")
    return trigger.strip(), reply.strip()
