"""The allocation rule and the dispatcher around it: pure, explicit time, the real site map."""
import pytest

from carebot.alerts import AlertKind, AlertState, Severity, new_alert
from carebot.fleet.allocator import Candidate, SitePaths, allocate, approach_goal
from carebot.fleet.dispatcher import DispatchConfig, Dispatcher, Offer, Release, RobotSnapshot, incident_point
from carebot.fleet.payloads import FleetTask
from carebot.world import load_world

FALL_AT = (2.6, 4.0)          # the care home's lounge


@pytest.fixture(scope="module")
def paths():
    return SitePaths()


def robot(name, pose, busy=False, **kw):
    return Candidate("home", name, kw.pop("online", True), pose, busy, **kw)


def test_nearest_free_robot_by_path_length_not_straight_line(paths):
    # room_101 (2, 10) is 6 m from the lounge in a straight line, behind two walls; the corridor
    # robot at (10, 7) is 8 m away in a straight line but has the shorter way through the doors.
    path_of = paths.path_fn("care_home")
    behind_wall = robot("a_room101", (2.0, 10.5))
    corridor = robot("b_corridor", (9.0, 7.0))
    result = allocate("home", FALL_AT, False, [behind_wall, corridor], path_of)
    lengths = {r.robot: r.length for r in result.ranked}
    assert lengths["a_room101"] > lengths["b_corridor"]
    assert result.robot == "b_corridor" and not result.preempts


def test_a_busy_robot_keeps_its_errand_even_when_nearer(paths):
    near_busy = robot("a", (3.4, 4.6), busy=True)
    far_free = robot("b", (17.0, 2.6))
    result = allocate("home", FALL_AT, False, [near_busy, far_free], paths.path_fn("care_home"))
    assert result.robot == "b" and not result.preempts
    ranked = {r.robot: r for r in result.ranked}
    assert ranked["a"].length < ranked["b"].length and not ranked["a"].free


def test_critical_with_nobody_free_takes_the_nearest_busy_robot(paths):
    robots = [robot("a", (3.4, 4.6), busy=True), robot("b", (17.0, 2.6), busy=True)]
    assert allocate("home", FALL_AT, False, robots, paths.path_fn("care_home")).robot is None
    result = allocate("home", FALL_AT, True, robots, paths.path_fn("care_home"))
    assert result.robot == "a" and result.preempts
    # ... but a free robot anywhere is still preferred for a critical incident
    result = allocate("home", FALL_AT, True, robots + [robot("c", (17.5, 9.6))], paths.path_fn("care_home"))
    assert result.robot == "c" and not result.preempts


def test_robots_that_cannot_go_are_left_out_with_the_reason(paths):
    robots = [robot("off", (3.0, 5.0), online=False), robot("stopped", (3.0, 5.0), estop=True),
              robot("sick", (3.0, 5.0), health="ERROR"), robot("busy_fleet", (3.0, 5.0), attending="fall-1"),
              robot("refuses", (3.0, 5.0), accepts_tasks=False), robot("lost", None),
              robot("failed_before", (3.0, 5.0)), robot("other_site", (3.0, 5.0))]
    robots[-1] = Candidate("elsewhere", "other_site", True, (3.0, 5.0), False)
    result = allocate("home", FALL_AT, True, robots, paths.path_fn("care_home"), exclude=["failed_before"])
    assert result.robot is None
    why = {r.robot: r.excluded for r in result.ranked}
    assert why == {"off": "offline", "stopped": "emergency stop", "sick": "health ERROR",
                   "busy_fleet": "attending fall-1", "refuses": "takes no fleet tasks", "lost": "pose unknown",
                   "failed_before": "failed or refused this incident"}


def test_deterministic_ties_go_to_the_first_name(paths):
    # mirror-image poses: the same length to the centimetre
    path_of = lambda start, goal: (5.0, [start, goal])       # noqa: E731  (a stand-in path function)
    robots = [robot("zeta", (1.0, 1.0)), robot("alpha", (2.0, 2.0)), robot("mid", (3.0, 3.0))]
    answers = {allocate("home", FALL_AT, False, list(order), path_of).robot
               for order in (robots, robots[::-1], robots[1:] + robots[:1])}
    assert answers == {"alpha"}


def test_approach_goal_stops_short_on_the_path_facing_the_person():
    path = [(0.0, 0.0), (2.0, 0.0), (2.0, 3.0)]
    x, y, yaw = approach_goal(path, (2.0, 3.0), 1.0)
    assert (x, y) == pytest.approx((2.0, 2.0)) and yaw == pytest.approx(1.5708, abs=1e-3)
    x, y, _ = approach_goal(path, (2.0, 3.0), 4.0)       # round the corner: 1 m along the first leg
    assert (x, y) == pytest.approx((1.0, 0.0))
    assert approach_goal([(0.0, 0.0), (0.5, 0.0)], (0.5, 0.0), 1.0)[:2] == (0.0, 0.0)


# ---------------------------------------------------------------------------- dispatcher
def snap(name, pose, busy=False, online=True, task=None, **kw):
    return RobotSnapshot(Candidate("home", name, online, pose, busy, **kw), "care_home", task)


def fall(severity=Severity.WARNING, position=(2.6, 4.0, 0.0), **kw):
    return new_alert("fall", AlertKind.FALL, severity, now=1000.0, position=position, **kw)


@pytest.fixture()
def dispatcher(paths):
    ids = iter(f"task-{i}" for i in range(100))
    return Dispatcher(paths.path_fn, paths.world, DispatchConfig(offer_timeout_s=10.0), new_id=lambda: next(ids))


def test_a_fall_is_offered_to_the_free_robot_and_followed(dispatcher):
    dispatcher.update_robots([snap("a", (3.4, 4.6), busy=True), snap("b", (5.6, 3.4))])
    alert = fall()
    effects = dispatcher.on_alert(alert, "home", "b", 0.0)
    assert [type(e) for e in effects] == [Offer] and effects[0].robot == "b" and effects[0].speed == 0.25
    goal = effects[0].goal
    assert 0.8 < ((goal[0] - 2.6) ** 2 + (goal[1] - 4.0) ** 2) ** 0.5 < 1.2     # stops ~1 m short
    # the robot reports the task: followed, not offered again
    dispatcher.update_robots([snap("a", (3.4, 4.6), busy=True),
                              snap("b", (4.5, 3.6), task=FleetTask("task-0", "attend", "active", alert.id))])
    assert dispatcher.tick(20.0) == []
    assert dispatcher.incidents[alert.id].state == "active"


def test_an_offline_robots_task_is_offered_again(dispatcher):
    dispatcher.update_robots([snap("a", (3.0, 5.0)), snap("b", (17.0, 2.6))])
    alert = fall()
    assert dispatcher.on_alert(alert, "home", "a", 0.0)[0].robot == "a"
    dispatcher.update_robots([snap("a", (3.0, 5.0), online=False), snap("b", (17.0, 2.6))])
    effects = dispatcher.tick(2.0)
    assert [(type(e), e.robot) for e in effects] == [(Offer, "b")]
    assert any("went offline" in d.text for d in dispatcher.decisions)
    # a is back and still holds the old task: it is told to let it go
    dispatcher.update_robots([snap("a", (3.0, 5.0), task=FleetTask("task-0", "attend", "active", alert.id)),
                              snap("b", (16.0, 3.0), task=FleetTask("task-1", "attend", "active", alert.id))])
    effects = dispatcher.tick(3.0)
    assert [(type(e), e.robot, e.task_id) for e in effects] == [(Release, "a", "task-0")]


def test_refused_failed_and_silent_robots_are_not_asked_again(dispatcher):
    dispatcher.update_robots([snap("a", (3.0, 5.0)), snap("b", (9.0, 7.0)), snap("c", (17.0, 2.6))])
    alert = fall()
    assert dispatcher.on_alert(alert, "home", "a", 0.0)[0].robot == "a"
    dispatcher.update_robots([snap("a", (3.0, 5.0), task=FleetTask("task-0", "attend", "refused", alert.id, "estop")),
                              snap("b", (9.0, 7.0)), snap("c", (17.0, 2.6))])
    assert dispatcher.tick(1.0)[0].robot == "b"
    assert dispatcher.tick(5.0) == []                       # b has 10 s to take it
    effects = dispatcher.tick(12.0)                         # b never answered
    assert effects[0].robot == "c"
    assert dispatcher.incidents[alert.id].excluded == {"a", "b"}


def test_waiting_until_a_robot_is_free_unless_it_becomes_critical(dispatcher):
    dispatcher.update_robots([snap("a", (3.4, 4.6), busy=True)])
    alert = fall()
    assert dispatcher.on_alert(alert, "home", "a", 0.0) == []
    assert dispatcher.incidents[alert.id].state == "waiting"
    escalated = alert.with_state(AlertState.ESCALATED, severity=Severity.CRITICAL)
    effects = dispatcher.on_alert(escalated, "home", "a", 5.0)
    assert [(type(e), e.robot, e.critical) for e in effects] == [(Offer, "a", True)]


def test_staff_closing_the_alert_releases_the_robot(dispatcher):
    dispatcher.update_robots([snap("b", (5.6, 3.4))])
    alert = fall()
    dispatcher.on_alert(alert, "home", "b", 0.0)
    acked = alert.with_state(AlertState.ACKNOWLEDGED, handled_by="nurse")
    effects = dispatcher.on_alert(acked, "home", "b", 30.0)
    assert [(type(e), e.robot, e.task_id) for e in effects] == [(Release, "b", "task-0")]
    assert dispatcher.incidents[alert.id].state == "closed"
    assert dispatcher.on_alert(alert, "home", "b", 31.0) == []          # a late repeat does not reopen it


def test_two_robots_seeing_one_fall_send_one_robot(dispatcher):
    dispatcher.update_robots([snap("a", (3.0, 5.0)), snap("b", (5.6, 3.4))])
    first, second = fall(), fall(position=(3.1, 4.4, 0.0))
    assert len(dispatcher.on_alert(first, "home", "a", 0.0)) == 1
    assert dispatcher.on_alert(second, "home", "b", 3.0) == []
    assert dispatcher.incidents[first.id].linked == [second.id]
    other_kind = new_alert("help", AlertKind.HELP_REQUEST, Severity.WARNING, position=(3.0, 4.0, 0.0))
    assert dispatcher.on_alert(other_kind, "home", "b", 4.0) != []        # another kind: its own incident


def test_only_incident_kinds_are_dispatched(dispatcher):
    dispatcher.update_robots([snap("a", (3.0, 5.0))])
    system = new_alert("sys", AlertKind.SYSTEM, Severity.WARNING, message="perception stopped")
    assert dispatcher.on_alert(system, "home", "a", 0.0) == [] and not dispatcher.incidents


def test_incident_point_from_position_place_or_the_robot():
    world = load_world("care_home")
    assert incident_point(fall(), world, (9.0, 9.0)) == (2.6, 4.0)
    by_place = new_alert("help", AlertKind.HELP_REQUEST, Severity.WARNING, place="kitchen")
    assert incident_point(by_place, world, (9.0, 9.0)) == (17.0, 2.6)
    relative = fall(frame_id="base_link")
    assert incident_point(relative, world, (9.0, 9.0)) == (9.0, 9.0)
    assert incident_point(new_alert("h", AlertKind.HELP_REQUEST, Severity.WARNING), world, None) is None
