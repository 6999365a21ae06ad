"""The alert outbox: a sender keeps each alert state change until the dashboard has stored it.

Pure logic with explicit time (no rclpy), shared by every alert sender through
``carebot.alert_delivery.AlertSender`` (perception, brain, the ``carebot up``
supervisor). The dashboard owns alert storage; after it has written a state change
to its database (or found that it holds that state or a later one) it publishes a
receipt on ``alerts/stored`` naming the change: alert id, state and the change's
stamp (docs/interfaces.md). Until that receipt arrives the sender re-sends the change
with a growing delay, so an alert raised while the dashboard is down, restarting or
slow is stored once it is back.

Rules, each for a reason:

- A change is identified by (alert id, state, stamp of the change). The stamp tells
  two changes of one incident apart that share a state (perception's "the person is
  up again" update keeps the state RAISED), so an old receipt never settles a newer
  change.
- One pending change per alert id: a newer change of the same incident replaces the
  older pending one, because every Alert message carries the whole incident. The
  outbox therefore grows with open incidents, not with retries or updates.
- Re-sends back off: ``initial_s`` after the first send, doubling to ``max_s``, with
  a little random spread so that several senders do not re-send in step. A sender
  never gives up: an alert that staff never saw is not dropped after N tries.
- Never a flood: at most ``burst`` messages per call of ``due()``; the rest wait for
  the next call. A full outbox (``capacity`` open incidents unconfirmed) drops its
  oldest entry and counts it, rather than growing without bound.
- ``peer_appeared()``: when the dashboard is (re)discovered everything pending is re-sent
  after a short settle time, instead of waiting out a long back-off.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

M = TypeVar("M")

# Defaults, in seconds. The receipt of a stored change normally comes back within
# milliseconds (one SQLite write); 2 s leaves room for a loaded 2-core machine.
INITIAL_RESEND_S = 2.0
RESEND_FACTOR = 2.0
MAX_RESEND_S = 30.0        # a dashboard down for minutes hears each change every 30 s at most
RESEND_JITTER = 0.2        # +-20 % spread of each delay
RESEND_BURST = 20          # messages per due() call (the node calls it twice a second)
OUTBOX_CAPACITY = 500      # open, unconfirmed incidents of one sender
PEER_SETTLE_S = 1.0        # after the dashboard appears: its durable history usually arrives first


@dataclass(frozen=True)
class ChangeKey:
    """Identity of one alert state change: what a receipt on ``alerts/stored`` names."""

    alert_id: str
    state: int
    stamp_ns: int          # header.stamp of the Alert, nanoseconds


@dataclass
class Pending(Generic[M]):
    """One change waiting for its receipt."""

    key: ChangeKey
    message: M
    first_sent: float              # s, the outbox's clock
    next_at: float                 # s, when to re-send
    delay_s: float                 # the current back-off step
    attempts: int = 1              # sends so far, the first included


@dataclass
class OutboxStats:
    sent: int = 0                  # first sends
    resent: int = 0
    confirmed: int = 0
    superseded: int = 0            # replaced by a newer change of the same alert before its receipt
    dropped: int = 0               # pushed out of a full outbox (never expected; logged by the node)


@dataclass
class Outbox(Generic[M]):
    """Changes sent on ``alerts`` and not yet confirmed on ``alerts/stored``.

    Not thread-safe: the node calls it under one lock.
    """

    initial_s: float = INITIAL_RESEND_S
    factor: float = RESEND_FACTOR
    max_s: float = MAX_RESEND_S
    jitter: float = RESEND_JITTER
    burst: int = RESEND_BURST
    capacity: int = OUTBOX_CAPACITY
    rng: Callable[[], float] = random.random    # uniform [0, 1); tests pass a fixed one
    stats: OutboxStats = field(default_factory=OutboxStats)
    _pending: dict[str, Pending[M]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.factor < 1 or self.max_s < self.initial_s:
            raise ValueError("outbox back-off needs initial_s > 0, factor >= 1, max_s >= initial_s")
        if not 0 <= self.jitter < 1 or self.burst < 1 or self.capacity < 1:
            raise ValueError("outbox needs 0 <= jitter < 1, burst >= 1 and capacity >= 1")

    def __len__(self) -> int:
        return len(self._pending)

    def _spread(self, delay_s: float) -> float:
        return delay_s * (1.0 + self.jitter * (2.0 * self.rng() - 1.0))

    def add(self, key: ChangeKey, message: M, now: float) -> list[Pending[M]]:
        """A change the node has just published for the first time; returns entries it
        pushed out of a full outbox (empty unless ``capacity`` was reached)."""
        if key.alert_id in self._pending:
            self.stats.superseded += 1
        self._pending.pop(key.alert_id, None)   # re-inserted last: the dict stays oldest first
        dropped = []
        while len(self._pending) >= self.capacity:
            oldest = next(iter(self._pending))
            dropped.append(self._pending.pop(oldest))
            self.stats.dropped += 1
        self._pending[key.alert_id] = Pending(key, message, first_sent=now,
                                              next_at=now + self._spread(self.initial_s),
                                              delay_s=self.initial_s)
        self.stats.sent += 1
        return dropped

    def confirm(self, key: ChangeKey) -> Pending[M] | None:
        """A receipt heard on ``alerts/stored``; returns the entry it settled, if any.

        Receipts for other senders' alerts, for older changes and repeated receipts
        settle nothing."""
        entry = self._pending.get(key.alert_id)
        if entry is None or entry.key != key:
            return None
        del self._pending[key.alert_id]
        self.stats.confirmed += 1
        return entry

    def due(self, now: float) -> list[M]:
        """Messages to re-send now (at most ``burst``), each rescheduled with back-off."""
        ready = sorted((e for e in self._pending.values() if e.next_at <= now), key=lambda e: e.next_at)
        out = []
        for entry in ready[:self.burst]:
            entry.attempts += 1
            entry.delay_s = min(entry.delay_s * self.factor, self.max_s)
            entry.next_at = now + self._spread(entry.delay_s)
            self.stats.resent += 1
            out.append(entry.message)
        return out

    def peer_appeared(self, now: float, settle_s: float = PEER_SETTLE_S) -> int:
        """The dashboard was (re)discovered: re-send everything pending after ``settle_s``
        and restart the back-off. Returns how many entries are pending."""
        for entry in self._pending.values():
            entry.delay_s = self.initial_s
            entry.next_at = min(entry.next_at, now + settle_s)
        return len(self._pending)

    def pending(self) -> list[Pending[M]]:
        """Oldest first."""
        return list(self._pending.values())

    def oldest_age(self, now: float) -> float:
        """Seconds the oldest unconfirmed change has waited; 0 when none."""
        return max((now - e.first_sent for e in self._pending.values()), default=0.0)
