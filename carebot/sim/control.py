"""Scenario control of the simulation: typed commands parsed from ``sim/control``.

The topic carries ``carebot_interfaces/ToolCall`` (a name and KeyValue
arguments), so a scenario runner, a test or an engineer can script people and
speech without a custom interface. This module is pure: it turns a tool name
and an argument dict into a typed command or raises ControlError naming what is
wrong; the node applies it.

| tool  | arguments | effect |
|---|---|---|
| fall  | actor | the person falls to the floor (face up, across the camera's view) |
| stand | actor | the person gets up / stops walking |
| walk  | actor, to (a place name) or path ("x,y;x,y", m) | walks there at their pace |
| place | actor, x, y [, yaw (deg)] | puts the person there, standing |
| say   | text [, language (en), actor, rate (wpm)] | the words are played into speech/audio_in |
| robot | x, y [, yaw (deg)] | puts the robot there (scenario set-up only) |
| lockstep | on (true/false) | pause / resume waiting for the camera consumer (needs sync_topic) |
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from carebot.world import World


class ControlError(ValueError):
    """A control command that cannot be applied; the message says why."""


class Tool(enum.Enum):
    FALL = "fall"
    STAND = "stand"
    WALK = "walk"
    PLACE = "place"
    SAY = "say"
    ROBOT = "robot"
    LOCKSTEP = "lockstep"


@dataclass(frozen=True)
class ActorCommand:
    tool: Tool
    actor: str
    path: tuple[tuple[float, float], ...] = ()
    pose: tuple[float, float, float] | None = None      # x, y (m), yaw (rad)


@dataclass(frozen=True)
class SayCommand:
    text: str
    language: str = "en"
    actor: str = ""
    rate_wpm: float = 130.0


@dataclass(frozen=True)
class RobotCommand:
    pose: tuple[float, float, float]


@dataclass(frozen=True)
class LockstepCommand:
    enabled: bool


Command = ActorCommand | SayCommand | RobotCommand | LockstepCommand
_BOOLS = {"true": True, "on": True, "1": True, "yes": True, "false": False, "off": False, "0": False, "no": False}
MAX_SAY_CHARS = 500


def _number(args: dict[str, str], key: str, default: float | None = None) -> float:
    if key not in args:
        if default is None:
            raise ControlError(f"argument {key!r} is missing")
        return default
    try:
        value = float(args[key])
    except ValueError:
        raise ControlError(f"argument {key}={args[key]!r} is not a number") from None
    if not math.isfinite(value):
        raise ControlError(f"argument {key}={args[key]!r} is not finite")
    return value


def _inside(world: World, x: float, y: float, what: str) -> None:
    if not (0.0 <= x <= world.width and 0.0 <= y <= world.height):
        raise ControlError(f"{what} ({x:.2f}, {y:.2f}) lies outside the {world.width}x{world.height} m site")


def parse_path(text: str, world: World) -> tuple[tuple[float, float], ...]:
    points = []
    for part in text.split(";"):
        if not part.strip():
            continue
        try:
            x, y = (float(v) for v in part.split(","))
        except ValueError:
            raise ControlError(f"path point {part!r} is not 'x,y'") from None
        _inside(world, x, y, "path point")
        points.append((x, y))
    if not points:
        raise ControlError("path has no points")
    return tuple(points)


def parse_command(tool: str, args: dict[str, str], world: World, actors: set[str]) -> Command:
    """A typed command from a ToolCall's name and arguments."""
    try:
        kind = Tool(tool.strip().lower())
    except ValueError:
        raise ControlError(f"unknown tool {tool!r}; known: {', '.join(t.value for t in Tool)}") from None
    if kind is Tool.SAY:
        text = args.get("text", "").strip()
        if not text:
            raise ControlError("say needs a non-empty text")
        if len(text) > MAX_SAY_CHARS:
            raise ControlError(f"say text of {len(text)} characters is longer than {MAX_SAY_CHARS}")
        return SayCommand(text, args.get("language", "en").strip() or "en", args.get("actor", ""),
                          _number(args, "rate", 130.0))
    if kind is Tool.LOCKSTEP:
        value = args.get("on", "").strip().lower()
        if value not in _BOOLS:
            raise ControlError(f"lockstep needs on=true or on=false, got {args.get('on')!r}")
        return LockstepCommand(_BOOLS[value])
    if kind is Tool.ROBOT:
        x, y = _number(args, "x"), _number(args, "y")
        _inside(world, x, y, "robot pose")
        return RobotCommand((x, y, math.radians(_number(args, "yaw", 0.0))))
    actor = args.get("actor", "")
    if actor not in actors:
        raise ControlError(f"unknown actor {actor!r}; known: {', '.join(sorted(actors)) or 'none'}")
    if kind is Tool.WALK:
        if "to" in args:
            place = world.place_named(args["to"])
            if place is None:
                raise ControlError(f"unknown place {args['to']!r}; known: {', '.join(world.places)}")
            return ActorCommand(kind, actor, path=((place.x, place.y),))
        if "path" in args:
            return ActorCommand(kind, actor, path=parse_path(args["path"], world))
        raise ControlError("walk needs 'to' (a place) or 'path' ('x,y;x,y')")
    if kind is Tool.PLACE:
        x, y = _number(args, "x"), _number(args, "y")
        _inside(world, x, y, "actor position")
        return ActorCommand(kind, actor, pose=(x, y, math.radians(_number(args, "yaw", 0.0))))
    return ActorCommand(kind, actor)
