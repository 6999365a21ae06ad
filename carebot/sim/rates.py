"""Timing helpers of the simulation loop (pure): publish schedules and real-time pacing."""
from __future__ import annotations

import collections
import time


class Schedule:
    """Fires every 1/rate seconds of sim time (rate 0: never)."""

    def __init__(self, rate_hz: float, start: float = 0.0):
        self.period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self.next = start

    def due(self, now: float) -> bool:
        if self.period <= 0 or now + 1e-9 < self.next:
            return False
        # Skip missed slots instead of bursting to catch up.
        while self.next <= now + 1e-9:
            self.next += self.period
        return True


class Pacer:
    """Keeps sim time at ``target`` times wall time (0 = as fast as possible); measures the real RTF."""

    MAX_LAG_S = 0.25   # further behind than this: accept it, re-anchor, never burst

    def __init__(self, target: float, window_s: float = 2.0, clock=time.monotonic):
        self.target = target
        self._clock = clock
        self._anchor_wall = clock()
        self._anchor_sim = 0.0
        self._window_s = window_s
        self._samples: collections.deque[tuple[float, float]] = collections.deque()

    def reset(self, sim_time: float) -> None:
        self._anchor_wall, self._anchor_sim = self._clock(), sim_time

    def wait(self, sim_time: float, sleep=time.sleep) -> None:
        """Sleep until wall time catches up with sim_time / target."""
        now = self._clock()
        self._samples.append((now, sim_time))
        while self._samples and now - self._samples[0][0] > self._window_s:
            self._samples.popleft()
        if self.target <= 0:
            return
        due = self._anchor_wall + (sim_time - self._anchor_sim) / self.target
        if due > now:
            sleep(due - now)
        elif now - due > self.MAX_LAG_S:
            self.reset(sim_time)

    @property
    def real_time_factor(self) -> float:
        """Sim seconds per wall second over the last window (0 before two samples)."""
        if len(self._samples) < 2:
            return 0.0
        (w0, s0), (w1, s1) = self._samples[0], self._samples[-1]
        return (s1 - s0) / (w1 - w0) if w1 > w0 else 0.0
