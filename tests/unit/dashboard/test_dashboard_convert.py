"""Messages <-> dashboard data, with the real generated message classes (no rclpy.init)."""
from carebot_interfaces.msg import Alert, RobotStatus, ToolCall, Transcript
from carebot_interfaces.srv import Ask
from diagnostic_msgs.msg import KeyValue

from carebot import alerts
from carebot.dashboard import ros_convert
from carebot.dashboard.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.dashboard.site_map import load_map


def test_alert_round_trip():
    record = AlertRecord("help-3", AlertKind.HELP_REQUEST, Severity.WARNING, AlertState.ESCALATED,
                         person="mrs_li", place="room_101", room="room_101", position=(1.5, 9.25, 0.0),
                         message="calls for help", handled_by="", raised_at=1700000000.123456789,
                         updated_at=1700000005.5)
    msg = alerts.to_msg(record)
    assert isinstance(msg, Alert) and msg.state == Alert.STATE_ESCALATED and msg.raised_at.sec == 1700000000
    assert msg.position_known and msg.room == "room_101"
    back = alerts.from_msg(msg)
    assert back.id == record.id and back.state is AlertState.ESCALATED and back.place == "room_101"
    assert back.position == (1.5, 9.25, 0.0) and back.room == "room_101"
    assert abs(back.raised_at - record.raised_at) < 1e-6 and back.updated_at == 1700000005.5


def test_position_known_is_said_not_guessed():
    """A person exactly at the map origin has a position; an alert without one says so."""
    at_origin = AlertRecord("fall-1", AlertKind.FALL, Severity.CRITICAL, AlertState.RAISED, position=(0.0, 0.0, 0.0))
    assert alerts.to_msg(at_origin).position_known and alerts.from_msg(alerts.to_msg(at_origin)).position == (0, 0, 0)
    nowhere = AlertRecord("help-1", AlertKind.HELP_REQUEST, Severity.WARNING, AlertState.RAISED, place="lounge")
    assert not alerts.to_msg(nowhere).position_known
    assert nowhere.to_json()["position_known"] is False and nowhere.to_json()["x"] is None
    msg = Alert(id="x", kind=0, severity=2, state=0, position_known=False)
    msg.position.x = 2.0                    # stale numbers in a message that says "no position"
    assert alerts.from_msg(msg).position is None


def test_alert_with_nan_position_and_bad_state():
    msg = Alert(id="x", kind=0, severity=2, state=0, position_known=True)
    msg.position.x = float("nan")
    assert alerts.from_msg(msg).position is None
    msg.state = 9
    try:
        alerts.from_msg(msg)
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
