"""Validate a site's parameter file before any node starts.

``carebot up`` and ``launch/bringup.launch.py`` refuse to start the stack when
``config/<site>.yaml`` has a problem, and every problem names its key and the reason
(``dashboard.port: 70000 is above the maximum 65535``), so the stack never runs
half-configured.

Where the schema comes from (no rclpy import, no node is started):

1. The node set (``carebot.bringup.CONFIGURED_NODES``: the nodes plus ``carebot up``'s
   in-process ``supervisor``): a top-level section that is not one of them (nor the
   ``/**`` wildcard) is an error.
2. What rclpy itself would accept: every leaf must be a ROS parameter value (bool,
   int, float, string or a non-empty list of one of those); empty lists and nulls
   are refused (rclpy would turn them into an unset parameter).
3. The nodes' own declarations, read from their source without importing them
   (carebot.param_declarations: literal ``declare_parameter`` calls, helpers that
   forward a name, loops over a parameter table) give the known keys, their types
   and ranges (``integer_range`` / ``floating_point_range``). A key a node does not
   declare is an error; so is an int where the node declares a double (rclpy would
   refuse ``2`` for a double: write ``2.0``). A node whose declarations cannot all be
   read (names built at run time) gets an *open* schema: unknown keys are then
   allowed, known ones are still checked.
4. Extra rules (choices, formats, bounds the descriptor cannot say): each role may
   ship ``carebot/<role>/config_rules.py`` with ``RULES = {node: {key: Rule(...)}}``;
   they are collected here without a central list to edit.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from carebot import bringup
from carebot.param_declarations import DeclarationReader, ParamType, module_source, value_type

WILDCARD = "/**"
SECTION = "ros__parameters"
# Parameters every rclpy node has, whatever it declares.
COMMON_PREFIXES = ("qos_overrides.",)


@dataclass(frozen=True)
class Issue:
    """One problem of a parameter file: the dotted key and why it is refused."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


class ConfigError(Exception):
    """A parameter file that must not be started; ``issues`` names every bad key."""

    def __init__(self, path: Path | str, issues: list[Issue]):
        self.path = Path(path)
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{self.path}: {len(issues)} problem(s), the stack is not started:\n{lines}")


@dataclass(frozen=True)
class Rule:
    """What one parameter may hold. Every field is optional."""

    type: ParamType | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None   # returns a reason, or None when fine
    description: str = ""

    def problems(self, value: Any) -> list[str]:
        reasons = []
        actual = value_type(value)
        if self.type is not None and actual is not None and actual != self.type:
            hint = " (write it with a decimal point, e.g. 2.0)" if (
                self.type in (ParamType.DOUBLE, ParamType.DOUBLE_ARRAY)
                and actual in (ParamType.INTEGER, ParamType.INTEGER_ARRAY)) else ""
            reasons.append(f"expects a {self.type.value}, got {actual.value} {value!r}{hint}")
            return reasons
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if self.min is not None and item < self.min:
                reasons.append(f"{item!r} is below the minimum {self.min!r}")
            if self.max is not None and item > self.max:
                reasons.append(f"{item!r} is above the maximum {self.max!r}")
        if self.choices is not None:
            for item in items:
                if item not in self.choices:
                    reasons.append(f"{item!r} is not one of {', '.join(map(repr, self.choices))}")
        if self.check is not None and not reasons:
            reason = self.check(value)
            if reason:
                reasons.append(reason)
        return reasons

    def merged(self, other: "Rule") -> "Rule":
        """This rule with ``other``'s fields where other sets them."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in values:
            theirs = getattr(other, name)
            if theirs not in (None, ""):
                values[name] = theirs
        return Rule(**values)


@dataclass
class NodeSchema:
    """Known parameters of one node; ``open`` = keys beyond these may exist."""

    node: str
    rules: dict[str, Rule] = field(default_factory=dict)
    open: bool = False
    note: str = ""


# --------------------------------------------------------------------------- schemas

def declared_parameters(source: str | None, node: str = "", module: str = "__node__",
                        reader: DeclarationReader | None = None) -> NodeSchema:
    """Schema of a node from its module's source text (read, never imported)."""
    found = (reader or DeclarationReader()).read(module, source)
    rules = {d.name: Rule(type=d.type, min=d.min, max=d.max, description=d.description)
             for d in found.params.values()}
    note = "; ".join(dict.fromkeys(found.notes)) if found.open else ""
    return NodeSchema(node, rules, open=found.open, note=note)


def role_rules() -> dict[str, dict[str, Rule]]:
    """Extra rules from every ``carebot/<role>/config_rules.py`` (``RULES`` dict)."""
    import carebot

    collected: dict[str, dict[str, Rule]] = {"*": {"use_sim_time": Rule(ParamType.BOOL)}}
    for info in pkgutil.iter_modules(carebot.__path__):
        if not info.ispkg:
            continue
        name = f"carebot.{info.name}.config_rules"
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except Exception:  # the role package itself fails to import: nothing to collect
            continue
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # another role's broken rules must not hide the others'
            print(f"warning: {name} not loaded ({type(exc).__name__}: {exc}); its checks are skipped",
                  file=sys.stderr)
            continue
        for node, rules in getattr(module, "RULES", {}).items():
            collected.setdefault(node, {}).update(rules)
    return collected


def node_schemas(specs: Iterable[bringup.NodeSpec] = bringup.CONFIGURED_NODES) -> dict[str, NodeSchema]:
    """Schema of every node: declarations read from source, merged with role rules."""
    extra = role_rules()
    reader = DeclarationReader()
    schemas = {}
    for spec in specs:
        source = module_source(spec.module)
        if source is None:
            schema = NodeSchema(spec.name, open=True, note=f"module {spec.module} not found")
        else:
            try:
                schema = declared_parameters(source, spec.name, spec.module, reader)
            except SyntaxError as exc:
                schema = NodeSchema(spec.name, open=True, note=f"cannot parse {spec.module}: {exc}")
        for key, rule in {**extra.get("*", {}), **extra.get(spec.name, {})}.items():
            schema.rules[key] = schema.rules.get(key, Rule()).merged(rule)
        schemas[spec.name] = schema
    return schemas


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


def validate(data: Any, schemas: dict[str, NodeSchema]) -> list[Issue]:
    """Every problem of a parsed parameter file (empty list = fine to start)."""
    if data is None:
        return []
    if not isinstance(data, dict):
        return [Issue("(file)", "must be a mapping of node names to `ros__parameters:` sections")]
    issues: list[Issue] = []
    for node, section in data.items():
        node = str(node)
        if node != WILDCARD and node_of_key(node) not in schemas:
            issues.append(Issue(node, f"unknown node section; nodes are: {', '.join(schemas)}"))
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
        targets = list(schemas.values()) if node == WILDCARD else [schemas[node_of_key(node)]]
        for key, value in flat.items():
            issues += _check_value(node, key, value, targets)
    return issues


def _check_value(node: str, key: str, value: Any, targets: list[NodeSchema]) -> list[Issue]:
    full = f"{node}.{key}"
    if value is None:
        return [Issue(full, "has no value (null); give a value or remove the key")]
    if isinstance(value, list) and not value:
        return [Issue(full, "empty list: ROS cannot tell its type and leaves the parameter unset; "
                            "remove the key to keep the node's default")]
    if value_type(value) is None:
        return [Issue(full, f"{value!r} is not a ROS parameter value (bool, int, float, string "
                            "or a list of one of those)")]
    if key.startswith(COMMON_PREFIXES):
        return []
    known = [schema for schema in targets if key in schema.rules]
    if not known:
        if node == WILDCARD or any(schema.open for schema in targets):
            return []
        names = ", ".join(sorted(targets[0].rules)) or "none"
        return [Issue(full, f"unknown parameter of node {targets[0].node!r}; it declares: {names}")]
    return [Issue(full, reason) for schema in known[:1] for reason in schema.rules[key].problems(value)]


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


def check_file(path: Path | str, schemas: dict[str, NodeSchema] | None = None) -> list[Issue]:
    """All problems of one parameter file."""
    data, issues = load_yaml(path)
    if issues:
        return issues
    return validate(data, schemas if schemas is not None else node_schemas())


def require_valid(path: Path | str, schemas: dict[str, NodeSchema] | None = None) -> None:
    """Raise ConfigError listing every problem; return quietly when the file is fine."""
    issues = check_file(path, schemas)
    if issues:
        raise ConfigError(path, issues)


def register(subparsers) -> None:
    """``carebot config-check [--site NAME | FILE...]``."""
    parser = subparsers.add_parser("config-check", help="validate site parameter files",
                                   description="Validate config/<site>.yaml against the nodes' "
                                               "declared parameters; exit 1 naming each bad key.")
    parser.add_argument("files", nargs="*", help="parameter files (default: every site's file)")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    files = args.files or [bringup.site_config(site) for site in bringup.SITES]
    schemas = node_schemas()
    failed = False
    for path in files:
        issues = check_file(path, schemas)
        print(f"{path}: {'ok' if not issues else f'{len(issues)} problem(s)'}")
        for issue in issues:
            print(f"  - {issue}")
        failed = failed or bool(issues)
    for schema in schemas.values():
        if schema.note:
            print(f"note: {schema.node}: {schema.note} (its unknown keys are not checked)")
    return 1 if failed else 0
