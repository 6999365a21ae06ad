"""The robot's side of the fleet link (carebot.fleet.bridge), explicit time, no ROS or Zenoh."""
import pytest

from carebot.alerts import AlertKind, AlertState, Severity, new_alert
from carebot.fleet.bridge import (BridgeConfig, BridgeCore, CancelNavigation, EStop, Log, Navigate, SendAlert,
                                  Status)
from carebot.fleet.payloads import Command, RobotState


def core(**kw) -> BridgeCore:
    return BridgeCore(BridgeConfig("home", "robot_a", **kw))


def idle(task="", mode="IDLE", estop=False):
    return Status(mode, task, 0.5, estop, "", (1.0, 2.0, 0.0))


def cmd(verb, **args):
    return Command(verb, "nurse", "fleet", 0.0, args)


def offer(task_id="t1", alert_id="fall-x", goal=(3.0, 4.0, 0.0)):
    return cmd("task", task_id=task_id, action="offer", alert_id=alert_id, goal=list(goal), critical=False, speed=0.25)


def test_busy_holds_across_the_gap_between_an_errands_drives():
    bridge = core(busy_hold_s=5.0)
    bridge.on_status(idle(), 0.0)
    assert not bridge.busy(0.0)
    bridge.on_status(idle("navigate:kitchen", "NAVIGATING"), 1.0)
    bridge.on_status(idle(), 10.0)                 # arrived at the kitchen; the drive back starts soon
    assert bridge.busy(12.0) and not bridge.busy(16.5)
    state = RobotState.from_bytes(bridge.state(12.0).to_bytes())
    assert state.busy and state.site == "home" and state.robot == "robot_a" and state.pose == (1.0, 2.0, 0.0)


def test_its_own_drive_for_a_fleet_task_is_attending_not_busy():
    bridge = core(own_incidents_by_brain=False)
    bridge.on_status(idle(), 0.0)
    effects = bridge.on_command(offer(), 1.0)
    assert [type(e) for e in effects] == [Navigate, Log] and effects[0].goal == (3.0, 4.0, 0.0)
    assert effects[0].speed == 0.25
    bridge.on_status(idle("navigate:pose", "NAVIGATING"), 2.0)
    state = bridge.state(3.0)
    assert not state.busy and state.fleet_task.status == "active"
    bridge.on_navigation_result("t1", True, "arrived", 30.0)
    assert bridge.state(31.0).fleet_task.status == "arrived"        # stays with the person
    assert bridge.on_command(offer("t2", "fall-y"), 32.0)[0].text.endswith("refused: attending fall-x")
    assert bridge.task.id == "t1"
    effects = bridge.on_command(cmd("task", task_id="t1", action="release", alert_id="fall-x"), 40.0)
    assert bridge.task is None and [type(e) for e in effects] == [Log]


def test_release_while_driving_cancels_the_goal():
    bridge = core(own_incidents_by_brain=False)
    bridge.on_command(offer(), 0.0)
    effects = bridge.on_command(cmd("task", task_id="t1", action="release", alert_id="fall-x"), 1.0)
    assert isinstance(effects[0], CancelNavigation) and effects[0].task_id == "t1"


def test_an_offer_is_refused_in_an_emergency_stop_and_the_same_offer_twice_is_one_task():
    bridge = core(own_incidents_by_brain=False)
    bridge.on_status(idle(mode="EMERGENCY_STOP", estop=True), 0.0)
    bridge.on_command(offer(), 1.0)
    assert bridge.task.status == "refused" and bridge.task.message == "emergency stop"
    bridge.on_status(idle(), 2.0)
    assert [type(e) for e in bridge.on_command(offer("t2"), 3.0)] == [Navigate, Log]
    assert bridge.on_command(offer("t2"), 4.0) == []


def test_an_incident_it_raised_is_left_to_its_own_brain():
    bridge = core(own_incidents_by_brain=True)
    alert = new_alert("fall", AlertKind.FALL, Severity.WARNING)
    bridge.on_alert(alert)
    effects = bridge.on_command(offer(alert_id=alert.id), 0.0)
    assert not any(isinstance(e, Navigate) for e in effects)
    assert bridge.task.status == "attending_locally"


def test_staff_acknowledge_reaches_only_this_robots_own_alert():
    bridge = core()
    alert = new_alert("fall", AlertKind.FALL, Severity.WARNING, message="fall in the lounge")
    assert bridge.on_alert(alert) == alert
    effects = bridge.on_command(cmd("alert", alert_id=alert.id, action="acknowledge", note="on my way"), 5.0)
    sent = [e.record for e in effects if isinstance(e, SendAlert)]
    assert len(sent) == 1 and sent[0].state is AlertState.ACKNOWLEDGED and sent[0].handled_by == "nurse"
    # another robot's alert id: refused, nothing sent
    effects = bridge.on_command(cmd("alert", alert_id="fall-of-robot-b", action="resolve", note=""), 6.0)
    assert not any(isinstance(e, SendAlert) for e in effects) and bridge.refused_commands == 1
    # acknowledging twice is a no-op, said in the log
    effects = bridge.on_command(cmd("alert", alert_id=alert.id, action="acknowledge", note=""), 7.0)
    assert [type(e) for e in effects] == [Log]


def test_a_machine_cannot_close_an_alert_in_the_bridges_book_either():
    bridge = core()
    alert = new_alert("fall", AlertKind.FALL, Severity.WARNING)
    bridge.on_alert(alert)
    assert bridge.on_alert(alert.with_state(AlertState.RESOLVED, "seen up again")).state is AlertState.RAISED


def test_estop_from_the_fleet_unless_refused_by_config():
    assert isinstance(core().on_command(cmd("estop"), 0.0)[0], EStop)
    refusing = core(accept_remote_estop=False)
    assert not any(isinstance(e, EStop) for e in refusing.on_command(cmd("estop"), 0.0))


def test_goto_is_an_errand_and_ends_on_arrival():
    bridge = core()
    effects = bridge.on_command(cmd("goto", place="kitchen", task_id="g1"), 0.0)
    assert effects[0] == Navigate("g1", place="kitchen")
    assert bridge.busy(1.0)
    bridge.on_navigation_result("g1", True, "", 20.0)
    assert bridge.task is None and bridge.busy(21.0) and not bridge.busy(30.0)


def test_catch_up_keeps_open_alerts_and_the_latest_resolved():
    bridge = core()
    records = [new_alert("fall", AlertKind.FALL, Severity.WARNING, now=float(i)) for i in range(60)]
    for record in records:
        bridge.on_alert(record)
    for record in records[:55]:
        bridge.on_alert(record.with_state(AlertState.RESOLVED, handled_by="nurse", updated_at=100.0 + record.raised_at))
    kept = bridge.catch_up()
    assert sum(r.is_open for r in kept) == 5 and len(kept) == 55
    assert records[0].id not in {r.id for r in kept}            # the oldest resolved ones go


def test_health_is_the_worst_fresh_node():
    bridge = core()
    assert bridge.health(0.0)[0] == "STALE"
    bridge.on_diagnostics([("carebot/navigator", 0, "ok"), ("carebot/perception", 1, "slow")], 0.0)
    assert bridge.health(1.0) == ("WARN", "carebot/perception: slow")
    bridge.on_diagnostics([("carebot/navigator", 2, "no map")], 4.0)
    assert bridge.health(8.0) == ("ERROR", "carebot/navigator: no map")     # perception stale after 5 s
    assert bridge.health(20.0)[0] == "STALE"


@pytest.mark.parametrize("verb,args,problem", [
    ("alert", {"alert_id": "a", "action": "delete"}, "action"),
    ("task", {"task_id": "t", "action": "offer", "alert_id": "a", "goal": [1, "x", 0]}, "goal"),
    ("task", {"task_id": "t", "action": "offer", "alert_id": "a", "goal": [1, 2, 0], "speed": 9.0}, "speed"),
    ("goto", {"place": "kitchen", "task_id": "bad/id"}, "task_id"),
])
def test_malformed_commands_are_refused_naming_the_field(verb, args, problem):
    with pytest.raises(ValueError, match=problem):
        Command.from_bytes(Command(verb, "nurse", "fleet", 0.0, args).to_bytes(), verb=verb)
