"""Which supervised node needs a SYSTEM alert for staff, and when it is over (no ROS).

``carebot up`` feeds this module what it sees, with explicit times: a node process
started or exited (from the supervisor), a node's report on ``/diagnostics`` (from
the supervision node), and a periodic ``tick``. It answers with ``SystemAlert``
changes, one incident per node at a time:

- a node **dies**: RAISED ("perception stopped (signal SIGKILL) after 12 s; restarting
  in 1 s"); dying again while the incident is open updates it, and after
  ``CRASH_LOOP_DEATHS`` deaths it turns CRITICAL (a node that cannot stay up);
- it is **restarted**: an update of the same incident;
- it **stops reporting** on ``/diagnostics`` for ``silence_timeout_s`` after it had
  reported, or has not reported ``startup_timeout_s`` after it (re)started: RAISED
  (hung?). A node still starting is not hung: on two cores importing torch and
  loading a model takes tens of seconds, so the start-up limit is separate and long.
  Nothing is ever killed for silence: an alert, not a kill loop;
- it is **healthy again** (a report at OK or WARN after its latest start, or after
  the silence): RESOLVED. SYSTEM alerts are the one kind a machine may resolve
  (carebot.dashboard.alerts.MACHINE_RESOLVABLE).
"""
from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from carebot.alert_enums import AlertState, Severity
from carebot.diagnostics import Level

SILENCE_TIMEOUT_S = 30.0     # a node that reported, then nothing this long: hung (30 missed periods)
STARTUP_TIMEOUT_S = 180.0    # no report this long after a (re)start: hung or stuck loading
CRASH_LOOP_DEATHS = 3        # deaths within one open incident before it turns CRITICAL
_HEALTHY = (Level.OK, Level.WARN)


def new_incident_id(node: str) -> str:
    return f"system-{node}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class WatchdogConfig:
    silence_timeout_s: float = SILENCE_TIMEOUT_S
    startup_timeout_s: float = STARTUP_TIMEOUT_S

    def __post_init__(self) -> None:
        if not self.silence_timeout_s > 0 or not self.startup_timeout_s > 0:
            raise ValueError("watchdog timeouts must be > 0 s")


@dataclass(frozen=True)
class SystemAlert:
    """One state change of a node's SYSTEM incident, for the supervision node to publish."""

    incident_id: str
    node: str
    state: AlertState          # RAISED (new or updated) or RESOLVED
    severity: Severity
    message: str
    raised_at: float           # s, the watchdog's clock: when the incident began


class Phase(enum.Enum):
    RUNNING = "running"
    EXITED = "exited"          # waiting for its restart


@dataclass
class _Node:
    name: str
    phase: Phase = Phase.EXITED
    started_at: float = 0.0
    starts: int = 0
    last_report: float | None = None      # since the latest start
    silent: bool = False                  # flagged as not reporting; cleared by a report
    incident: str | None = None
    incident_since: float = 0.0
    deaths: int = 0                       # within the open incident
    severity: Severity = Severity.WARNING


class Watchdog:
    """Per-node health bookkeeping for the nodes one ``carebot up`` supervises.

    Not thread-safe: the supervision node calls it under one lock.
    """

    def __init__(self, nodes: Iterable[str], config: WatchdogConfig | None = None,
                 new_id: Callable[[str], str] = new_incident_id):
        self.config = config or WatchdogConfig()
        self._nodes = {name: _Node(name) for name in nodes}
        self._new_id = new_id
        self._stopping = False

    @property
    def nodes(self) -> list[str]:
        return list(self._nodes)

    def heard(self) -> list[str]:
        """The nodes that have reported since their latest start: only these can be judged
        silent (the others are still within their start-up limit)."""
        return [n.name for n in self._nodes.values() if n.last_report is not None]

    def open_incidents(self) -> dict[str, str]:
        """node -> incident id, for nodes with an open SYSTEM alert."""
        return {n.name: n.incident for n in self._nodes.values() if n.incident}

    # ------------------------------------------------------------------ inputs
    def started(self, node: str, now: float) -> list[SystemAlert]:
        """The node's process was started (first start or a restart)."""
        n = self._nodes.get(node)
        if n is None or self._stopping:
            return []
        n.phase, n.started_at, n.last_report, n.silent = Phase.RUNNING, now, None, False
        n.starts += 1
        if n.incident is None:
            return []
        return [self._change(n, AlertState.RAISED, f"{node} restarted (start {n.starts}); "
                                                   "waiting for it to report healthy")]

    def exited(self, node: str, now: float, how: str, uptime_s: float,
               restart_in_s: float | None) -> list[SystemAlert]:
        """The node's process ended on its own (``how``: 'signal SIGKILL', 'exit code 1')."""
        n = self._nodes.get(node)
        if n is None or self._stopping:
            return []
        n.phase, n.silent = Phase.EXITED, False
        then = "" if restart_in_s is None else f"; restarting in {restart_in_s:.0f} s"
        if n.incident is None:
            self._open(n, now)
            n.deaths = 1
            return [self._change(n, AlertState.RAISED, f"{node} stopped ({how}) after {uptime_s:.0f} s{then}")]
        n.deaths += 1
        if n.deaths >= CRASH_LOOP_DEATHS:
            n.severity = Severity.CRITICAL
        return [self._change(n, AlertState.RAISED, f"{node} stopped again ({how}) after {uptime_s:.0f} s, "
                                                   f"{n.deaths} times since {self._ago(n, now)}{then}")]

    def report(self, node: str, level: Level, message: str, now: float) -> list[SystemAlert]:
        """A status of the node heard on /diagnostics."""
        n = self._nodes.get(node)
        if n is None or self._stopping or n.phase is not Phase.RUNNING:
            return []    # a late report from a process that has just died proves nothing
        n.last_report, was_silent, n.silent = now, n.silent, False
        if n.incident is None:
            return []
        if level in _HEALTHY:
            change = self._change(n, AlertState.RESOLVED, f"{node} healthy again ({level.name}: {message})")
            n.incident, n.deaths, n.severity = None, 0, Severity.WARNING
            return [change]
        if was_silent:   # reporting again, but not healthy: say so once
            return [self._change(n, AlertState.RAISED, f"{node} reports again, {level.name}: {message}")]
        return []

    def tick(self, now: float) -> list[SystemAlert]:
        """Nodes that went silent: a running node with no report for too long."""
        if self._stopping:
            return []
        out = []
        for n in self._nodes.values():
            if n.phase is not Phase.RUNNING or n.silent:
                continue
            if n.last_report is None:
                quiet = now - n.started_at
                if quiet < self.config.startup_timeout_s:
                    continue
                label = n.name if n.starts <= 1 else f"{n.name} (start {n.starts})"
                what = (f"{label} has not reported on /diagnostics in {quiet:.0f} s since it "
                        "started (hung, or still loading?)")
            else:
                quiet = now - n.last_report
                if quiet < self.config.silence_timeout_s:
                    continue
                what = f"{n.name} stopped reporting on /diagnostics {quiet:.0f} s ago (hung?); process still running"
            n.silent = True
            if n.incident is None:
                self._open(n, now)
            out.append(self._change(n, AlertState.RAISED, what))
        return out

    def stop(self) -> None:
        """``carebot up`` is stopping the stack: nodes ending now are not incidents."""
        self._stopping = True

    # ------------------------------------------------------------------ helpers
    def _open(self, n: _Node, now: float) -> None:
        n.incident, n.incident_since, n.deaths, n.severity = self._new_id(n.name), now, 0, Severity.WARNING

    def _ago(self, n: _Node, now: float) -> str:
        return f"{now - n.incident_since:.0f} s ago"

    def _change(self, n: _Node, state: AlertState, message: str) -> SystemAlert:
        assert n.incident is not None
        return SystemAlert(n.incident, n.name, state, n.severity, message, n.incident_since)
