"""The robot's side of the fleet link, without ROS or Zenoh: what it says and what it does.

``BridgeCore`` is fed the robot's status, diagnostics and alerts (from the node's ROS
callbacks) and the fleet's commands (from Zenoh), with explicit time; it returns the
state to publish and typed effects for the node to carry out (``SendAlert`` on the local
``alerts`` topic, ``EStop``, ``Navigate``, ``CancelNavigation``). Nothing here blocks.

Rules it keeps:

- **busy** means an errand of the robot's own (the brain's fetch, a staff 'send to a
  place'): a task seen on ``robot/status`` within ``busy_hold_s``, so the gap between an
  errand's two drives does not make the robot look free. Its own drive for a fleet
  ``attend`` task is not an errand: that robot is *attending*.
- A staff action names an alert; only this robot's own alerts are acted on (a command for
  another robot's alert is refused and logged, never applied).
- A task offer is refused in an emergency stop, when the robot takes no fleet tasks, or
  while it attends another incident; an offer for an incident this robot raised itself is
  left to its own brain's fall response when ``own_incidents_by_brain`` (the brain is
  already going), and reported as ``attending_locally``.
- The robot keeps every alert it raised (open, and the latest resolved ones) to answer the
  fleet's catch-up query when its link comes back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from carebot.alerts import AlertRecord
from carebot.dashboard.alerts import AlertActionError, StaffAction, apply_action, merge_incoming
from carebot.fleet.payloads import Command, FleetTask, RobotState

BUSY_MODES = ("NAVIGATING", "GESTURING", "TELEOP")
RESOLVED_KEPT = 50            # resolved alerts kept for the catch-up (open ones are always kept)


@dataclass(frozen=True)
class BridgeConfig:
    site: str
    robot: str
    world: str = "care_home"
    busy_hold_s: float = 5.0          # an errand's task seen this recently still counts (gap between drives)
    accepts_tasks: bool = True
    accept_remote_estop: bool = True
    own_incidents_by_brain: bool = True
    diagnostics_stale_s: float = 5.0  # a node silent this long no longer counts for health


# ---------------------------------------------------------------------------- effects
@dataclass(frozen=True)
class SendAlert:
    """Publish this change of one of the robot's alerts on its local ``alerts`` topic."""

    record: AlertRecord


@dataclass(frozen=True)
class EStop:
    staff: str
    view: str


@dataclass(frozen=True)
class Navigate:
    """A NavigateTo goal: a named place, or a map pose (x, y, yaw); speed 0 = the robot's limit."""

    task_id: str
    place: str = ""
    goal: tuple[float, float, float] | None = None
    speed: float = 0.0


@dataclass(frozen=True)
class CancelNavigation:
    task_id: str


@dataclass(frozen=True)
class Log:
    level: str        # info, warning
    text: str


Effect = SendAlert | EStop | Navigate | CancelNavigation | Log


@dataclass(frozen=True)
class Status:
    """What the bridge takes from RobotStatus (mode by name, pose on the site map)."""

    mode: str
    task: str
    speed_limit: float
    estop: bool
    stop_reason: str
    pose: tuple[float, float, float] | None


class BridgeCore:
    """State and decisions of one robot's fleet bridge."""

    def __init__(self, config: BridgeConfig):
        self.config = config
        self.status: Status | None = None
        self._diagnostics: dict[str, tuple[int, str, float]] = {}
        self.alerts: dict[str, AlertRecord] = {}
        self.task: FleetTask | None = None
        self._driving: str = ""            # task id whose NavigateTo goal is ours and running
        self._own_task_seen_at = -math.inf
        self._seq = 0
        self.refused_commands = 0

    # ------------------------------------------------------------------ inputs from ROS
    def on_status(self, status: Status, now: float) -> None:
        was = self.status
        self.status = status
        own = bool(status.task) or status.mode in BUSY_MODES
        ended = was is not None and (bool(was.task) or was.mode in BUSY_MODES) and not own
        if (own or ended) and not self._driving:     # the hold counts from the end of a task
            self._own_task_seen_at = now

    def on_diagnostics(self, entries, now: float) -> None:
        """``entries``: (name, level 0..3, message) of each DiagnosticStatus heard."""
        for name, level, message in entries:
            if name.startswith("carebot/"):
                self._diagnostics[name] = (int(level), message, now)

    def on_alert(self, record: AlertRecord) -> AlertRecord | None:
        """An alert heard on the local topic; the record to send to the fleet when it changed."""
        merged = merge_incoming(self.alerts.get(record.id), record)
        if merged is None:
            return None
        self.alerts[record.id] = merged
        self._trim()
        return merged

    def _trim(self) -> None:
        resolved = sorted((r for r in self.alerts.values() if not r.is_open), key=lambda r: r.updated_at)
        for record in resolved[:-RESOLVED_KEPT]:
            del self.alerts[record.id]

    # ------------------------------------------------------------------ what it says
    def busy(self, now: float) -> bool:
        if self.task is not None and self.task.kind == "goto" and self.task.holds_robot:
            return True
        return now - self._own_task_seen_at <= self.config.busy_hold_s

    def health(self, now: float) -> tuple[str, str]:
        fresh = [(level, name, message) for name, (level, message, at) in self._diagnostics.items()
                 if now - at <= self.config.diagnostics_stale_s]
        if not fresh:
            return "STALE", "no node reports on /diagnostics"
        level, name, message = max(fresh)
        return ("OK", "WARN", "ERROR", "STALE")[min(level, 3)], f"{name}: {message}" if level else "all nodes OK"

    def state(self, now: float) -> RobotState:
        self._seq += 1
        status = self.status
        health, health_message = self.health(now)
        return RobotState(
            site=self.config.site, robot=self.config.robot, world=self.config.world, stamp=now, seq=self._seq,
            pose=status.pose if status else None, mode=status.mode if status else "UNKNOWN",
            task=status.task if status else "", busy=self.busy(now), speed_limit=status.speed_limit if status else 0.0,
            estop=status.estop if status else False, stop_reason=status.stop_reason if status else "",
            health=health, health_message=health_message[:200],
            open_alerts=sum(1 for r in self.alerts.values() if r.is_open), fleet_task=self.task,
            accepts_tasks=self.config.accepts_tasks)

    def catch_up(self) -> list[AlertRecord]:
        """Every alert kept, oldest first: the answer to the fleet's catch-up query."""
        return sorted(self.alerts.values(), key=lambda r: (r.raised_at, r.id))

    # ------------------------------------------------------------------ commands from the fleet
    def on_command(self, command: Command, now: float) -> list[Effect]:
        handler = {"alert": self._alert_action, "estop": self._estop, "goto": self._goto,
                   "task": self._task}[command.verb]
        return handler(command, now)

    def _refuse(self, text: str) -> list[Effect]:
        self.refused_commands += 1
        return [Log("warning", text)]

    def _alert_action(self, command: Command, now: float) -> list[Effect]:
        args = command.args
        stored = self.alerts.get(args["alert_id"])
        if stored is None:
            return self._refuse(f"{command.staff} at {command.view}: {args['action']} of alert {args['alert_id']!r} "
                                "refused: not an alert of this robot")
        action = StaffAction.ACKNOWLEDGE if args["action"] == "acknowledge" else StaffAction.RESOLVE
        try:
            updated = apply_action(stored, action, command.staff, args["note"], now)
        except AlertActionError as exc:
            return [Log("info", f"{command.staff} at {command.view}: {exc}")]
        self.alerts[updated.id] = updated
        return [SendAlert(updated), Log("info", f"alert {updated.id} {updated.state.name.lower()} by "
                                                f"{command.staff} at {command.view}")]

    def _estop(self, command: Command, now: float) -> list[Effect]:
        if not self.config.accept_remote_estop:
            return self._refuse(f"emergency stop from {command.staff} at {command.view} refused: "
                                "accept_remote_estop is false")
        return [EStop(command.staff, command.view),
                Log("warning", f"EMERGENCY STOP from the fleet by {command.staff} at {command.view}")]

    def _goto(self, command: Command, now: float) -> list[Effect]:
        args = command.args
        if self.status is not None and self.status.estop:
            self.task = FleetTask(args["task_id"], "goto", "refused", message="emergency stop")
            return self._refuse(f"goto {args['place']} refused: emergency stop")
        if self.task is not None and self.task.kind == "attend" and self.task.holds_robot:
            return self._refuse(f"goto {args['place']} from {command.staff} refused: attending {self.task.alert_id}")
        self.task = FleetTask(args["task_id"], "goto", "active", message=f"to {args['place']} for {command.staff}")
        self._driving = args["task_id"]
        return [Navigate(args["task_id"], place=args["place"]),
                Log("info", f"{command.staff} at {command.view} sends the robot to {args['place']}")]

    def _task(self, command: Command, now: float) -> list[Effect]:
        args = command.args
        task_id = args["task_id"]
        if args["action"] == "release":
            if self.task is None or self.task.id != task_id:
                return []
            effects: list[Effect] = [Log("info", f"fleet task {task_id} released")]
            if self._driving == task_id:
                effects.insert(0, CancelNavigation(task_id))
                self._driving = ""
            self.task = None
            return effects
        if self.task is not None and self.task.id == task_id:
            return []                                   # the offer again: already taken
        refusal = self._offer_refusal(args)
        if refusal:
            # Answered in the state; the fleet tries the next robot.
            if self.task is None or not self.task.holds_robot:
                self.task = FleetTask(task_id, "attend", "refused", args["alert_id"], refusal)
            self.refused_commands += 1
            return [Log("warning", f"fleet task {task_id} for {args['alert_id']} refused: {refusal}")]
        if args["alert_id"] in self.alerts and self.config.own_incidents_by_brain:
            self.task = FleetTask(task_id, "attend", "attending_locally", args["alert_id"],
                                  "this robot's own brain attends the incident it raised")
            return [Log("info", f"fleet task {task_id}: {args['alert_id']} is this robot's own incident; "
                                "its brain attends it")]
        self.task = FleetTask(task_id, "attend", "active", args["alert_id"])
        self._driving = task_id
        goal = tuple(args["goal"])
        return [Navigate(task_id, goal=goal, speed=args["speed"]),
                Log("warning", f"fleet task {task_id}: attending {args['alert_id']} at ({goal[0]:.1f}, {goal[1]:.1f})"
                               + (" (critical: own errand dropped)" if args.get("critical") else ""))]

    def _offer_refusal(self, args: dict) -> str:
        if not self.config.accepts_tasks:
            return "this robot takes no fleet tasks"
        if self.status is not None and self.status.estop:
            return "emergency stop"
        if self.task is not None and self.task.kind == "attend" and self.task.holds_robot:
            return f"attending {self.task.alert_id}"
        return ""

    def on_navigation_result(self, task_id: str, ok: bool, message: str, now: float) -> list[Effect]:
        """Our NavigateTo goal for a fleet task ended."""
        if self._driving == task_id:
            self._driving = ""
        if self.task is None or self.task.id != task_id or not self.task.holds_robot:
            return []
        if self.task.kind == "goto":
            self.task = None if ok else replace(self.task, status="failed", message=message[:200])
            self._own_task_seen_at = now      # it was an errand: hold 'busy' across the end as for any
        else:
            self.task = replace(self.task, status="arrived" if ok else "failed", message=message[:200])
        return [Log("info" if ok else "warning", f"fleet task {task_id}: {'arrived' if ok else 'failed: ' + message}")]
