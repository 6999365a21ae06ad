"""What crosses the fleet link, as JSON: robot state, alerts and staff commands.

Pure module. Every payload carries ``"v": SCHEMA`` so a view can refuse a robot that
speaks another version instead of misreading it. Decoding validates every field and
raises ``PayloadError`` naming it: a bad payload is counted and logged by the receiver,
never half-applied. No camera frames, audio or transcript text have a field here.
"""
from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from carebot.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.fleet.keys import chunk_problem

SCHEMA = 1
MAX_PAYLOAD_BYTES = 16 * 1024       # a state is ~0.5 KiB, an alert ~0.6 KiB
MAX_TEXT = 500                      # characters of any free text (alert message, note, task)
HEALTH_LEVELS = ("OK", "WARN", "ERROR", "STALE")
TASK_STATUSES = ("offered", "active", "arrived", "attending_locally", "failed", "refused", "released")
TASK_ACTIVE = ("offered", "active", "arrived", "attending_locally")
ALERT_ACTIONS = ("acknowledge", "resolve")


class PayloadError(ValueError):
    """A payload that cannot be used; the message names the field."""


def _loads(data: bytes | str) -> dict:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes is over the limit of {MAX_PAYLOAD_BYTES}")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise PayloadError("payload must be a JSON object")
    if obj.get("v") != SCHEMA:
        raise PayloadError(f"schema version {obj.get('v')!r}; this carebot speaks {SCHEMA}")
    return obj


def _dumps(obj: dict) -> bytes:
    return json.dumps({"v": SCHEMA, **obj}, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _field(obj: dict, name: str, kind: type | tuple, default: Any = ..., where: str = "") -> Any:
    if name not in obj:
        if default is ...:
            raise PayloadError(f"{where}{name}: missing")
        return default
    value = obj[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PayloadError(f"{where}{name}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError(f"{where}{name}: not a finite number")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise PayloadError(f"{where}{name}: longer than {MAX_TEXT} characters")
    return value


def _name(obj: dict, name: str, where: str = "") -> str:
    value = _field(obj, name, str, where=where)
    problem = chunk_problem(value, name)
    if problem:
        raise PayloadError(f"{where}{problem}")
    return value


# ---------------------------------------------------------------------------- robot state
@dataclass(frozen=True)
class FleetTask:
    """A fleet task as the robot reports it: which, for which alert, how far."""

    id: str
    kind: str                  # attend (an incident) or goto (a staff 'send to a place')
    status: str                # one of TASK_STATUSES
    alert_id: str = ""
    message: str = ""

    @property
    def holds_robot(self) -> bool:
        return self.status in TASK_ACTIVE


@dataclass(frozen=True)
class RobotState:
    """One robot as the fleet sees it (published 1 Hz and on change)."""

    site: str
    robot: str
    world: str                        # the site map its pose is on (models/worlds/<world>.yaml)
    stamp: float                      # unix time of this state, s
    seq: int = 0                      # counts up per publication (a view drops an older one)
    pose: tuple[float, float, float] | None = None   # x, y (m), theta (rad) on the site map; None: unknown
    mode: str = "UNKNOWN"             # RobotStatus mode name
    task: str = ""                    # RobotStatus current_task, e.g. navigate:kitchen
    busy: bool = False                # on an errand of its own (held a few s across legs)
    speed_limit: float = 0.0          # m/s in force
    estop: bool = False
    stop_reason: str = ""
    health: str = "STALE"             # worst level of its nodes' diagnostics
    health_message: str = ""
    open_alerts: int = 0
    fleet_task: FleetTask | None = None
    accepts_tasks: bool = True

    def to_bytes(self) -> bytes:
        data = asdict(self)
        data["pose"] = list(self.pose) if self.pose is not None else None
        return _dumps(data)

    @classmethod
    def from_bytes(cls, data: bytes | str) -> "RobotState":
        obj = _loads(data)
        where = "state."
        pose = obj.get("pose")
        if pose is not None:
            if (not isinstance(pose, list) or len(pose) != 3
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                               for v in pose)):
                raise PayloadError(f"{where}pose: expected [x, y, theta] finite numbers or null, got {pose!r}")
            pose = (float(pose[0]), float(pose[1]), float(pose[2]))
        health = _field(obj, "health", str, "STALE", where)
        if health not in HEALTH_LEVELS:
            raise PayloadError(f"{where}health: {health!r} is not one of {', '.join(HEALTH_LEVELS)}")
        task = obj.get("fleet_task")
        fleet_task = task_from_json(task) if task is not None else None
        return cls(site=_name(obj, "site", where), robot=_name(obj, "robot", where),
                   world=_field(obj, "world", str, "", where), stamp=_field(obj, "stamp", float, where=where),
                   seq=_field(obj, "seq", int, 0, where), pose=pose, mode=_field(obj, "mode", str, "UNKNOWN", where),
                   task=_field(obj, "task", str, "", where), busy=_field(obj, "busy", bool, False, where),
                   speed_limit=_field(obj, "speed_limit", float, 0.0, where),
                   estop=_field(obj, "estop", bool, False, where),
                   stop_reason=_field(obj, "stop_reason", str, "", where), health=health,
                   health_message=_field(obj, "health_message", str, "", where),
                   open_alerts=_field(obj, "open_alerts", int, 0, where), fleet_task=fleet_task,
                   accepts_tasks=_field(obj, "accepts_tasks", bool, True, where))


def task_from_json(obj: Any) -> FleetTask:
    where = "fleet_task."
    if not isinstance(obj, dict):
        raise PayloadError(f"fleet_task: expected an object, got {obj!r}")
    status = _field(obj, "status", str, where=where)
    if status not in TASK_STATUSES:
        raise PayloadError(f"{where}status: {status!r} is not one of {', '.join(TASK_STATUSES)}")
    kind = _field(obj, "kind", str, where=where)
    if kind not in ("attend", "goto"):
        raise PayloadError(f"{where}kind: {kind!r} is not attend or goto")
    return FleetTask(id=_name(obj, "id", where), kind=kind, status=status,
                     alert_id=_field(obj, "alert_id", str, "", where), message=_field(obj, "message", str, "", where))


# ---------------------------------------------------------------------------- alerts
def alert_to_bytes(record: AlertRecord) -> bytes:
    """The whole incident as the robot holds it (the staff note stays at the views)."""
    data = record.to_json()
    data.pop("note", None)
    data["message"] = data["message"][:MAX_TEXT]
    return _dumps({"alert": data})


def alert_from_bytes(data: bytes | str) -> AlertRecord:
    obj = _loads(data)
    alert = obj.get("alert")
    if not isinstance(alert, dict):
        raise PayloadError("alert: missing")
    where = "alert."
    try:
        kind = AlertKind[_field(alert, "kind", str, where=where)]
        severity = Severity[_field(alert, "severity", str, where=where)]
        state = AlertState[_field(alert, "state", str, where=where)]
    except KeyError as exc:
        raise PayloadError(f"{where}: unknown enum name {exc}") from None
    position = None
    if _field(alert, "position_known", bool, False, where):
        position = tuple(_field(alert, axis, float, where=where) for axis in "xyz")
    alert_id = _field(alert, "id", str, where=where)
    problem = chunk_problem(alert_id, "alert id")
    if problem:
        raise PayloadError(f"{where}{problem}")
    return AlertRecord(id=alert_id, kind=kind, severity=severity, state=state,
                       person=_field(alert, "person", str, "", where), place=_field(alert, "place", str, "", where),
                       room=_field(alert, "room", str, "", where), position=position,
                       frame_id=_field(alert, "frame_id", str, "map", where),
                       message=_field(alert, "message", str, "", where),
                       handled_by=_field(alert, "handled_by", str, "", where),
                       raised_at=_field(alert, "raised_at", float, 0.0, where),
                       updated_at=_field(alert, "updated_at", float, 0.0, where))


# ---------------------------------------------------------------------------- commands
@dataclass(frozen=True)
class Command:
    """A staff action or fleet task for one robot (key ``.../cmd/<verb>``).

    ``staff`` is the logged-in account at the view that sent it; ``view`` the view's name.
    Verb-specific fields live in ``args`` (validated by ``Command.from_bytes``):

    - alert: alert_id, action (acknowledge, resolve), note
    - estop: (none): engage the robot's emergency stop
    - goto:  place (a named place of the site), task_id
    - task:  task_id, action (offer, release), alert_id, goal [x, y, yaw] on the site map,
             critical (bool), speed (m/s, 0 = the robot's own limit)
    """

    verb: str
    staff: str
    view: str
    at: float
    args: dict = field(default_factory=dict)
    id: str = field(default_factory=lambda: f"cmd-{uuid.uuid4().hex[:12]}")

    def to_bytes(self) -> bytes:
        return _dumps({"verb": self.verb, "staff": self.staff, "view": self.view, "at": self.at, "id": self.id,
                       "args": self.args})

    @classmethod
    def from_bytes(cls, data: bytes | str, verb: str | None = None) -> "Command":
        """Decode and validate; ``verb`` (from the key) must match the payload's."""
        obj = _loads(data)
        command = cls(verb=_field(obj, "verb", str), staff=_field(obj, "staff", str), view=_field(obj, "view", str),
                      at=_field(obj, "at", float), args=_field(obj, "args", dict, {}), id=_field(obj, "id", str))
        if verb is not None and command.verb != verb:
            raise PayloadError(f"verb: payload says {command.verb!r}, the key says {verb!r}")
        if not command.staff.strip():
            raise PayloadError("staff: a staff account is required for every command")
        return replace(command, args=_checked_args(command.verb, command.args))


def _checked_args(verb: str, args: dict) -> dict:
    where = f"{verb}."
    if verb == "alert":
        action = _field(args, "action", str, where=where)
        if action not in ALERT_ACTIONS:
            raise PayloadError(f"{where}action: {action!r} is not one of {', '.join(ALERT_ACTIONS)}")
        return {"alert_id": _field(args, "alert_id", str, where=where), "action": action,
                "note": _field(args, "note", str, "", where)}
    if verb == "estop":
        return {}
    if verb == "goto":
        return {"place": _field(args, "place", str, where=where), "task_id": _name(args, "task_id", where)}
    if verb == "task":
        action = _field(args, "action", str, where=where)
        if action not in ("offer", "release"):
            raise PayloadError(f"{where}action: {action!r} is not offer or release")
        out = {"task_id": _name(args, "task_id", where), "action": action,
               "alert_id": _field(args, "alert_id", str, "", where)}
        if action == "offer":
            goal = args.get("goal")
            if (not isinstance(goal, list) or len(goal) != 3
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                               for v in goal)):
                raise PayloadError(f"{where}goal: expected [x, y, yaw] finite numbers, got {goal!r}")
            speed = _field(args, "speed", float, 0.0, where)
            if not 0.0 <= speed <= 2.0:
                raise PayloadError(f"{where}speed: {speed} m/s is outside 0..2")
            out.update(goal=[float(v) for v in goal], critical=_field(args, "critical", bool, False, where),
                       speed=speed)
        return out
    raise PayloadError(f"verb: unknown {verb!r}")
