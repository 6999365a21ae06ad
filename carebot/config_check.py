"""Validate a site's parameter file before any node starts.

``carebot up`` and ``launch/bringup.launch.py`` refuse to start the stack when
``config/<site>.yaml`` has a problem, and every problem names its key and the reason
(``dashboard.port: 70000 is above the maximum 65535``), so the stack never runs
half-configured.

The schema is each node's parameter table (``carebot.bringup.NodeSpec.parameters``,
carebot/parameters.py), the same table the node declares its parameters from and loads
its settings with: a value is refused here exactly when the node would refuse it, with
the same words. On top of the tables:

1. the node set (``carebot.bringup.CONFIGURED_NODES``: the nodes plus ``carebot up``'s
   in-process ``supervisor``): a top-level section that is not one of them (nor the
   ``/**`` wildcard) is an error;
2. what rclpy itself would accept: every leaf must be a ROS parameter value (bool, int,
   float, string or a non-empty list of one of those); nested mappings are dotted names.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Iterable

import yaml

from carebot import bringup
from carebot.parameters import COMMON_PARAMETERS, COMMON_PREFIXES, Issue, ParamTable, ParamType  # noqa: F401

WILDCARD = "/**"
SECTION = "ros__parameters"


class ConfigError(Exception):
    """A parameter file that must not be started; ``issues`` names every bad key."""

    def __init__(self, path: Path | str, issues: list[Issue]):
        self.path = Path(path)
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{self.path}: {len(issues)} problem(s), the stack is not started:\n{lines}")


def table_of(spec: bringup.NodeSpec) -> ParamTable:
    """The parameter table a node declares from (imported; no rclpy, no models)."""
    module, _, name = spec.parameters.partition(":")
    return getattr(importlib.import_module(module), name)


def node_tables(specs: Iterable[bringup.NodeSpec] = bringup.CONFIGURED_NODES) -> dict[str, ParamTable]:
    """Node name -> its parameter table, for every node a site file may configure."""
    return {spec.name: table_of(spec) for spec in specs}


# --------------------------------------------------------------------------- checking

def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """ROS reads nested mappings under ros__parameters as dotted names."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value


def node_of_key(key: str) -> str:
    """Node name of a section key: 'dashboard', '/dashboard', '/carebot/dashboard'."""
    return key.rstrip("/").rsplit("/", 1)[-1]


def validate(data: Any, tables: dict[str, ParamTable]) -> list[Issue]:
    """Every problem of a parsed parameter file (empty list = fine to start)."""
    if data is None:
        return []
    if not isinstance(data, dict):
        return [Issue("(file)", "must be a mapping of node names to `ros__parameters:` sections")]
    issues: list[Issue] = []
    for node, section in data.items():
        node = str(node)
        if node != WILDCARD and node_of_key(node) not in tables:
            issues.append(Issue(node, f"unknown node section; nodes are: {', '.join(tables)}"))
            continue
        if not isinstance(section, dict) or set(section) != {SECTION}:
            issues.append(Issue(node, f"must hold exactly one `{SECTION}:` mapping"))
            continue
        params = section[SECTION]
        if params is None:
            continue
        if not isinstance(params, dict):
            issues.append(Issue(f"{node}.{SECTION}", "must be a mapping of parameter names to values"))
            continue
        flat: dict[str, Any] = {}
        _flatten("", params, flat)
        issues += [Issue(f"{node}.{i.key}", i.reason) for i in _common_problems(flat)]
        if node == WILDCARD:
            issues += _wildcard_problems(flat, tables)
        else:
            issues += [Issue(f"{node}.{i.key}", i.reason) for i in tables[node_of_key(node)].issues(flat)]
    return issues


def _common_problems(flat: dict[str, Any]) -> list[Issue]:
    issues = []
    for key in COMMON_PARAMETERS:
        if key in flat and not isinstance(flat[key], bool):
            issues.append(Issue(key, f"expects a bool, got {flat[key]!r}"))
    return issues


def _wildcard_problems(flat: dict[str, Any], tables: dict[str, ParamTable]) -> list[Issue]:
    """``/**`` reaches every node: a key is checked by each node that declares it (others ignore it)."""
    issues = []
    for key, value in flat.items():
        for table in tables.values():
            if key in table:
                issues += [Issue(f"{WILDCARD}.{key}", f"({table.node}) {reason}")
                           for reason in table[key].problems(value)]
    return issues


def load_yaml(path: Path | str) -> tuple[Any, list[Issue]]:
    """Parse a YAML file; a syntax error becomes an Issue with its line."""
    path = Path(path)
    if not path.is_file():
        return None, [Issue("(file)", f"{path} does not exist")]
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        return None, [Issue(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]


def check_file(path: Path | str, tables: dict[str, ParamTable] | None = None) -> list[Issue]:
    """All problems of one parameter file."""
    data, issues = load_yaml(path)
    if issues:
        return issues
    return validate(data, tables if tables is not None else node_tables())


def require_valid(path: Path | str, tables: dict[str, ParamTable] | None = None) -> None:
    """Raise ConfigError listing every problem; return quietly when the file is fine."""
    issues = check_file(path, tables)
    if issues:
        raise ConfigError(path, issues)


def register(subparsers) -> None:
    """``carebot config-check [FILE...]``."""
    parser = subparsers.add_parser("config-check", help="validate site parameter files",
                                   description="Validate config/<site>.yaml against the nodes' parameter "
                                               "tables; exit 1 naming each bad key.")
    parser.add_argument("files", nargs="*", help="parameter files (default: every site's file)")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    files = args.files or [bringup.site_config(site) for site in bringup.SITES]
    tables = node_tables()
    failed = False
    for path in files:
        issues = check_file(path, tables)
        print(f"{path}: {'ok' if not issues else f'{len(issues)} problem(s)'}")
        for issue in issues:
            print(f"  - {issue}")
        failed = failed or bool(issues)
    return 1 if failed else 0
