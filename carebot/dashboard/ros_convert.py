"""Conversions between carebot_interfaces messages and the dashboard's plain data.

No rclpy import: message classes are passed in or imported lazily, so the
conversions are unit-tested without a ROS context.
"""
from __future__ import annotations

import math
from typing import Any

from carebot.dashboard.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.dashboard.store import TranscriptEntry

NANO = 1_000_000_000


def stamp_to_float(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec / NANO


def float_to_stamp(seconds: float, stamp) -> Any:
    """Fill a builtin_interfaces/Time from seconds (rounded to whole nanoseconds)."""
    total = int(round(max(0.0, seconds) * NANO))
    stamp.sec, stamp.nanosec = divmod(total, NANO)
    return stamp


def alert_from_msg(msg) -> AlertRecord:
    """carebot_interfaces/Alert -> AlertRecord; ValueError for an unknown enum value."""
    def finite(value: float) -> float:
        return float(value) if msg.position_known and math.isfinite(value) else 0.0

    return AlertRecord(
        id=msg.id.strip(), kind=AlertKind(msg.kind), severity=Severity(msg.severity),
        state=AlertState(msg.state), person=msg.person, place=msg.place,
        x=finite(msg.position.x), y=finite(msg.position.y), z=finite(msg.position.z),
        frame_id=msg.header.frame_id or "map", message=msg.message, handled_by=msg.handled_by,
        raised_at=stamp_to_float(msg.raised_at), updated_at=stamp_to_float(msg.header.stamp))


def alert_to_msg(record: AlertRecord, msg=None):
    """AlertRecord -> carebot_interfaces/Alert (a new one unless ``msg`` is given)."""
    if msg is None:
        from carebot_interfaces.msg import Alert

        msg = Alert()
    msg.id = record.id
    msg.kind, msg.severity, msg.state = int(record.kind), int(record.severity), int(record.state)
    msg.person, msg.place, msg.message, msg.handled_by = record.person, record.place, record.message, record.handled_by
    msg.position.x, msg.position.y, msg.position.z = record.x, record.y, record.z
    msg.position_known = any(abs(v) > 1e-9 for v in (record.x, record.y, record.z))
    msg.header.frame_id = record.frame_id
    float_to_stamp(record.updated_at, msg.header.stamp)
    float_to_stamp(record.raised_at, msg.raised_at)
    return msg


def status_to_json(msg, received_at: float) -> dict:
    """carebot_interfaces/RobotStatus -> the page's status object."""
    return {
        "mode": int(msg.mode), "current_task": msg.current_task,
        "speed_limit": float(msg.speed_limit), "emergency_stop": bool(msg.emergency_stop),
        "stop_reason": msg.stop_reason, "x": float(msg.pose.x), "y": float(msg.pose.y),
        "theta": float(msg.pose.theta), "vx": float(msg.velocity.linear.x),
        "wz": float(msg.velocity.angular.z), "received_at": received_at,
    }


def transcript_from_msg(msg, received_at: float) -> TranscriptEntry:
    """carebot_interfaces/Transcript -> a transcript log line (stamped when it arrived)."""
    return TranscriptEntry(at=received_at, text=msg.text.strip(), language=msg.language,
                           confidence=float(msg.confidence), low_confidence=bool(msg.low_confidence),
                           speaker=msg.speaker, source=msg.source or "speech")


def ask_response_to_json(response) -> dict:
    """carebot_interfaces/srv/Ask response -> the chat answer."""
    return {
        "reply": response.reply, "source": response.source,
        "latency_ms": round(float(response.latency_ms), 1),
        "actions": [{"tool": call.tool, "args": {kv.key: kv.value for kv in call.args}}
                    for call in response.actions],
        "has_alert": bool(response.has_alert),
    }
