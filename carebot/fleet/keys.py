"""The fleet's Zenoh key space, in one place (docs/fleet.md).

Everything a robot says or hears lives under ``carebot/<site>/<robot>/``:

==========================================  =========  ====================================
key                                         who puts   what
==========================================  =========  ====================================
``carebot/<site>/<robot>/state``            robot      RobotState JSON, 1 Hz and on change
``carebot/<site>/<robot>/alert/<id>``       robot      one alert (the whole incident) per change;
                                                       also a queryable: the catch-up
``carebot/<site>/<robot>/presence``         robot      liveliness token (online while it exists)
``carebot/<site>/<robot>/cmd/<verb>``       view       staff actions and fleet tasks (alert,
                                                       estop, goto, task)
==========================================  =========  ====================================

Nothing else crosses: no camera frames, audio or transcripts have a key, and the router's
access control (carebot.fleet.zenoh_config) refuses any key outside this list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "carebot"
STATE = "state"
ALERT = "alert"
PRESENCE = "presence"
CMD = "cmd"
VERBS = ("alert", "estop", "goto", "task")
# A key chunk: no Zenoh wildcard or reserved character ('*', '$', '?', '#', '/'), not
# starting with '@' (admin space), short enough to read on a tablet.
_CHUNK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


class FleetKeyError(ValueError):
    """A site, robot or alert id that cannot be a key chunk, or a key outside the space."""


def chunk_problem(value: str, what: str = "name") -> str | None:
    """Why ``value`` cannot be one chunk of a fleet key, or None."""
    if not isinstance(value, str) or not _CHUNK.match(value):
        return (f"{what} {value!r} must be 1-64 letters, digits, '_', '.' or '-' (not starting with "
                "'.' or '-'): it becomes one chunk of a Zenoh key")
    return None


def _checked(value: str, what: str) -> str:
    problem = chunk_problem(value, what)
    if problem:
        raise FleetKeyError(problem)
    return value


def robot_prefix(site: str, robot: str) -> str:
    return f"{ROOT}/{_checked(site, 'site')}/{_checked(robot, 'robot')}"


def state_key(site: str, robot: str) -> str:
    return f"{robot_prefix(site, robot)}/{STATE}"


def alert_key(site: str, robot: str, alert_id: str) -> str:
    return f"{robot_prefix(site, robot)}/{ALERT}/{_checked(alert_id, 'alert id')}"


def alerts_of(site: str, robot: str) -> str:
    """Key expression of every alert of one robot (its catch-up queryable answers it)."""
    return f"{robot_prefix(site, robot)}/{ALERT}/*"


def presence_key(site: str, robot: str) -> str:
    return f"{robot_prefix(site, robot)}/{PRESENCE}"


def cmd_key(site: str, robot: str, verb: str) -> str:
    if verb not in VERBS:
        raise FleetKeyError(f"unknown command {verb!r}; commands: {', '.join(VERBS)}")
    return f"{robot_prefix(site, robot)}/{CMD}/{verb}"


def cmds_of(site: str, robot: str) -> str:
    return f"{robot_prefix(site, robot)}/{CMD}/*"


# What a fleet view listens to (every site, or one).
def all_states(site: str = "*") -> str:
    return f"{ROOT}/{site}/*/{STATE}"


def all_alerts(site: str = "*") -> str:
    return f"{ROOT}/{site}/*/{ALERT}/*"


def all_presence(site: str = "*") -> str:
    return f"{ROOT}/{site}/*/{PRESENCE}"


@dataclass(frozen=True)
class ParsedKey:
    """A fleet key taken apart: ``kind`` is state, alert, presence or cmd; ``rest`` the alert
    id or the command verb ('' otherwise)."""

    site: str
    robot: str
    kind: str
    rest: str = ""


def parse(key: str) -> ParsedKey:
    """Take a concrete fleet key apart; FleetKeyError for anything outside the key space."""
    parts = str(key).split("/")
    if len(parts) < 4 or parts[0] != ROOT:
        raise FleetKeyError(f"{key!r} is not a fleet key (carebot/<site>/<robot>/...)")
    site, robot, kind, rest = parts[1], parts[2], parts[3], parts[4:]
    _checked(site, "site")
    _checked(robot, "robot")
    if kind in (STATE, PRESENCE) and not rest:
        return ParsedKey(site, robot, kind)
    if kind == ALERT and len(rest) == 1:
        return ParsedKey(site, robot, kind, _checked(rest[0], "alert id"))
    if kind == CMD and len(rest) == 1 and rest[0] in VERBS:
        return ParsedKey(site, robot, kind, rest[0])
    raise FleetKeyError(f"{key!r} is not a fleet key: unknown part {'/'.join([kind, *rest])!r}")
