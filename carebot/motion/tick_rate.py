"""The safety tick's rate: the control rate while the base moves, a slower one at rest (pure).

Each tick of the base safety node wakes a Python executor (~1 ms of CPU in rclpy 7.1) and
publishes a Twist. While a command is followed the tick is the watchdog and runs at the
control rate (20 Hz). A base that has stood still with no command for ``settle_s`` has nothing
to time out: it gets zero commands at the rest rate (5 Hz), which still feeds a base driver's
own command watchdog (typically 0.5 s), and the node's CPU falls with it (docs/budget.md). A
new command switches back at once: the node ticks on it immediately and at the control rate
from then on.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TickRate:
    """Which period the tick timer should have after each tick or command."""

    control_hz: float
    rest_hz: float
    settle_s: float = 1.0          # s of standing still without a command before the rest rate

    def __post_init__(self) -> None:
        if not 0.0 < self.rest_hz <= self.control_hz:
            raise ValueError(f"rest rate {self.rest_hz} Hz must be in (0, control rate {self.control_hz} Hz]")
        self._still_since: float | None = None
        self.resting = False

    @property
    def period_s(self) -> float:
        """The timer period now, in seconds."""
        return 1.0 / (self.rest_hz if self.resting else self.control_hz)

    def after_tick(self, now: float, linear: float, angular: float, following: bool) -> bool:
        """Note one tick's output; True when the period changed (the timer must be set again).

        ``following``: a command source is being followed (its watchdog runs)."""
        if following or linear != 0.0 or angular != 0.0:
            self._still_since = None
            return self._set(False)
        if self._still_since is None:
            self._still_since = now
        return self._set(now - self._still_since >= self.settle_s)

    def on_command(self) -> bool:
        """A command arrived; True when the period changed (back to the control rate)."""
        self._still_since = None
        return self._set(False)

    def _set(self, resting: bool) -> bool:
        changed = resting != self.resting
        self.resting = resting
        return changed
