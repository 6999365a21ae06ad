"""Full ROS 2 message definitions as rosbag2 stores them in an MCAP schema (no rclpy).

rosbag2 (``LocalMessageDefinitionSource``) reads ``share/<pkg>/msg/<Type>.msg`` of every
package on the ament prefix path and appends each dependency once, depth first in sorted
order, after a line of 80 ``=`` and ``MSG: <pkg>/<Type>``. Readers that do not know a
type (``ros2 bag play`` on a machine without carebot_interfaces, Foxglove, ``mcap``'s
decoder) rebuild it from that text alone, so a carebot type recorded here can be read
anywhere. The files are read as installed, comments included, as rosbag2 does.
"""
from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path

DELIMITER = "=" * 80
PRIMITIVES = frozenset({"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
                        "int32", "uint32", "int64", "uint64", "string", "wstring"})
# "pkg/msg/Type" or "pkg/Type"
_TYPE_NAME = re.compile(r"^([A-Za-z0-9_]+)/(?:msg/)?([A-Za-z0-9_]+)$")
# The field type at the start of a definition line: "std_msgs/Header header", "Person[] persons",
# "string<=10 name", "float64[36] covariance".
_FIELD_TYPE = re.compile(r"^\s*([A-Za-z0-9_/]+)(?:<=\d+)?(?:\[[^\]]*\])?\s+\S")


class DefinitionNotFound(LookupError):
    """No .msg file for a type on the ament prefix path (names the type and where it looked)."""


def split_type(type_name: str) -> tuple[str, str]:
    """('pkg', 'Type') of 'pkg/msg/Type' or 'pkg/Type'; ValueError for anything else."""
    match = _TYPE_NAME.match(type_name)
    if not match:
        raise ValueError(f"not a ROS 2 message type name: {type_name!r} (expected pkg/msg/Type)")
    return match.group(1), match.group(2)


def share_dirs() -> list[Path]:
    """Where packages' share folders are: the ament prefix path, then this interpreter's prefix
    (the ros-jazzy-* wheels install share/<pkg> into the venv)."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes += [sys.prefix]
    seen, out = set(), []
    for prefix in prefixes:
        share = Path(prefix) / "share"
        if share not in seen and share.is_dir():
            seen.add(share)
            out.append(share)
    return out


def dependencies(text: str, package: str) -> list[str]:
    """Message types a definition uses ('pkg/Type'), sorted, without primitives and duplicates."""
    found = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        match = _FIELD_TYPE.match(line)
        if not match:
            continue
        kind = match.group(1)
        if kind in PRIMITIVES:
            continue
        if kind == "Header":              # ROS 1 shorthand still accepted by rosidl
            kind = "std_msgs/Header"
        found.add(kind if "/" in kind else f"{package}/{kind}")
    return sorted(found)


@lru_cache(maxsize=None)
def _msg_text(package: str, name: str, dirs: tuple[Path, ...]) -> str:
    for share in dirs:
        path = share / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise DefinitionNotFound(f"no definition for {package}/msg/{name}: {package}/msg/{name}.msg is in none of "
                             f"{', '.join(str(d) for d in dirs) or '(no share folders)'}")


def full_definition(type_name: str, dirs: list[Path] | None = None) -> str:
    """The concatenated definition of ``type_name`` with every dependency, as rosbag2 writes it."""
    dirs_t = tuple(dirs if dirs is not None else share_dirs())
    package, name = split_type(type_name)
    seen: set[str] = set()

    def append(pkg: str, typ: str, depth: int) -> str:
        if depth <= 0:
            raise ValueError(f"definition of {type_name} nests too deep (a cycle?)")
        text = _msg_text(pkg, typ, dirs_t)
        out = text
        for dep in dependencies(text, pkg):
            if dep in seen:
                continue
            seen.add(dep)
            dep_pkg, dep_name = split_type(dep)
            out += f"\n{DELIMITER}\nMSG: {dep}\n" + append(dep_pkg, dep_name, depth - 1)
        return out

    return append(package, name, 50)


def type_hash(type_name: str, definition: str) -> str:
    """The type's RIHS01 hash (REP 2011), computed from its full definition.

    The recorder takes the hash that discovery reports; this is for types it has only as text
    (a bag copied from another, a test). The same value as rclpy's ``topic_type_hash``.
    """
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.EMPTY)
    store.register(get_types_from_msg(definition, type_name))
    return store.hash_rihs01(type_name)
