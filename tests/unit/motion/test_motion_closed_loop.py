"""Navigator and safety layer in one loop with a ray-cast lidar (no ROS, no physics).

A kinematic base follows the safety layer's output; the lidar is ray-cast against the
site grid and people (discs). This checks that the two layers work together: the
navigator's commands pass through the safety layer, people stop the robot, and it never
touches anyone. Physics and rendering are the simulation's scenario tests.
"""
from __future__ import annotations

import math

import numpy as np

from carebot.motion.description import FOOTPRINT_RADIUS, LASER_X
from carebot.motion.scan import StaticMap, to_map
from carebot.motion.navigation import NavError, Navigator, NavState
from carebot.motion.planner import CostMap
from carebot.motion.safety import SafetyLayer, Source
from carebot.world import load_world, occupancy_grid, parse_world

DT = 0.05
PERSON_RADIUS = 0.2
BEAMS = np.linspace(-math.pi, math.pi, 180, endpoint=False)
STEPS = np.arange(0.05, 6.0, 0.05)            # m; farther returns matter to no decision here


class Lidar:
    def __init__(self, world):
        grid = occupancy_grid(world, 0.05)
        self.occupied = grid.data >= 50
        self.res = grid.resolution

    def scan(self, pose, people):
        """Points (N, 2) in the base frame, in beam order."""
        x, y, yaw = pose
        ox, oy = x + LASER_X * math.cos(yaw), y + LASER_X * math.sin(yaw)
        a = BEAMS + yaw
        px = ox + np.outer(np.cos(a), STEPS)
        py = oy + np.outer(np.sin(a), STEPS)
        rows = np.clip((py / self.res).astype(int), 0, self.occupied.shape[0] - 1)
        cols = np.clip((px / self.res).astype(int), 0, self.occupied.shape[1] - 1)
        hit = self.occupied[rows, cols]
        for cx, cy in people:
            hit |= np.hypot(px - cx, py - cy) <= PERSON_RADIUS
        first = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
        ok = first >= 0
        r = STEPS[first[ok]]
        beams = BEAMS[ok]
        return np.column_stack((LASER_X + r * np.cos(beams), r * np.sin(beams))), np.nonzero(ok)[0]


def run(world, start, goal, people_at, seconds=150.0):
    costmap = CostMap.from_world(world)
    lidar = Lidar(world)
    static_map = StaticMap(world)                                  # as base_safety with its site set
    nav, safety = Navigator(costmap, static_map=static_map), SafetyLayer()
    pose = list(start)
    t = 0.0
    step = nav.start(goal, tuple(pose), t)
    closest = math.inf
    held = 0.0
    waited = 0.0
    while not step.finished and t < seconds:
        people = people_at(t, pose)
        if round(t / DT) % 2 == 0:                                 # lidar at 10 Hz
            points, index = lidar.scan(pose, people)
            in_map = to_map(points, pose)
            safety.scan(points, t, index, static_map.near_static(in_map))
            safety.arm(True, t)                                    # the arm stays at rest
            c, s = math.cos(pose[2]), math.sin(pose[2])
            rel = [((px - pose[0]) * c + (py - pose[1]) * s, -(px - pose[0]) * s + (py - pose[1]) * c)
                   for px, py in people]
            safety.persons(np.array(rel).reshape(-1, 2), t)        # perception sees them too
        step = nav.step(tuple(pose), in_map, t)
        safety.command(Source.NAVIGATION, step.linear, step.angular, t)
        out = safety.step(t)
        held += DT if (people and out.linear == 0) else 0.0         # standing still for someone
        waited += DT if step.state is NavState.WAITING else 0.0
        pose[2] += out.angular * DT
        pose[0] += out.linear * math.cos(pose[2]) * DT
        pose[1] += out.linear * math.sin(pose[2]) * DT
        for px, py in people:
            closest = min(closest, math.hypot(px - pose[0], py - pose[1]) - FOOTPRINT_RADIUS - PERSON_RADIUS)
        t += DT
    return step, pose, closest, held, waited


def test_person_steps_in_front_robot_stops_then_goes_on_when_they_leave():
    world = load_world("care_home")
    # Along the corridor from the dock toward the nurse station: when the robot passes x = 6,
    # someone steps out 1.1 m in front of it, stands there 6 s, then walks off.
    appeared = {}

    def people(t, pose):
        if not appeared and pose[0] > 6.0:
            appeared.update(t=t, at=(pose[0] + 1.1 + FOOTPRINT_RADIUS, pose[1]))
        return [appeared["at"]] if appeared and t - appeared["t"] < 6.0 else []

    step, pose, closest, held, _ = run(world, (1.0, 7.0, 0.0), (17.5, 9.6, math.pi / 2), people)
    assert appeared, "the robot never reached the corridor"
    assert step.error is NavError.NONE, step
    assert math.hypot(pose[0] - 17.5, pose[1] - 9.6) < 0.15
    assert closest > 0.1, f"came within {closest:.2f} m of the person"
    assert held > 3.0                                              # it waited for them


def test_person_on_the_goal_spot_robot_stops_near_it_without_touching():
    world = parse_world({"name": "room", "size": [12, 8], "robot_start": [1, 4, 0],
                         "walls": [[0, 0, 12, 0], [12, 0, 12, 8], [12, 8, 0, 8], [0, 8, 0, 0]]})
    step, pose, closest, _, _ = run(world, (1.0, 4.0, 0.0), (9.0, 4.0, 0.0), lambda t, pose: [(9.0, 4.0)])
    assert step.error is NavError.NONE and "occupy it" in step.message, step
    assert closest > 0.1
    assert math.hypot(pose[0] - 9.0, pose[1] - 4.0) < 1.8


def test_hall_robot_goes_around_a_visitor_standing_in_front_of_it():
    # The robot faces a visitor 1.2 m ahead at the information desk and is sent to a counter
    # behind them: it must detour wide enough that the safety layer's margin around people
    # does not hold it, and arrive without touching them.
    world = load_world("public_hall")
    start = world.places["info_desk"]
    goal = world.places["counter_3"]
    step, pose, closest, _, _ = run(world, (start.x, start.y, start.yaw), (goal.x, goal.y, goal.yaw),
                                 lambda t, pose: [(12.0, 6.6)])
    assert step.error is NavError.NONE, step
    assert math.hypot(pose[0] - goal.x, pose[1] - goal.y) < 0.15
    assert closest > 0.1


def test_doors_and_narrow_gaps_do_not_look_blocked():
    # Through the office door (1.4 m) of the hall and two doors of the care home, nobody around:
    # walls near the path are the map's business, so the robot never stops to wait.
    for site, a, b in (("public_hall", "info_desk", "office"), ("care_home", "corridor", "kitchen")):
        world = load_world(site)
        start, goal = world.places[a], world.places[b]
        step, pose, _, _, waited = run(world, (start.x, start.y, start.yaw), (goal.x, goal.y, goal.yaw),
                                       lambda t, pose: [])
        assert step.error is NavError.NONE, (site, step)
        assert waited == 0.0, f"{site}: waited {waited:.1f} s for nothing"


def test_dining_room_spot_taken_robot_stops_at_the_door_facing_it():
    # The simulated care home's visitor stands 0.3 m from the dining-room place, 1.1 m inside
    # the door: the robot cannot pass them at a respectful distance, so it stops as near as it
    # may and says so.
    world = load_world("care_home")
    goal = world.places["dining_room"]
    step, pose, closest, _, _ = run(world, (10.0, 7.0, 0.0), (goal.x, goal.y, goal.yaw),
                                    lambda t, pose: [(11.0, 4.9)])
    assert step.error is NavError.NONE and "occupy it" in step.message, step
    assert closest > 0.1
    assert math.hypot(pose[0] - goal.x, pose[1] - goal.y) <= 2.0 + 0.15
    facing = math.atan2(goal.y - pose[1], goal.x - pose[0])
    assert abs((pose[2] - facing + math.pi) % (2 * math.pi) - math.pi) < 0.3
