"""Incidents across the fleet: offered to a robot, followed, re-offered, released.

Pure logic with explicit time (like the brain's fall response): the fleet view hands in
every alert it hears (``on_alert``) and the robots as they are now (``update_robots``),
ticks it once a second, and carries out the returned effects (``Offer``, ``Release``) by
sending task commands to the robots. Level-triggered: each tick compares what the robots
report (their ``fleet_task``) with what the dispatcher assigned, so a lost message, a
robot that was offline, or a view that restarted all converge.

- A FALL, HELP_REQUEST or MEDICAL alert that is open becomes an incident at a point on the
  site map (its position, else its named place, else where the robot that raised it is).
- The same kind at the same site within ``same_incident_m`` and ``same_incident_s`` of an
  open incident is the same incident (two robots seeing one fall send one robot).
- The robot is chosen by ``carebot.fleet.allocator.allocate``; it is offered an ``attend``
  task with a goal short of the person. It reports the task in its state (active, arrived,
  attending_locally); no report within ``offer_timeout_s``, a refusal or a failure: the
  next robot is tried (that robot is not asked again for this incident).
- A robot that goes offline (its presence token is gone, or its state is stale) loses its
  task: the incident is offered again at once. When it is back and still reports the task,
  it is told to release it.
- Staff acknowledging or resolving the alert (or the robot raising it resolving a machine
  alert) closes the incident and releases the robot.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Callable

from carebot.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.fleet.allocator import Allocation, Candidate, PathFn, allocate, approach_goal
from carebot.fleet.payloads import FleetTask
from carebot.world import World

INCIDENT_KINDS = frozenset({AlertKind.FALL, AlertKind.HELP_REQUEST, AlertKind.MEDICAL})
MAP_FRAMES = ("", "map")
DECISIONS_KEPT = 200
CLOSED_KEPT = 50


@dataclass(frozen=True)
class DispatchConfig:
    offer_timeout_s: float = 10.0       # no report of the offered task this long: next robot
    same_incident_m: float = 2.0        # same kind this near an open incident ...
    same_incident_s: float = 120.0      # ... raised this soon after it: the same incident
    standoff_m: float = 1.0             # stop this far short of the person, on the path
    attend_speed_mps: float = 0.25      # low speed near a person on the floor (as the brain's fall approach)


@dataclass(frozen=True)
class RobotSnapshot:
    """A robot as the view knows it now."""

    candidate: Candidate
    world: str
    task: FleetTask | None = None


@dataclass(frozen=True)
class Offer:
    site: str
    robot: str
    task_id: str
    alert_id: str
    goal: tuple[float, float, float]
    critical: bool
    speed: float
    preempts: bool


@dataclass(frozen=True)
class Release:
    site: str
    robot: str
    task_id: str
    alert_id: str
    reason: str


Effect = Offer | Release


@dataclass(frozen=True)
class Decision:
    """One line of the dispatch log the view shows (and the scenario reads)."""

    at: float
    alert_id: str
    text: str
    robot: str = ""
    ranked: tuple = ()


@dataclass
class Incident:
    alert_id: str
    site: str
    origin: str                         # the robot that raised it
    kind: AlertKind
    critical: bool
    point: tuple[float, float] | None
    world: str
    opened_at: float
    state: str = "waiting"              # waiting, offered, active, arrived, closed
    robot: str = ""
    task_id: str = ""
    offered_at: float = 0.0
    excluded: set[str] = field(default_factory=set)
    linked: list[str] = field(default_factory=list)
    last_reason: str = ""

    def to_json(self) -> dict:
        return {"alert_id": self.alert_id, "site": self.site, "origin": self.origin, "kind": self.kind.name,
                "critical": self.critical, "point": list(self.point) if self.point else None, "state": self.state,
                "robot": self.robot, "task_id": self.task_id, "linked": list(self.linked),
                "waiting_reason": self.last_reason if self.state == "waiting" else ""}


def incident_point(record: AlertRecord, world: World | None,
                   origin_pose: tuple[float, float] | None) -> tuple[float, float] | None:
    """Where the incident is on the site map: its measured position, its place, or the robot
    that raised it (it saw or heard the person near it); None when none is known."""
    if record.position is not None and record.frame_id in MAP_FRAMES:
        return float(record.position[0]), float(record.position[1])
    if world is not None and record.place:
        place = world.place_named(record.place)
        if place is not None:
            return place.x, place.y
    return origin_pose


def is_critical(record: AlertRecord) -> bool:
    return record.severity is Severity.CRITICAL or record.state is AlertState.ESCALATED


class Dispatcher:
    """Incidents of every site of this view and the robots sent to them."""

    def __init__(self, path_for: Callable[[str], PathFn], world_of: Callable[[str], World | None],
                 config: DispatchConfig | None = None, new_id: Callable[[], str] | None = None):
        self.config = config or DispatchConfig()
        self._path_for = path_for
        self._world_of = world_of
        self._new_id = new_id or (lambda: f"task-{uuid.uuid4().hex[:10]}")
        self.incidents: dict[str, Incident] = {}
        self._alias: dict[str, str] = {}             # linked alert id -> incident's alert id
        self.robots: dict[tuple[str, str], RobotSnapshot] = {}
        self.decisions: list[Decision] = []

    # ------------------------------------------------------------------ inputs
    def update_robots(self, snapshots: list[RobotSnapshot]) -> None:
        self.robots = {s.candidate.key: s for s in snapshots}

    def on_alert(self, record: AlertRecord, site: str, origin: str, now: float) -> list[Effect]:
        """An alert heard from a robot (any state); returns what to send now."""
        if record.kind not in INCIDENT_KINDS:
            return []
        key = self._alias.get(record.id, record.id)
        incident = self.incidents.get(key)
        if incident is None:
            return self._open(record, site, origin, now)
        if incident.state == "closed":
            return []
        if record.state in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED) and record.id == incident.alert_id:
            return self._close(incident, now, f"{record.state.name.lower()} by {record.handled_by or 'staff'}")
        if is_critical(record) and not incident.critical:
            incident.critical = True
            self._log(now, incident.alert_id, "now critical")
            return self.tick(now)
        return []

    def _open(self, record: AlertRecord, site: str, origin: str, now: float) -> list[Effect]:
        if not record.is_open or record.state is AlertState.ACKNOWLEDGED:
            return []          # already handled by staff when first heard (a catch-up of an old alert)
        snapshot = self.robots.get((site, origin))
        world_name = snapshot.world if snapshot else ""
        world = self._world_of(world_name) if world_name else None
        pose = snapshot.candidate.pose if snapshot else None
        point = incident_point(record, world, pose)
        same = self._same_incident(site, record.kind, point, now)
        if same is not None:
            same.linked.append(record.id)
            self._alias[record.id] = same.alert_id
            self._log(now, record.id, f"same incident as {same.alert_id} (same kind, within "
                      f"{self.config.same_incident_m:g} m and {self.config.same_incident_s:g} s): not sent again")
            return []
        incident = Incident(record.id, site, origin, record.kind, is_critical(record), point, world_name, now)
        self.incidents[record.id] = incident
        where = f"({point[0]:.1f}, {point[1]:.1f})" if point else "an unknown place"
        self._log(now, record.id, f"new {record.kind.name} incident from {origin} at {where}"
                  + (", critical" if incident.critical else ""))
        return self.tick(now)

    def _same_incident(self, site, kind, point, now) -> Incident | None:
        if point is None:
            return None
        for incident in self.incidents.values():
            if (incident.state != "closed" and incident.site == site and incident.kind is kind
                    and incident.point is not None and math.dist(incident.point, point) <= self.config.same_incident_m
                    and (incident.robot or now - incident.opened_at <= self.config.same_incident_s)):
                # while a robot attends it, an alert near it is the same person (fleet_fall: perception
                # raised a second FALL for the same resident 4 min later, and a second robot was sent)
                return incident
        return None

    # ------------------------------------------------------------------ the loop
    def tick(self, now: float) -> list[Effect]:
        """Follow every open incident; release tasks robots hold that nobody assigned."""
        effects: list[Effect] = []
        for incident in [i for i in self.incidents.values() if i.state != "closed"]:
            effects += self._follow(incident, now)
        assigned = {(i.site, i.robot, i.task_id) for i in self.incidents.values() if i.state != "closed" and i.robot}
        for (site, robot), snapshot in sorted(self.robots.items()):
            task = snapshot.task
            if (snapshot.candidate.online and task is not None and task.kind == "attend" and task.holds_robot
                    and (site, robot, task.id) not in assigned):
                effects.append(Release(site, robot, task.id, task.alert_id, "not assigned to this robot (any more)"))
        return effects

    def _follow(self, incident: Incident, now: float) -> list[Effect]:
        if incident.robot:
            snapshot = self.robots.get((incident.site, incident.robot))
            if snapshot is None or not snapshot.candidate.online:
                self._log(now, incident.alert_id, f"{incident.robot} went offline: offered again", incident.robot)
                self._unassign(incident)
            else:
                task = snapshot.task
                if task is not None and task.id == incident.task_id:
                    if task.status in ("failed", "refused", "released"):
                        self._log(now, incident.alert_id, f"{incident.robot} {task.status} the task"
                                  + (f": {task.message}" if task.message else ""), incident.robot)
                        incident.excluded.add(incident.robot)
                        self._unassign(incident)
                    elif task.status != incident.state and task.status in ("active", "arrived", "attending_locally"):
                        incident.state = task.status
                        self._log(now, incident.alert_id, f"{incident.robot}: {task.status.replace('_', ' ')}",
                                  incident.robot)
                elif incident.state == "offered" and now - incident.offered_at > self.config.offer_timeout_s:
                    self._log(now, incident.alert_id, f"{incident.robot} did not take the task within "
                              f"{self.config.offer_timeout_s:g} s", incident.robot)
                    incident.excluded.add(incident.robot)
                    self._unassign(incident)
            if incident.robot:
                return []
        return self._allocate(incident, now)

    def _allocate(self, incident: Incident, now: float) -> list[Effect]:
        if incident.point is None:
            return self._wait(incident, now, "the incident has no known place on the map")
        attending = {(i.site, i.robot): i.alert_id for i in self.incidents.values()
                     if i.state != "closed" and i.robot and i is not incident}
        candidates = []
        for key, snapshot in self.robots.items():
            c = snapshot.candidate
            candidates.append(Candidate(c.site, c.robot, c.online, c.pose, c.busy, c.estop, c.health,
                                        c.accepts_tasks, attending.get(key, "")))
        world = incident.world or next((s.world for s in self.robots.values() if s.candidate.site == incident.site), "")
        if not world:
            return self._wait(incident, now, "no robot of this site reports its map")
        path_of = self._path_for(world)
        result: Allocation = allocate(incident.site, incident.point, incident.critical, candidates, path_of,
                                      incident.excluded)
        if result.robot is None:
            return self._wait(incident, now, result.reason, result.ranked)
        goal = approach_goal(list(result.path), incident.point, self.config.standoff_m)
        incident.robot, incident.task_id = result.robot, self._new_id()
        incident.state, incident.offered_at, incident.last_reason = "offered", now, ""
        self._log(now, incident.alert_id, f"offered to {result.robot}: {result.reason}", result.robot, result.ranked)
        return [Offer(incident.site, result.robot, incident.task_id, incident.alert_id, goal, incident.critical,
                      self.config.attend_speed_mps, result.preempts)]

    def _wait(self, incident: Incident, now: float, reason: str, ranked: tuple = ()) -> list[Effect]:
        if reason != incident.last_reason:
            self._log(now, incident.alert_id, f"waiting: {reason}", "", ranked)
            incident.last_reason = reason
        incident.state = "waiting"
        return []

    def _unassign(self, incident: Incident) -> None:
        incident.robot, incident.task_id, incident.state, incident.last_reason = "", "", "waiting", ""

    def _close(self, incident: Incident, now: float, why: str) -> list[Effect]:
        effects: list[Effect] = []
        if incident.robot:
            effects.append(Release(incident.site, incident.robot, incident.task_id, incident.alert_id, why))
        incident.state = "closed"
        self._log(now, incident.alert_id, f"closed: {why}" + (f"; {incident.robot} released" if incident.robot else ""),
                  incident.robot)
        closed = [k for k, i in self.incidents.items() if i.state == "closed"]
        for key in closed[:-CLOSED_KEPT]:
            del self.incidents[key]
        return effects

    def _log(self, now: float, alert_id: str, text: str, robot: str = "", ranked: tuple = ()) -> None:
        self.decisions.append(Decision(now, alert_id, text, robot, tuple(ranked)))
        del self.decisions[:-DECISIONS_KEPT]
