"""Staff alerts as plain data (mirrors carebot_interfaces/msg/Alert, no ROS import)."""
from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field, replace

from carebot.alert_enums import AlertKind, AlertState, Severity  # noqa: F401  (re-exported)


def new_alert_id(prefix: str = "brain") -> str:
    """A unique incident id (repeated on every state change of the incident)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class AlertInfo:
    """One state of an incident, as the brain publishes or receives it."""

    id: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    person: str = ""
    place: str = ""
    message: str = ""
    position: tuple[float, float, float] | None = None   # in frame_id, m
    frame_id: str = "map"                                # base_link when perception had no odometry
    handled_by: str = ""
    raised_at: float = field(default_factory=time.time)  # s since the epoch

    def with_state(self, state: AlertState, message: str | None = None, **changes) -> "AlertInfo":
        return replace(self, state=state, message=self.message if message is None else message, **changes)

    def to_json(self) -> dict:
        data = asdict(self)
        data["kind"] = self.kind.name
        data["severity"] = self.severity.name
        data["state"] = self.state.name
        return data
