"""Conversions between carebot_interfaces messages and the brain's plain data.

Message classes are imported lazily, so the module imports without ROS; the
functions are exercised by the node's integration tests. Alerts convert in
``carebot.alerts`` (one type for the whole stack).
"""
from __future__ import annotations

from carebot.brain.tools import ToolCall


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
