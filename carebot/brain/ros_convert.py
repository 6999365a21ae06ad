"""Conversions between carebot_interfaces messages and the brain's plain data.

Message classes are imported lazily, so the module imports without ROS; the
functions are exercised by the node's integration tests.
"""
from __future__ import annotations

import math

from carebot.brain.alerts import AlertInfo, AlertKind, AlertState, Severity
from carebot.brain.tools import ToolCall

NANO = 1_000_000_000


def _stamp(seconds: float, stamp) -> None:
    total = int(round(max(0.0, seconds) * NANO))
    stamp.sec, stamp.nanosec = divmod(total, NANO)


def alert_to_msg(alert: AlertInfo, now_s: float):
    """AlertInfo -> carebot_interfaces/Alert (header stamp = time of this state change)."""
    from carebot_interfaces.msg import Alert

    msg = Alert()
    msg.id = alert.id
    msg.kind, msg.severity, msg.state = int(alert.kind), int(alert.severity), int(alert.state)
    msg.person, msg.place = alert.person, alert.place
    msg.message, msg.handled_by = alert.message[:500], alert.handled_by
    if alert.position is not None:
        msg.position_known = True
        msg.position.x, msg.position.y, msg.position.z = (float(v) for v in alert.position)
    msg.header.frame_id = alert.frame_id or "map"
    _stamp(now_s, msg.header.stamp)
    _stamp(alert.raised_at, msg.raised_at)
    return msg


def alert_from_msg(msg) -> AlertInfo:
    """carebot_interfaces/Alert -> AlertInfo; ValueError for unknown enum values."""
    position = (msg.position.x, msg.position.y, msg.position.z)
    has_position = bool(msg.position_known) and all(math.isfinite(v) for v in position)
    return AlertInfo(id=msg.id.strip(), kind=AlertKind(msg.kind), severity=Severity(msg.severity),
                     state=AlertState(msg.state), person=msg.person, place=msg.place, message=msg.message,
                     position=position if has_position else None, frame_id=msg.header.frame_id or "map",
                     handled_by=msg.handled_by,
                     raised_at=msg.raised_at.sec + msg.raised_at.nanosec / NANO)


def tool_call_to_msg(call: ToolCall):
    """ToolCall -> carebot_interfaces/ToolCall (argument values as text; lists as JSON)."""
    import json

    from carebot_interfaces.msg import ToolCall as ToolCallMsg
    from diagnostic_msgs.msg import KeyValue

    msg = ToolCallMsg()
    msg.tool = call.tool
    msg.args = [KeyValue(key=str(k), value=v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                for k, v in call.args.items()]
    return msg
