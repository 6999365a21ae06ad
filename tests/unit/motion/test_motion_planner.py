"""Planner and navigation on the site grids, without ROS."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from carebot.motion.controller import PurePursuit, wrap_angle
from carebot.motion.description import FOOTPRINT_RADIUS
from carebot.motion.navigation import NavConfig, NavError, Navigator, NavState
from carebot.motion.planner import CostMap, PlannerConfig, plan, resample
from carebot.world import load_world, parse_world

DT = 0.05
SITES = ("care_home", "public_hall")


@pytest.fixture(scope="module", params=SITES)
def site(request):
    world = load_world(request.param)
    return world, CostMap.from_world(world)


def drive(nav: Navigator, pose, goal, obstacles_at=lambda pose, t: np.zeros((0, 2)), seconds=400.0,
          costmap=None, t0=0.0):
    """Unicycle kinematics under the navigator's commands; returns the last step, pose, least clearance."""
    pose = list(pose)
    t = t0
    step = nav.start(goal, tuple(pose), t)
    least = math.inf
    while not step.finished and t < t0 + seconds:
        step = nav.step(tuple(pose), obstacles_at(pose, t), t)
        pose[2] = wrap_angle(pose[2] + step.angular * DT)
        pose[0] += step.linear * math.cos(pose[2]) * DT
        pose[1] += step.linear * math.sin(pose[2]) * DT
        if costmap is not None:
            least = min(least, costmap.clearance_at(pose[0], pose[1]))
        t += DT
    return step, pose, least


def test_every_place_is_free_and_every_pair_has_a_path(site):
    world, costmap = site
    for place in world.places.values():
        assert costmap.free(place.x, place.y), place.name
    for a, b in itertools.combinations(world.places.values(), 2):
        result = plan(costmap, (a.x, a.y), (b.x, b.y))
        assert result.path is not None, f"{a.name} -> {b.name}: {result.reason}"
        assert result.path[0] == pytest.approx((a.x, a.y)) and result.path[-1] == pytest.approx((b.x, b.y))
        for p, q in zip(result.path, result.path[1:]):
            assert math.hypot(q[0] - p[0], q[1] - p[1]) <= 0.2 + 1e-6
        # Every waypoint keeps the robot radius plus the inflation margin from walls and furniture.
        assert min(costmap.clearance_at(*p) for p in result.path) >= costmap.config.lethal_clearance - 1e-9
        straight = math.hypot(b.x - a.x, b.y - a.y)
        assert straight - 1e-6 <= result.length <= 3.0 * straight + 10.0


def test_driving_between_every_pair_arrives_without_touching_anything(site):
    world, costmap = site
    for a, b in itertools.combinations(world.places.values(), 2):
        step, pose, least = drive(Navigator(costmap), (a.x, a.y, a.yaw), (b.x, b.y, b.yaw), costmap=costmap)
        assert step.error is NavError.NONE, f"{a.name} -> {b.name}: {step.message}"
        assert math.hypot(pose[0] - b.x, pose[1] - b.y) <= 0.15
        assert abs(wrap_angle(pose[2] - b.yaw)) <= 0.15
        assert least >= FOOTPRINT_RADIUS, f"{a.name} -> {b.name} came within {least:.2f} m of an obstacle"


def test_inflation_marks_cells_near_walls_lethal():
    world = load_world("care_home")
    costmap = CostMap.from_world(world)
    assert not costmap.free(0.1, 3.0)                  # against the west wall
    assert not costmap.free(FOOTPRINT_RADIUS, 7.0)     # the base would touch the wall
    assert costmap.free(1.0, 7.0)
    assert not costmap.free(11.0, 3.0)                 # on the dining table
    # Corridor middle is cheaper than near the wall: paths keep to the middle.
    row_mid, col = costmap.to_cell(10.0, 7.0)
    row_edge, _ = costmap.to_cell(10.0, 6.45)
    assert costmap.cost[row_mid, col] < costmap.cost[row_edge, col]


def test_unreachable_goal_is_reported():
    world = load_world("care_home")
    costmap = CostMap.from_world(world)
    assert plan(costmap, (1.0, 7.0), (11.0, 3.0)).path is None               # in the table
    step = Navigator(costmap).start((11.0, 3.0, None), (1.0, 7.0, 0.0), 0.0)
    assert step.finished and step.error is NavError.UNREACHABLE
    # A room with no door.
    closed = parse_world({"name": "box", "size": [10, 6], "robot_start": [1, 1, 0],
                          "walls": [[0, 0, 10, 0], [10, 0, 10, 6], [10, 6, 0, 6], [0, 6, 0, 0], [5, 0, 5, 6]]})
    cm = CostMap.from_world(closed)
    result = plan(cm, (2.0, 3.0), (8.0, 3.0))
    assert result.path is None and "no free path" in result.reason


def open_room():
    world = parse_world({"name": "hall", "size": [12, 8], "robot_start": [1, 4, 0],
                         "walls": [[0, 0, 12, 0], [12, 0, 12, 8], [12, 8, 0, 8], [0, 8, 0, 0]]})
    return CostMap.from_world(world)


OPEN_ROOM = open_room()


def person_at(cx, cy, radius=0.2, n=24):
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.column_stack((cx + radius * np.cos(a), cy + radius * np.sin(a)))


def test_person_in_the_way_stops_then_replans_around():
    costmap = open_room()
    nav = Navigator(costmap)
    person = person_at(6.0, 4.0)
    states = []

    def obstacles(pose, t):
        states.append(nav.state)
        return person

    step, pose, _ = drive(nav, (1.0, 4.0, 0.0), (11.0, 4.0, 0.0), obstacles, costmap=costmap)
    assert step.error is NavError.NONE and math.hypot(pose[0] - 11.0, pose[1] - 4.0) < 0.15
    assert NavState.WAITING in states
    assert min(np.hypot(*(np.array(p) - (6.0, 4.0))) for p in nav.path) > 0.5


def test_blocked_door_gives_blocked_after_the_timeout():
    world = load_world("care_home")
    costmap = CostMap.from_world(world)
    nav = Navigator(costmap)
    # A crowd fills the lounge door (x 3..5 at y = 6): the lounge has no other door.
    crowd = np.vstack([person_at(x, 6.0, 0.15) for x in np.arange(3.0, 5.01, 0.25)])
    step, pose, _ = drive(nav, (1.0, 7.0, 0.0), (5.0, 3.6, math.pi), lambda p, t: crowd, seconds=120)
    assert step.finished and step.error is NavError.BLOCKED, step
    assert "blocked" in step.message
    assert pose[1] > 6.3                               # it never drove into the crowd


def test_cancel_and_timeout():
    costmap = open_room()
    nav = Navigator(costmap)
    nav.start((11.0, 4.0, None), (1.0, 4.0, 0.0), 0.0)
    assert nav.step((1.0, 4.0, 0.0), np.zeros((0, 2)), 0.05).linear >= 0
    step = nav.cancel()
    assert step.finished and step.error is NavError.CANCELED and not nav.active
    nav.start((11.0, 4.0, None), (1.0, 4.0, 0.0), 0.0)
    step = nav.step((1.0, 4.0, 0.0), np.zeros((0, 2)), 1000.0)    # the robot never moved
    assert step.finished and step.error is NavError.TIMEOUT


def test_pure_pursuit_respects_its_limits_and_turns_in_place():
    follower = PurePursuit([(0, 0), (0, 1), (0, 2)], math.pi / 2)
    track = follower.step(0.0, 0.0, 0.0, DT)              # facing +x, path goes +y
    assert track.linear == 0 and track.angular > 0
    follower = PurePursuit([(x * 0.2, 0.0) for x in range(30)], 0.0)
    speeds = [follower.step(0.0, 0.0, 0.0, DT).linear for _ in range(100)]
    assert max(speeds) <= follower.config.max_linear + 1e-9
    assert all(b - a <= follower.config.linear_accel * DT + 1e-9 for a, b in zip(speeds, speeds[1:]))


def test_resample_keeps_ends_and_spacing():
    pts = resample([(0, 0), (1, 0), (1, 1)], 0.3)
    assert pts[0] == (0, 0) and pts[-1] == (1, 1)
    gaps = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(pts, pts[1:])]
    assert max(gaps) <= 0.3 + 1e-9


def test_planner_config_validation():
    with pytest.raises(ValueError):
        PlannerConfig(resolution=0.0).validate()
    with pytest.raises(ValueError):
        PlannerConfig(resolution=0.02, map_resolution=0.05).validate()


def test_person_standing_on_the_goal_gives_a_nearby_arrival():
    costmap = open_room()
    nav = Navigator(costmap)
    person = person_at(10.0, 4.0)
    step, pose, _ = drive(nav, (1.0, 4.0, 0.0), (10.0, 4.0, 0.0), lambda p, t: person, costmap=costmap)
    assert step.error is NavError.NONE and "occupy it" in step.message, step
    off = math.hypot(pose[0] - 10.0, pose[1] - 4.0)
    assert 1.0 < off <= nav.config.goal_relax_radius + 0.15   # clear of the safety layer's margin around people


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.floats(1.0, 11.0), st.floats(1.0, 7.0)), max_size=6),
       st.tuples(st.floats(0.5, 11.5), st.floats(0.5, 7.5)),
       st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=6))
def test_navigator_always_ends_with_bounded_commands(people, goal, junk):
    """Random people, goals and junk returns: commands stay finite and bounded, and every goal ends."""
    costmap = OPEN_ROOM
    nav = Navigator(costmap, config=NavConfig(blocked_timeout=8.0, progress_timeout=4.0, min_goal_timeout=20.0))
    crowd = np.vstack([person_at(x, y, 0.2, 8) for x, y in people] or [np.zeros((0, 2))])
    noise = np.array(junk + [0.0] * (len(junk) % 2), dtype=float).reshape(-1, 2)
    obstacles = np.vstack((crowd, noise))
    pose = [1.0, 4.0, 0.0]
    t = 0.0
    step = nav.start((goal[0], goal[1], None), tuple(pose), t)
    while not step.finished:
        step = nav.step(tuple(pose), obstacles, t)
        assert math.isfinite(step.linear) and math.isfinite(step.angular)
        assert 0.0 <= step.linear <= nav.pursuit_config.max_linear + 1e-9
        assert abs(step.angular) <= nav.pursuit_config.max_angular + 1e-9
        pose[2] = wrap_angle(pose[2] + step.angular * DT)
        pose[0] += step.linear * math.cos(pose[2]) * DT
        pose[1] += step.linear * math.sin(pose[2]) * DT
        t += DT
        assert t < 400, "the goal never ended"
    assert step.error in (NavError.NONE, NavError.UNREACHABLE, NavError.BLOCKED, NavError.TIMEOUT)
