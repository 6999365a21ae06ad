"""Which robot goes to an incident: the fleet's one allocation rule, pure and deterministic.

The rule (issue 17, docs/fleet.md):

1. Candidates are the robots of the incident's site that are online, not in an emergency
   stop, healthy (diagnostics OK or WARN), take fleet tasks, are not attending another
   incident for the fleet, have not failed or refused this incident, and have a path to it.
2. Among the **free** candidates (no errand of their own) the one with the shortest path on
   the site map goes.
3. A robot on an errand keeps it, unless the incident is **critical and no other robot is
   free**: then the busy candidate with the shortest path is sent (its errand is dropped).
4. Otherwise nobody is sent now; the incident waits and is offered again when a robot is free
   (carebot.fleet.dispatcher).

Ties on path length (to the centimetre) go to the robot whose name sorts first, so the same
inputs always give the same answer. Path length is A* on the inflated site map
(``carebot.motion.planner``, the navigator's own planner), not the straight line: a robot
behind a wall is farther than it looks.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Iterable

from carebot.motion.planner import CostMap, plan
from carebot.world import World, load_world

HEALTHY = ("OK", "WARN")
LENGTH_RESOLUTION_M = 0.01          # path lengths compared to the centimetre (ties -> name)


@dataclass(frozen=True)
class Candidate:
    """What the rule needs to know of one robot."""

    site: str
    robot: str
    online: bool
    pose: tuple[float, float] | None     # x, y on the site map
    busy: bool                            # on an errand of its own
    estop: bool = False
    health: str = "OK"
    accepts_tasks: bool = True
    attending: str = ""                   # alert id of the incident it attends for the fleet ('' none)

    @property
    def key(self) -> tuple[str, str]:
        return self.site, self.robot


@dataclass(frozen=True)
class Ranked:
    """One robot as the rule saw it: its path length (None: no path or not considered) and why
    it was left out ('' = it was a candidate)."""

    robot: str
    length: float | None
    free: bool
    excluded: str = ""


@dataclass(frozen=True)
class Allocation:
    """The rule's answer: the robot to send (None: nobody now), whether it drops an errand,
    the reason in words, and every robot with its length or why it was left out."""

    robot: str | None
    preempts: bool
    reason: str
    ranked: tuple[Ranked, ...]
    path: tuple[tuple[float, float], ...] = ()


PathFn = Callable[[tuple[float, float], tuple[float, float]], "tuple[float, list[tuple[float, float]]] | None"]


def allocate(site: str, point: tuple[float, float], critical: bool, robots: Iterable[Candidate],
             path_of: PathFn, exclude: Iterable[str] = ()) -> Allocation:
    """Apply the rule to one incident at ``point`` (site map, m); ``path_of(start, goal)``
    gives (length m, path points) or None when there is no path."""
    excluded = set(exclude)
    ranked: list[Ranked] = []
    options: list[tuple[float, str, bool, list]] = []
    for robot in sorted(robots, key=lambda r: r.robot):
        if robot.site != site:
            continue
        why = _left_out(robot, excluded)
        if why:
            ranked.append(Ranked(robot.robot, None, not robot.busy, why))
            continue
        found = path_of(robot.pose, point)
        if found is None:
            ranked.append(Ranked(robot.robot, None, not robot.busy, "no path on the site map"))
            continue
        length, path = found
        ranked.append(Ranked(robot.robot, round(length, 2), not robot.busy))
        options.append((round(length / LENGTH_RESOLUTION_M), robot.robot, robot.busy, path))
    free = sorted(o for o in options if not o[2])
    if free:
        _, name, _, path = free[0]
        return Allocation(name, False, f"nearest free robot ({free[0][0] * LENGTH_RESOLUTION_M:.1f} m)",
                          tuple(ranked), tuple(path))
    busy = sorted(o for o in options if o[2])
    if busy and critical:
        _, name, _, path = busy[0]
        return Allocation(name, True, f"critical and no robot free: the nearest busy robot drops its errand "
                          f"({busy[0][0] * LENGTH_RESOLUTION_M:.1f} m)", tuple(ranked), tuple(path))
    if busy:
        return Allocation(None, False, "every candidate is on an errand and the incident is not critical: "
                          "waiting for a free robot", tuple(ranked))
    return Allocation(None, False, "no robot can go (offline, stopped, unhealthy, attending, or no path)",
                      tuple(ranked))


def _left_out(robot: Candidate, excluded: set[str]) -> str:
    if not robot.online:
        return "offline"
    if robot.robot in excluded:
        return "failed or refused this incident"
    if robot.estop:
        return "emergency stop"
    if robot.health not in HEALTHY:
        return f"health {robot.health}"
    if not robot.accepts_tasks:
        return "takes no fleet tasks"
    if robot.attending:
        return f"attending {robot.attending}"
    if robot.pose is None:
        return "pose unknown"
    return ""


def approach_goal(path: list[tuple[float, float]] | tuple, target: tuple[float, float],
                  standoff_m: float) -> tuple[float, float, float]:
    """Where to stop: on the path, ``standoff_m`` before the person, facing them.

    A person on the floor is not an obstacle on the static map: stopping on the path a
    little short of them keeps the base off their body (the brain's fall approach does the
    same for a robot's own falls). A path shorter than the stand-off gives its start.
    """
    points = list(path) or [target]
    remaining = standoff_m
    stop = points[0]
    for a, b in zip(reversed(points[:-1]), reversed(points[1:])):
        seg = math.hypot(b[0] - a[0], b[1] - a[1])
        if seg >= remaining:
            t = (seg - remaining) / seg if seg > 0 else 0.0
            stop = (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
            break
        remaining -= seg
    yaw = math.atan2(target[1] - stop[1], target[0] - stop[0])
    return float(stop[0]), float(stop[1]), float(yaw)


class SitePaths:
    """A* path lengths on each site's map, one cost map per world, built on first use."""

    def __init__(self, loader: Callable[[str], World] = load_world):
        self._loader = loader
        self._maps: dict[str, CostMap] = {}
        self._worlds: dict[str, World] = {}
        self._lock = threading.Lock()

    def world(self, name: str) -> World:
        with self._lock:
            if name not in self._worlds:
                self._worlds[name] = self._loader(name)
            return self._worlds[name]

    def costmap(self, name: str) -> CostMap:
        world = self.world(name)
        with self._lock:
            if name not in self._maps:
                self._maps[name] = CostMap.from_world(world)
            return self._maps[name]

    def path_fn(self, world_name: str) -> PathFn:
        """``path_of(start, goal)`` on one site's map for ``allocate``."""
        costmap = self.costmap(world_name)

        def path_of(start, goal):
            result = plan(costmap, (float(start[0]), float(start[1])), (float(goal[0]), float(goal[1])))
            return None if result.path is None else (result.length, result.path)
        return path_of
