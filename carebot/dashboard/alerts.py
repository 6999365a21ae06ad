"""Staff alerts without ROS: their life cycle and the book that keeps them (the record is
``carebot.alerts.AlertRecord``, the stack's one alert type).

The dashboard owns alert storage (docs/interfaces.md, ``alerts/update``): every Alert
heard on ``alerts`` is kept, staff acknowledge and resolve through the page or the
UpdateAlert service, and each change is stored before it is published.
"""
from __future__ import annotations

import enum
import threading
import time
from dataclasses import replace
from typing import Callable

from carebot.alerts import AlertKind, AlertRecord, AlertState, Severity, coerce  # noqa: F401  (re-exported)


class StaffAction(enum.IntEnum):
    """Same values as UpdateAlert ACTION_*."""

    ACKNOWLEDGE = 0
    RESOLVE = 1


# Progress of an incident: an update never moves an alert backwards (a late RAISED
# repeat from a publisher does not undo a nurse's acknowledgement).
_PROGRESS = {AlertState.RAISED: 0, AlertState.ESCALATED: 1,
             AlertState.ACKNOWLEDGED: 2, AlertState.RESOLVED: 3}


# Stamps before this (2001-09-09) are sim time or unset, not wall-clock time.
PLAUSIBLE_UNIX_TIME = 1e9


class AlertActionError(ValueError):
    """A staff action that cannot apply (unknown id, already resolved ...)."""


# Acknowledging and resolving are staff decisions. Heard on the topic they count when they
# name a staff account (our own publication coming back, another dashboard) or, for the
# kinds below only, from the machine that raised the alert: `carebot up` resolves a SYSTEM
# alert when the node is healthy again. Anyone else (perception seeing a fallen person
# get up) reports; the state stays until a member of staff closes the incident.
MACHINE_RESOLVABLE = frozenset({AlertKind.SYSTEM})
_STAFF_STATES = frozenset({AlertState.ACKNOWLEDGED, AlertState.RESOLVED})


def closes_without_staff(incoming: AlertRecord) -> bool:
    """An ACKNOWLEDGED/RESOLVED that no staff member gave and the kind does not allow."""
    if incoming.state not in _STAFF_STATES or incoming.handled_by.strip():
        return False
    return not (incoming.state is AlertState.RESOLVED and incoming.kind in MACHINE_RESOLVABLE)


def merge_incoming(stored: AlertRecord | None, incoming: AlertRecord) -> AlertRecord | None:
    """The record after an Alert heard on the topic, or None when nothing changes.

    - A resolved alert stays resolved (a late or replayed message never reopens it).
    - States only move forward: a late RAISED/ESCALATED does not undo an acknowledgement.
    - A machine cannot close what staff must close: its ACKNOWLEDGED/RESOLVED is kept as
      an update of the incident's words with the state unchanged.
    - Severity never drops: a repeat or an update does not make an incident less urgent.
    """
    if closes_without_staff(incoming):
        incoming = replace(incoming, state=stored.state if stored else AlertState.RAISED,
                           handled_by=stored.handled_by if stored else "")
    if stored is None:
        return incoming
    if stored.state is AlertState.RESOLVED:
        return None
    if _PROGRESS[incoming.state] < _PROGRESS[stored.state]:
        return None
    merged = replace(incoming, raised_at=stored.raised_at or incoming.raised_at,
                     note=incoming.note or stored.note,
                     handled_by=incoming.handled_by or stored.handled_by,
                     severity=max(stored.severity, incoming.severity))
    # Timestamps are left out: our own publication comes back with rounded stamps.
    same = replace(merged, updated_at=0.0, raised_at=0.0) == replace(stored, updated_at=0.0, raised_at=0.0)
    return None if same else merged


def apply_action(stored: AlertRecord, action: StaffAction, staff: str, note: str,
                 now: float) -> AlertRecord:
    """The record after a staff member acts; raises AlertActionError when it cannot."""
    if not staff.strip():
        raise AlertActionError("a staff account name is required")
    if stored.state is AlertState.RESOLVED:
        raise AlertActionError(f"alert {stored.id} is already resolved by {stored.handled_by or 'someone'}")
    if action is StaffAction.ACKNOWLEDGE:
        if stored.state is AlertState.ACKNOWLEDGED:
            raise AlertActionError(f"alert {stored.id} is already acknowledged by {stored.handled_by}")
        state = AlertState.ACKNOWLEDGED
    elif action is StaffAction.RESOLVE:
        state = AlertState.RESOLVED
    else:  # pragma: no cover - IntEnum covers the message's values
        raise AlertActionError(f"unknown action {action!r}")
    return replace(stored, state=state, handled_by=staff.strip(), note=note.strip() or stored.note,
                   updated_at=now)


class AlertBook:
    """Alerts kept in a store; every change is saved first, then published.

    ``store`` needs ``get_alert(id)``, ``save_alert(record, actor)`` and ``list_alerts``
    (carebot.dashboard.store.DashboardStore); ``publish`` sends the record on ``alerts``.
    """

    def __init__(self, store, publish: Callable[[AlertRecord], None] | None = None,
                 clock: Callable[[], float] = time.time):
        self._store = store
        self._publish = publish or (lambda record: None)
        self._clock = clock
        self._lock = threading.Lock()
        self.version = 0        # bumps on every change: the page polls cheaply

    def receive(self, incoming: AlertRecord) -> AlertRecord | None:
        """An Alert heard on the topic; returns the stored record when it changed."""
        incoming = coerce(incoming)
        if not incoming.id:
            raise ValueError("alert without id")
        with self._lock:
            now = self._clock()
            stored = self._store.get_alert(incoming.id)
            if stored is None and incoming.raised_at < PLAUSIBLE_UNIX_TIME:
                # sim time or an unset stamp: staff need the wall-clock time it reached them
                incoming = replace(incoming, raised_at=now)
            merged = merge_incoming(stored, incoming)
            if merged is None:
                return None
            merged = replace(merged, updated_at=now)
            self._store.save_alert(merged, actor="topic")
            self.version += 1
        return merged

    def act(self, alert_id: str, action: StaffAction, staff: str, note: str = "") -> AlertRecord:
        """A staff acknowledge/resolve: stored, then published on ``alerts``."""
        with self._lock:
            stored = self._store.get_alert(alert_id)
            if stored is None:
                raise AlertActionError(f"no alert with id {alert_id!r}")
            updated = apply_action(stored, StaffAction(action), staff, note, self._clock())
            self._store.save_alert(updated, actor=updated.handled_by)
            self.version += 1
        self._publish(updated)
        return updated

    def get(self, alert_id: str) -> AlertRecord | None:
        return self._store.get_alert(alert_id)

    def listing(self, resolved_limit: int = 20) -> list[AlertRecord]:
        """Open alerts (most severe and newest first), then the latest resolved ones."""
        return self._store.list_alerts(resolved_limit=resolved_limit)
