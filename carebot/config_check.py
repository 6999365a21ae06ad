"""Validate a site's parameter file before any node starts.

``carebot up`` and ``launch/bringup.launch.py`` refuse to start the stack when
``config/<site>.yaml`` has a problem, and every problem names its key and the reason
(``dashboard.port: 70000 is above the maximum 65535``), so the stack never runs
half-configured.

Where the schema comes from (no rclpy import, no node is started):

1. The node set (``carebot.bringup.NODES``): a top-level section that is not a node
   (nor the ``/**`` wildcard) is an error.
2. What rclpy itself would accept: every leaf must be a ROS parameter value (bool,
   int, float, string or a non-empty list of one of those); empty lists and nulls
   are refused (rclpy would turn them into an unset parameter).
3. The nodes' own declarations: each node module is read with ``ast`` (not imported)
   and its literal ``declare_parameter("name", default, ParameterDescriptor(...))``
   calls give the known keys, their types (from the default or the descriptor's
   ``type``) and ranges (``integer_range`` / ``floating_point_range``). A key a node
   does not declare is an error; so is an int where the node declares a double
   (rclpy would refuse ``2`` for a double: write ``2.0``). A node whose declarations
   cannot all be read literally (names built at run time) gets an *open* schema:
   unknown keys are then allowed, known ones are still checked.
4. Extra rules (choices, formats, bounds the descriptor cannot say): each role may
   ship ``carebot/<role>/config_rules.py`` with ``RULES = {node: {key: Rule(...)}}``;
   they are collected here without a central list to edit.
"""
from __future__ import annotations

import ast
import enum
import importlib
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from carebot import bringup

WILDCARD = "/**"
SECTION = "ros__parameters"
# Parameters every rclpy node has, whatever it declares.
COMMON_PREFIXES = ("qos_overrides.",)


class ParamType(enum.Enum):
    """ROS parameter types as a YAML file can express them."""

    BOOL = "bool"
    INTEGER = "integer"
    DOUBLE = "double"
    STRING = "string"
    BOOL_ARRAY = "bool list"
    INTEGER_ARRAY = "integer list"
    DOUBLE_ARRAY = "double list"
    STRING_ARRAY = "string list"


# rcl_interfaces/ParameterType constants -> ParamType (as written in descriptors).
_DESCRIPTOR_TYPES = {
    "PARAMETER_BOOL": ParamType.BOOL, "PARAMETER_INTEGER": ParamType.INTEGER,
    "PARAMETER_DOUBLE": ParamType.DOUBLE, "PARAMETER_STRING": ParamType.STRING,
    "PARAMETER_BOOL_ARRAY": ParamType.BOOL_ARRAY,
    "PARAMETER_INTEGER_ARRAY": ParamType.INTEGER_ARRAY,
    "PARAMETER_DOUBLE_ARRAY": ParamType.DOUBLE_ARRAY,
    "PARAMETER_STRING_ARRAY": ParamType.STRING_ARRAY,
}
_ARRAY_OF = {bool: ParamType.BOOL_ARRAY, int: ParamType.INTEGER_ARRAY,
             float: ParamType.DOUBLE_ARRAY, str: ParamType.STRING_ARRAY}
_SCALAR_OF = {bool: ParamType.BOOL, int: ParamType.INTEGER,
              float: ParamType.DOUBLE, str: ParamType.STRING}


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


def value_type(value: Any) -> ParamType | None:
    """The ROS type a YAML value becomes, or None when rclpy cannot take it."""
    if isinstance(value, list):
        if not value:
            return None
        kinds = {type(item) for item in value}
        if len(kinds) != 1 or kinds.pop() not in _ARRAY_OF:
            return None
        return _ARRAY_OF[type(value[0])]
    return _SCALAR_OF.get(type(value))


# --------------------------------------------------------------------------- schemas

def _literal(node: ast.AST, constants: dict[str, Any]) -> Any:
    """Value of a literal expression (module constants resolved); raises ValueError."""
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add, ast.Sub, ast.Div)):
        left, right = _literal(node.left, constants), _literal(node.right, constants)
        ops = {ast.Mult: lambda a, b: a * b, ast.Add: lambda a, b: a + b,
               ast.Sub: lambda a, b: a - b, ast.Div: lambda a, b: a / b}
        return ops[type(node.op)](left, right)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item, constants) for item in node.elts]
    return ast.literal_eval(node)


def _module_constants(tree: ast.Module) -> dict[str, Any]:
    constants: dict[str, Any] = {}
    for stmt in tree.body:
        targets, value = [], None
        if isinstance(stmt, ast.Assign):
            targets, value = [t for t in stmt.targets if isinstance(t, ast.Name)], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            targets, value = [stmt.target], stmt.value
        for target in targets:
            try:
                constants[target.id] = _literal(value, constants)
            except (ValueError, TypeError, SyntaxError, KeyError, ZeroDivisionError):
                pass
    return constants


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _descriptor_rule(node: ast.AST | None, constants: dict[str, Any]) -> Rule:
    """Type and range from a literal ParameterDescriptor(...) call (or a helper call that
    forwards the same keywords, e.g. ``_desc("text", integer_range=[...])``)."""
    if not isinstance(node, ast.Call):
        return Rule()
    kind, low, high, description = None, None, None, ""
    for keyword in node.keywords:
        if keyword.arg == "type" and isinstance(keyword.value, ast.Attribute):
            kind = _DESCRIPTOR_TYPES.get(keyword.value.attr)
        elif keyword.arg == "description":
            try:
                description = str(_literal(keyword.value, constants))
            except (ValueError, TypeError, SyntaxError):
                pass
        elif keyword.arg in ("integer_range", "floating_point_range"):
            ranges = keyword.value.elts if isinstance(keyword.value, (ast.List, ast.Tuple)) else []
            for item in ranges:
                if not isinstance(item, ast.Call):
                    continue
                for kw in item.keywords:
                    try:
                        if kw.arg == "from_value":
                            low = _literal(kw.value, constants)
                        elif kw.arg == "to_value":
                            high = _literal(kw.value, constants)
                    except (ValueError, TypeError, SyntaxError):
                        pass
    return Rule(type=kind, min=low, max=high, description=description)


def declared_parameters(source: str, node: str = "") -> NodeSchema:
    """Schema of a node from its module's source text (never imported)."""
    schema = NodeSchema(node)
    tree = ast.parse(source)
    constants = _module_constants(tree)
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        name = _call_name(call)
        entries: list[tuple[ast.AST, ast.AST | None, ast.AST | None]] = []
        if name == "declare_parameter":
            args = list(call.args) + [None] * 3
            kw = {k.arg: k.value for k in call.keywords}
            entries.append((args[0] or kw.get("name"), args[1] or kw.get("value"),
                            args[2] or kw.get("descriptor")))
        elif name == "declare_parameters":
            kw = {k.arg: k.value for k in call.keywords}
            prefix_node = call.args[0] if call.args else kw.get("namespace")
            items = call.args[1] if len(call.args) > 1 else kw.get("parameters")
            try:
                prefix = _literal(prefix_node, constants) if prefix_node is not None else ""
            except (ValueError, TypeError, SyntaxError):
                schema.open = True
                continue
            if not isinstance(items, (ast.List, ast.Tuple)):
                schema.open = True
                continue
            for item in items.elts:
                parts = list(item.elts) + [None] * 3 if isinstance(item, ast.Tuple) else [None] * 3
                if parts[0] is None:
                    schema.open = True
                    continue
                name_node = parts[0]
                if prefix:
                    name_node = ast.Constant(f"{prefix}.{_safe_literal(parts[0], constants)}")
                entries.append((name_node, parts[1], parts[2]))
        for name_node, default_node, descriptor_node in entries:
            try:
                key = _literal(name_node, constants) if name_node is not None else None
            except (ValueError, TypeError, SyntaxError):
                key = None
            if not isinstance(key, str):
                schema.open = True   # a name built at run time: cannot list every key
                continue
            rule = _descriptor_rule(descriptor_node, constants)
            if rule.type is None and isinstance(default_node, ast.Attribute):
                # declare_parameter("x", Parameter.Type.DOUBLE): a type without a default
                rule = Rule(type=_DESCRIPTOR_TYPES.get(f"PARAMETER_{default_node.attr}")).merged(rule)
            elif rule.type is None and default_node is not None:
                try:
                    rule = Rule(type=value_type(_literal(default_node, constants))).merged(rule)
                except (ValueError, TypeError, SyntaxError):
                    pass
            schema.rules[key] = rule
    if not schema.rules:
        schema.open = True
        schema.note = "no literal declare_parameter calls found"
    return schema


def _safe_literal(node: ast.AST, constants: dict[str, Any]) -> str:
    try:
        return str(_literal(node, constants))
    except (ValueError, TypeError, SyntaxError):
        return "?"


def _module_source(module: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin).read_text(encoding="utf-8")


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


def node_schemas(specs: Iterable[bringup.NodeSpec] = bringup.NODES) -> dict[str, NodeSchema]:
    """Schema of every node: declarations read from source, merged with role rules."""
    extra = role_rules()
    schemas = {}
    for spec in specs:
        source = _module_source(spec.module)
        if source is None:
            schema = NodeSchema(spec.name, open=True, note=f"module {spec.module} not found")
        else:
            try:
                schema = declared_parameters(source, spec.name)
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
