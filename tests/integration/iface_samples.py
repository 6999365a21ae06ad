"""Deterministic, fully populated instances of any ROS message type.

Used to prove that every carebot_interfaces type crosses DDS intact: the sender
and the receiver build the same sample from the same seed and compare.
"""
from __future__ import annotations

import importlib
import re

_SEQUENCE = re.compile(r"^sequence<([^,>]+)(?:,\s*\d+)?>$")
_BOUNDED_STRING = re.compile(r"^string<=\d+$")
_INTS = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "byte", "char", "octet"}
_FLOATS = {"float", "double", "float32", "float64"}


def _message_class(type_name: str):
    package, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


def _value(type_name: str, field: str, seed: int):
    if type_name in ("boolean", "bool"):
        return seed % 2 == 0
    if type_name in _INTS:
        return (seed * 7 + len(field)) % 3  # small: valid for uint8 enums with 3+ values
    if type_name in _FLOATS:
        return 0.25 * ((seed + len(field)) % 16)  # exactly representable in float32
    if type_name == "string" or _BOUNDED_STRING.match(type_name):
        return f"{field}-{seed} 救命 ok"  # UTF-8 must survive the wire
    match = _SEQUENCE.match(type_name)
    if match:
        return [_value(match.group(1), field, seed + i) for i in range(2)]
    if type_name == "builtin_interfaces/Time":
        return _message_class(type_name)(sec=1000 + seed, nanosec=500 + seed)
    if "/" in type_name:
        return populate(_message_class(type_name)(), seed + 1)
    raise TypeError(f"no sample rule for field type {type_name!r}")


def populate(message, seed: int = 1):
    """Fill every field of message (recursively) from seed; returns message."""
    for field, type_name in message.get_fields_and_field_types().items():
        setattr(message, field, _value(type_name, field, seed))
    return message


def to_plain(message):
    """A message as nested dicts/lists, for equality checks and readable diffs."""
    if hasattr(message, "get_fields_and_field_types"):
        return {f: to_plain(getattr(message, f)) for f in message.get_fields_and_field_types()}
    if isinstance(message, (list, tuple)):
        return [to_plain(v) for v in message]
    if hasattr(message, "tolist"):
        return message.tolist()
    return message
