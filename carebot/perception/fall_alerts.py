"""What perception may still say about a fall incident once it has raised it (no ROS).

Perception raises a fall; it never closes one. Closing is for staff: a person seen
standing again may have been helped up, be injured, or be someone else. So when
the fall logic sees the person up again, perception sends an update of the same
incident (state unchanged, RAISED) whose message says so, and only while nobody
else has taken the incident further: once the brain escalated it, or staff
acknowledged or resolved it (all heard on ``alerts``), perception leaves it alone.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from carebot.alert_enums import AlertState
from carebot.i18n import alert_text

# How far an incident has gone; perception only ever speaks while it is at RAISED.
_PROGRESS = {AlertState.RAISED: 0, AlertState.ESCALATED: 1, AlertState.ACKNOWLEDGED: 2,
             AlertState.RESOLVED: 3}
MAX_INCIDENTS = 256          # remembered incidents; the oldest are forgotten first


def up_again_message(raised_message: str, language: str = "en") -> str:
    """The incident's words after the person was seen up, in ``language``: what was raised
    stays readable (carebot.i18n.alert_text)."""
    return alert_text.fall_up_again(language, raised_message)


@dataclass(frozen=True)
class Incident:
    """One fall incident this node raised, as far as it knows."""

    state: AlertState
    message: str           # the words it was raised with
    raised_at: float       # s, the stamp of the RAISED alert (sent again with every update)


class IncidentStates:
    """The furthest state each incident this node raised has reached, from ``alerts``.

    Thread-safe: the executor records what it hears, the inference worker asks.
    """

    def __init__(self, limit: int = MAX_INCIDENTS):
        self._limit = limit
        self._lock = threading.Lock()
        self._incidents: OrderedDict[str, Incident] = OrderedDict()

    def raised(self, incident_id: str, message: str, raised_at: float) -> None:
        """This node raised the incident with these words at ``raised_at`` (s)."""
        with self._lock:
            self._incidents[incident_id] = Incident(AlertState.RAISED, message, raised_at)
            self._incidents.move_to_end(incident_id)
            while len(self._incidents) > self._limit:
                self._incidents.popitem(last=False)

    def heard(self, incident_id: str, state: int) -> None:
        """An Alert heard on ``alerts``; ids this node did not raise are ignored."""
        try:
            state = AlertState(state)
        except ValueError:
            return
        with self._lock:
            known = self._incidents.get(incident_id)
            if known is not None and _PROGRESS[state] > _PROGRESS[known.state]:
                self._incidents[incident_id] = Incident(state, known.message, known.raised_at)

    def get(self, incident_id: str) -> Incident | None:
        with self._lock:
            return self._incidents.get(incident_id)

    def up_again(self, incident_id: str, language: str = "en") -> tuple[str, float] | None:
        """(message, raised_at) of a "person is up" update, or None when perception must stay
        quiet: the incident was escalated, acknowledged or resolved, or is not one it raised."""
        known = self.get(incident_id)
        if known is None or known.state is not AlertState.RAISED:
            return None
        return up_again_message(known.message, language), known.raised_at
