"""The staff alert, one type for the whole stack, and its conversion to and from Alert.msg.

Pure module: the message class is imported only inside the conversions, so every role
(brain, dashboard, perception, ``carebot up``'s supervisor) uses the same record
without a ROS import. Whether a position was measured is said, never guessed from
zero coordinates: ``position`` is None when it was not (Alert.msg ``position_known``).
"""
from __future__ import annotations

import math
import time
import uuid
from dataclasses import asdict, dataclass, replace

from carebot.alert_enums import AlertKind, AlertState, Severity
from carebot.frames import fill_stamp, stamp_to_s

__all__ = ["AlertKind", "AlertRecord", "AlertState", "Severity", "coerce", "from_msg", "new_alert", "new_alert_id",
           "to_msg"]
MESSAGE_LIMIT = 500      # characters of the message sent on the topic; staff read it on a tablet


def new_alert_id(prefix: str = "alert") -> str:
    """A unique incident id (repeated on every state change of the incident)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class AlertRecord:
    """One state of an incident, as raised, stored, shown and sent (mirrors Alert.msg)."""

    id: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    person: str = ""
    place: str = ""                                       # named place of the site
    room: str = ""                                        # room of the site map holding place or position
    position: tuple[float, float, float] | None = None    # in frame_id, m; None: not measured
    frame_id: str = "map"                                 # base_link when perception had no odometry
    message: str = ""
    handled_by: str = ""                                  # staff account that acknowledged or resolved
    note: str = ""                                        # staff note (dashboard only, not on the topic)
    raised_at: float = 0.0                                # unix time the incident began, s
    updated_at: float = 0.0                               # unix time of this state change, s

    @property
    def is_open(self) -> bool:
        return self.state is not AlertState.RESOLVED

    @property
    def position_known(self) -> bool:
        return self.position is not None

    def with_state(self, state: AlertState, message: str | None = None, **changes) -> "AlertRecord":
        """The next state of the same incident."""
        return replace(self, state=state, message=self.message if message is None else message, **changes)

    def to_json(self) -> dict:
        """For the staff page and ``carebot ask``: enum names, the position as x, y, z (null when
        not measured) and position_known."""
        data = asdict(self)
        data["kind"], data["severity"], data["state"] = self.kind.name, self.severity.name, self.state.name
        position = data.pop("position")
        data["position_known"] = position is not None
        data["x"], data["y"], data["z"] = position if position is not None else (None, None, None)
        return data


def new_alert(prefix: str, kind: AlertKind, severity: Severity, now: float | None = None,
              **fields) -> AlertRecord:
    """The RAISED state of a new incident, begun at ``now`` (unix time; default: the clock)."""
    at = time.time() if now is None else now
    return AlertRecord(new_alert_id(prefix), AlertKind(kind), Severity(severity), AlertState.RAISED,
                       raised_at=at, updated_at=at, **fields)


def coerce(record: AlertRecord) -> AlertRecord:
    """Validate the enum fields; raises ValueError naming the bad field."""
    try:
        return replace(record, kind=AlertKind(record.kind), severity=Severity(record.severity),
                       state=AlertState(record.state))
    except ValueError as exc:
        raise ValueError(f"alert {record.id!r}: {exc}") from None


def to_msg(record: AlertRecord, stamp_s: float | None = None, msg=None):
    """AlertRecord -> carebot_interfaces/Alert; the header stamp is ``stamp_s`` (the time of
    this state change), else ``record.updated_at``. A new message unless ``msg`` is given."""
    if msg is None:
        from carebot_interfaces.msg import Alert

        msg = Alert()
    msg.id = record.id
    msg.kind, msg.severity, msg.state = int(record.kind), int(record.severity), int(record.state)
    msg.person, msg.place, msg.room = record.person, record.place, record.room
    msg.message, msg.handled_by = record.message[:MESSAGE_LIMIT], record.handled_by
    msg.position_known = record.position is not None
    x, y, z = record.position if record.position is not None else (0.0, 0.0, 0.0)
    msg.position.x, msg.position.y, msg.position.z = float(x), float(y), float(z)
    msg.header.frame_id = record.frame_id
    fill_stamp(msg.header.stamp, record.updated_at if stamp_s is None else stamp_s)
    fill_stamp(msg.raised_at, record.raised_at)
    return msg


def from_msg(msg) -> AlertRecord:
    """carebot_interfaces/Alert -> AlertRecord; ValueError for an unknown enum value. A position
    that is not finite counts as not measured."""
    position = (float(msg.position.x), float(msg.position.y), float(msg.position.z))
    known = bool(msg.position_known) and all(math.isfinite(v) for v in position)
    return coerce(AlertRecord(
        id=msg.id.strip(), kind=msg.kind, severity=msg.severity, state=msg.state, person=msg.person,
        place=msg.place, room=msg.room, position=position if known else None,
        frame_id=msg.header.frame_id or "map", message=msg.message, handled_by=msg.handled_by,
        raised_at=stamp_to_s(msg.raised_at), updated_at=stamp_to_s(msg.header.stamp)))
