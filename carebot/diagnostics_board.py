"""Latest health of every node, from /diagnostics, for ``carebot status`` and the dashboard.

Pure logic: the ROS adapters feed it plain ``StatusEntry`` values; it keeps the newest
per status name and marks entries that stopped arriving as STALE.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, Level

# A node that missed this many publication periods is STALE (it hung or died).
STALE_AFTER_S = 5 * DIAGNOSTICS_PERIOD_S


@dataclass(frozen=True)
class StatusEntry:
    """One DiagnosticStatus as received."""

    name: str
    level: Level
    message: str
    hardware_id: str = ""
    values: tuple[tuple[str, str], ...] = ()
    received_at: float = 0.0        # monotonic s

    def to_json(self, now: float | None = None) -> dict:
        age = None if now is None else round(max(0.0, now - self.received_at), 1)
        return {"name": self.name, "level": int(self.level), "level_name": self.level.name,
                "message": self.message, "hardware_id": self.hardware_id,
                "values": dict(self.values), "age_s": age}


def level_of(raw: int | bytes) -> Level:
    """diagnostic_msgs levels arrive as a byte; anything unknown counts as ERROR."""
    value = raw[0] if isinstance(raw, (bytes, bytearray)) else int(raw)
    try:
        return Level(value)
    except ValueError:
        return Level.ERROR


@dataclass
class DiagnosticsBoard:
    """Newest entry per status name; thread-safe (ROS callback writes, HTTP reads)."""

    stale_after_s: float = STALE_AFTER_S
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, StatusEntry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, entries: Iterable[StatusEntry]) -> None:
        now = self.clock()
        with self._lock:
            for entry in entries:
                self._entries[entry.name] = replace(entry, received_at=now)

    def entries(self) -> list[StatusEntry]:
        """Sorted by name; silent ones turned STALE with the time they were last heard."""
        now = self.clock()
        with self._lock:
            current = sorted(self._entries.values(), key=lambda e: e.name)
        out = []
        for entry in current:
            age = now - entry.received_at
            if age > self.stale_after_s:
                entry = replace(entry, level=Level.STALE,
                                message=f"no report for {age:.0f} s (last: {entry.message})")
            out.append(entry)
        return out

    def to_json(self) -> list[dict]:
        now = self.clock()
        return [entry.to_json(now) for entry in self.entries()]


def worst(entries: Iterable[StatusEntry]) -> Level:
    """The most serious level (STALE counts as worse than ERROR: we know nothing)."""
    levels = [entry.level for entry in entries]
    return max(levels, default=Level.STALE)


def format_table(entries: list[StatusEntry], verbose: bool = False) -> str:
    """Terminal summary: one line per node, key values indented when verbose."""
    if not entries:
        return "no diagnostics received (is the stack running, in this ROS_DOMAIN_ID?)"
    width = max(len(entry.name) for entry in entries)
    lines = []
    for entry in entries:
        lines.append(f"{entry.name:<{width}}  {entry.level.name:<5}  {entry.message}")
        if verbose:
            lines += [f"{'':<{width}}    {key} = {value}" for key, value in entry.values]
    overall = worst(entries)
    counts = {level: sum(1 for e in entries if e.level is level) for level in Level}
    summary = ", ".join(f"{n} {level.name}" for level, n in counts.items() if n)
    lines.append(f"overall: {overall.name} ({summary})")
    return "\n".join(lines)
