"""Parameter tables: every parameter of a node in one place, for the node and the config check.

Pure module (no rclpy). Each node has one ``ParamTable`` (``carebot/<role>/parameters.py``,
named by ``carebot.bringup.NodeSpec.parameters``): per parameter its name, ROS type,
default, unit, range or choices, a format check where a range cannot say it, and a
description; per table the rules between parameters and the ``build`` step that turns
the values into the node's typed settings.

Two readers, one verdict:

- the node declares every entry with a ParameterDescriptor built from it
  (``carebot.ros_common.declare_table``) and hands the values to ``ParamTable.load``,
  which returns the settings or raises ``ParameterError`` naming every bad key;
- ``carebot config-check`` hands a site file's section to ``ParamTable.issues``, the same
  function ``load`` calls, so a file passes the check exactly when the node would start.

Types follow rclpy: a YAML ``2`` is an integer and is refused for a double parameter
(write ``2.0``); an empty list or a null leaves a parameter unset and is refused.
"""
from __future__ import annotations

import enum
import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# Names every rclpy node accepts without declaring them itself.
COMMON_PREFIXES = ("qos_overrides.",)
COMMON_PARAMETERS = ("use_sim_time",)
MAX_CHOICES_SHOWN = 8      # a refusal lists at most this many of the allowed values


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

    @property
    def is_array(self) -> bool:
        return self.name.endswith("_ARRAY")

    @property
    def is_number(self) -> bool:
        return self in (ParamType.INTEGER, ParamType.DOUBLE, ParamType.INTEGER_ARRAY, ParamType.DOUBLE_ARRAY)


_ARRAY_OF = {bool: ParamType.BOOL_ARRAY, int: ParamType.INTEGER_ARRAY,
             float: ParamType.DOUBLE_ARRAY, str: ParamType.STRING_ARRAY}
_SCALAR_OF = {bool: ParamType.BOOL, int: ParamType.INTEGER, float: ParamType.DOUBLE, str: ParamType.STRING}


def value_type(value: Any) -> ParamType | None:
    """The ROS type a YAML/Python value becomes, or None when rclpy cannot take it."""
    if isinstance(value, (list, tuple)):
        if not value:
            return None
        kinds = {type(item) for item in value}
        if len(kinds) != 1 or next(iter(kinds)) not in _ARRAY_OF:
            return None
        return _ARRAY_OF[type(value[0])]
    return _SCALAR_OF.get(type(value))


@dataclass(frozen=True)
class Issue:
    """One refused value: the parameter (or file location) and why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


class ParameterError(ValueError):
    """Values a node must not start with; ``issues`` names every bad key."""

    def __init__(self, node: str, issues: list[Issue]):
        self.node = node
        self.issues = list(issues)
        super().__init__(f"{node} parameters: " + "; ".join(str(i) for i in self.issues))


def is_loopback(host: str) -> bool:
    """True for the addresses only this computer reaches (127.0.0.0/8, ::1, localhost): a
    server bound there needs no login or TLS against the network (dashboard, live view, fleet)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingError(ValueError):
    """Raised by a table's ``build`` for a value it cannot use; names the parameter."""

    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason
        super().__init__(f"{key}: {reason}")


@dataclass(frozen=True)
class Param:
    """One parameter. ``default`` None: no default (the node runs without it unless given)."""

    name: str
    type: ParamType
    default: Any
    description: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None   # a rule a range cannot say: the reason, or None
    constraint: str = ""                                # the check in words (descriptor additional_constraints)

    def __post_init__(self):
        if self.default is not None and self.problems(self.default):
            raise ValueError(f"parameter table: default of {self.name} is refused by its own rules: "
                             f"{self.problems(self.default)}")

    @property
    def text(self) -> str:
        """The description as the node declares it (with the unit)."""
        return f"{self.description} [{self.unit}]" if self.unit else self.description

    @property
    def constraints(self) -> str:
        """What the range descriptor cannot say, in words."""
        parts = []
        if self.choices is not None:
            parts.append("one of: " + ", ".join(str(c) for c in self.choices))
        if self.constraint:
            parts.append(self.constraint)
        return "; ".join(parts)

    def problems(self, value: Any) -> list[str]:
        """Why ``value`` is refused for this parameter (empty: fine)."""
        if value is None:
            return ["has no value (null); give a value or remove the key"]
        if isinstance(value, (list, tuple)) and not value:
            return ["empty list: ROS cannot tell its type and leaves the parameter unset; "
                    "remove the key to keep the node's default"]
        actual = value_type(value)
        if actual is None:
            return [f"{value!r} is not a ROS parameter value (bool, int, float, string or a list of one of those)"]
        if actual is not self.type:
            hint = " (write it with a decimal point, e.g. 2.0)" if (
                self.type in (ParamType.DOUBLE, ParamType.DOUBLE_ARRAY)
                and actual in (ParamType.INTEGER, ParamType.INTEGER_ARRAY)) else ""
            return [f"expects a {self.type.value}, got {actual.value} {value!r}{hint}"]
        reasons = []
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if self.type.is_number:
            for item in items:
                if isinstance(item, float) and not math.isfinite(item):
                    reasons.append(f"{item!r} is not a finite number")
                elif self.min is not None and item < self.min:
                    reasons.append(f"{item!r} is below the minimum {self.min!r}")
                elif self.max is not None and item > self.max:
                    reasons.append(f"{item!r} is above the maximum {self.max!r}")
        if self.choices is not None:
            known = ", ".join(map(repr, self.choices[:MAX_CHOICES_SHOWN]))
            if len(self.choices) > MAX_CHOICES_SHOWN:
                known += f" ... ({len(self.choices)} values)"
            reasons += [f"{item!r} is not one of {known}" for item in items if item not in self.choices]
        if self.check is not None and not reasons:
            reason = self.check(value)
            if reason:
                reasons.append(reason)
        return reasons


@dataclass(frozen=True)
class CrossRule:
    """A rule between parameters: ``test`` gets their values in ``keys`` order, True = fine."""

    keys: tuple[str, ...]
    test: Callable[..., bool]
    reason: str

    def issue(self, values: Mapping[str, Any]) -> Issue | None:
        if self.test(*(values[k] for k in self.keys)):
            return None
        return Issue(", ".join(self.keys), self.reason)


@dataclass(frozen=True)
class ParamTable:
    """All parameters of one node, its cross-field rules and how its settings are built."""

    node: str
    params: tuple[Param, ...]
    rules: tuple[CrossRule, ...] = ()
    build: Callable[[Mapping[str, Any]], Any] | None = None
    _by_name: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter table {self.node}: a name is listed twice")
        self._by_name.update({p.name: p for p in self.params})
        for rule in self.rules:
            missing = set(rule.keys) - set(names)
            if missing:
                raise ValueError(f"parameter table {self.node}: rule names unknown {sorted(missing)}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults with ``given`` on top (unknown keys left out)."""
        return {**self.defaults(), **{k: v for k, v in given.items() if k in self}}

    def issues(self, given: Mapping[str, Any]) -> list[Issue]:
        """Every problem of these values (a file's section, or what a node was given).

        Unknown keys and bad values are named one by one; a cross-field rule runs when each
        of its keys holds a good value; the build step when every value and rule is fine.
        """
        issues: list[Issue] = []
        bad: set[str] = set()
        for key, value in given.items():
            if key in COMMON_PARAMETERS or key.startswith(COMMON_PREFIXES):
                continue
            if key not in self:
                issues.append(Issue(key, f"unknown parameter of node {self.node!r}; it declares: "
                                         f"{', '.join(self.names)}"))
                continue
            reasons = self[key].problems(value)
            issues += [Issue(key, reason) for reason in reasons]
            bad |= {key} if reasons else set()
        values = self.values(given)
        issues += [i for i in (rule.issue(values) for rule in self.rules if not bad & set(rule.keys)) if i is not None]
        if issues or self.build is None:
            return issues
        try:
            self.build(values)
        except SettingError as exc:
            return [Issue(exc.key, exc.reason)]
        except ValueError as exc:
            return [Issue(self.node, str(exc))]
        return []

    def load(self, given: Mapping[str, Any]) -> Any:
        """The node's typed settings (``build``), or the checked values when it has none.

        Raises ParameterError naming every bad key: the same verdict as ``issues``."""
        issues = self.issues(given)
        if issues:
            raise ParameterError(self.node, issues)
        values = self.values(given)
        return self.build(values) if self.build is not None else values


def refusal_of(parse: Callable[[Any], object]) -> Callable[[Any], str | None]:
    """A format check made from a parser: the words of its ValueError, or None when it parses."""
    def check(value: Any) -> str | None:
        try:
            parse(value)
        except ValueError as exc:
            return str(exc)
        return None
    return check


def world_problem(value: str, required: bool = False) -> str | None:
    """None when ``value`` names a loadable site world (name or YAML path), else why not."""
    if value == "":
        return "a site is required (its map and places)" if required else None
    from carebot.world import WorldError, load_world

    try:
        load_world(value)
    except (WorldError, OSError, ValueError) as exc:
        return str(exc)
    return None
