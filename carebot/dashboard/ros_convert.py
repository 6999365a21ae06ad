"""Conversions between carebot_interfaces messages and the dashboard's plain data.

No rclpy import: message classes are passed in or imported lazily, so the
conversions are unit-tested without a ROS context. Alerts convert in ``carebot.alerts``
(one type for the whole stack).
"""
from __future__ import annotations

from carebot.dashboard.store import TranscriptEntry


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
