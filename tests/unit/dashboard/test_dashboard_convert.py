"""Messages <-> dashboard data, with the real generated message classes (no rclpy.init)."""
from carebot_interfaces.msg import Alert, RobotStatus, ToolCall, Transcript
from carebot_interfaces.srv import Ask
from diagnostic_msgs.msg import KeyValue

from carebot.dashboard import ros_convert
from carebot.dashboard.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.dashboard.site_map import load_map


def test_alert_round_trip():
    record = AlertRecord("help-3", AlertKind.HELP_REQUEST, Severity.WARNING, AlertState.ESCALATED,
                         person="mrs_li", place="room_101", x=1.5, y=9.25, message="calls for help",
                         handled_by="", raised_at=1700000000.123456789, updated_at=1700000005.5)
    msg = ros_convert.alert_to_msg(record)
    assert isinstance(msg, Alert) and msg.state == Alert.STATE_ESCALATED and msg.raised_at.sec == 1700000000
    back = ros_convert.alert_from_msg(msg)
    assert back.id == record.id and back.state is AlertState.ESCALATED and back.place == "room_101"
    assert abs(back.raised_at - record.raised_at) < 1e-6 and back.updated_at == 1700000005.5


def test_alert_with_nan_position_and_bad_state():
    msg = Alert(id="x", kind=0, severity=2, state=0)
    msg.position.x = float("nan")
    assert ros_convert.alert_from_msg(msg).x == 0.0
    msg.state = 9
    try:
        ros_convert.alert_from_msg(msg)
    except ValueError:
        pass
    else:
        raise AssertionError("state 9 must be refused")


def test_status_transcript_and_ask_response():
    status = RobotStatus(mode=RobotStatus.MODE_EMERGENCY_STOP, emergency_stop=True, stop_reason="button")
    status.pose.x, status.pose.y, status.pose.theta = 3.0, 4.0, 1.57
    data = ros_convert.status_to_json(status, 5.0)
    assert data["mode"] == 4 and data["emergency_stop"] and (data["x"], data["y"]) == (3.0, 4.0)
    entry = ros_convert.transcript_from_msg(Transcript(text=" hello ", language="en", confidence=0.8), 9.0)
    assert entry.text == "hello" and entry.at == 9.0 and entry.source == "speech"
    response = Ask.Response(reply="On my way", source="rule", latency_ms=12.34,
                            actions=[ToolCall(tool="navigate_to", args=[KeyValue(key="place", value="kitchen")])])
    answer = ros_convert.ask_response_to_json(response)
    assert answer["actions"] == [{"tool": "navigate_to", "args": {"place": "kitchen"}}] and answer["latency_ms"] == 12.3


def test_site_map_has_rooms_walls_and_places():
    site = load_map("care_home")
    assert site["width"] > 0 and "lounge" in site["rooms"] and site["walls"]
    assert all({"name", "x", "y"} <= set(place) for place in site["places"])
