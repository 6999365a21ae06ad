"""ROS glue every node shares: QoS profiles, parameter declaration from a table, the clock,
subscriptions a node takes from at its own pace (``LatestMessage``), an action client whose
goals cannot be lost to a thread race (``ActionClient``).

The one module besides the node files that imports rclpy. Pure conversions (angles,
quaternions, stamps, planar frames) live in ``carebot.frames``; parameter tables in
``carebot.parameters`` and each role's ``parameters`` module.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.action import ActionClient as _RclpyActionClient
from rclpy.callback_groups import CallbackGroup
from rclpy.exceptions import (InvalidHandle, InvalidParameterTypeException, InvalidParameterValueException,
                              ParameterUninitializedException)
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from carebot.parameters import COMMON_PREFIXES, Issue, Param, ParameterError, ParamTable, ParamType

# docs/interfaces.md: sensor = best effort depth 1 (the newest frame wins, no backlog);
# latched = reliable transient local depth 1 (late joiners get the state);
# reliable = reliable volatile depth 10 (events and commands).
SENSOR_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Velocity commands: only the newest counts. Twist has no stamp, so the safety layer times
# a command from its arrival; a queued backlog would replay old commands as fresh ones
# after a stall and keep the base moving past the command timeout.
COMMAND_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
# Audio blocks of a simulated microphone: every block counts (a gap is a lost syllable),
# 100 blocks (~3 s at 30 ms) ride out a busy subscriber.
AUDIO_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)

_ROS_TYPES = {
    ParamType.BOOL: (ParameterType.PARAMETER_BOOL, Parameter.Type.BOOL),
    ParamType.INTEGER: (ParameterType.PARAMETER_INTEGER, Parameter.Type.INTEGER),
    ParamType.DOUBLE: (ParameterType.PARAMETER_DOUBLE, Parameter.Type.DOUBLE),
    ParamType.STRING: (ParameterType.PARAMETER_STRING, Parameter.Type.STRING),
    ParamType.BOOL_ARRAY: (ParameterType.PARAMETER_BOOL_ARRAY, Parameter.Type.BOOL_ARRAY),
    ParamType.INTEGER_ARRAY: (ParameterType.PARAMETER_INTEGER_ARRAY, Parameter.Type.INTEGER_ARRAY),
    ParamType.DOUBLE_ARRAY: (ParameterType.PARAMETER_DOUBLE_ARRAY, Parameter.Type.DOUBLE_ARRAY),
    ParamType.STRING_ARRAY: (ParameterType.PARAMETER_STRING_ARRAY, Parameter.Type.STRING_ARRAY),
}
INT64_MAX = 2 ** 63 - 1


def descriptor(param: Param) -> ParameterDescriptor:
    """The ParameterDescriptor a table entry is declared with (ros2 param describe shows it)."""
    d = ParameterDescriptor(name=param.name, type=_ROS_TYPES[param.type][0], description=param.text,
                            additional_constraints=param.constraints)
    if param.min is not None or param.max is not None:
        if param.type in (ParamType.INTEGER, ParamType.INTEGER_ARRAY):
            lo = int(param.min) if param.min is not None else -INT64_MAX - 1
            hi = int(param.max) if param.max is not None else INT64_MAX
            d.integer_range = [IntegerRange(from_value=lo, to_value=hi, step=0)]
        elif param.type in (ParamType.DOUBLE, ParamType.DOUBLE_ARRAY):
            lo = float(param.min) if param.min is not None else -float("inf")
            hi = float(param.max) if param.max is not None else float("inf")
            d.floating_point_range = [FloatingPointRange(from_value=lo, to_value=hi, step=0.0)]
    return d


def declare_table(node: Node, table: ParamTable) -> Any:
    """Declare every parameter of ``table`` on ``node``, read them once and load the settings.

    Returns ``table.load(values)``; raises ParameterError (a ValueError) naming every bad
    key: a value rclpy refuses at declaration (wrong type, out of range), an override the
    node does not declare (rclpy would ignore a misspelt key silently), and whatever the
    table refuses, which is also what ``carebot config-check`` refuses.
    """
    issues: list[Issue] = []
    for param in table.params:
        default = param.default if param.default is not None else _ROS_TYPES[param.type][1]
        try:
            node.declare_parameter(param.name, default, descriptor(param))
        except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
            issues.append(Issue(param.name, str(exc)))
    refused = {issue.key for issue in issues}
    issues += [Issue(name, f"unknown parameter of node {table.node!r}; it declares: {', '.join(table.names)}")
               for name in unknown_overrides(node) if name not in refused]
    if issues:
        raise ParameterError(table.node, issues)
    values, unset = {}, []
    for param in table.params:
        try:
            value = node.get_parameter(param.name).value
        except ParameterUninitializedException:   # declared by type only and not given
            unset.append(param)
            continue
        if value is not None:
            values[param.name] = list(value) if param.type.is_array else value
    # An uninitialised parameter makes the node's get_parameters service answer no values at
    # all (ros2 param dump, config tools): an array not given becomes an empty one of its type.
    node.set_parameters([Parameter(p.name, _ROS_TYPES[p.type][1], []) for p in unset if p.type.is_array])
    return table.load(values)


def unknown_overrides(node: Node) -> list[str]:
    """Parameters given to the node (params file, -p) that it never declared."""
    overrides = getattr(node, "_parameter_overrides", None) or {}
    return sorted(name for name in overrides
                  if not node.has_parameter(name) and not name.startswith(COMMON_PREFIXES))


def now_s(node: Node) -> float:
    """The node's clock (sim time under use_sim_time) in seconds."""
    return node.get_clock().now().nanoseconds * 1e-9


class _TakenByTheNode(CallbackGroup):
    """A callback group the executor never waits on: its subscriptions' messages stay in the
    DDS reader until the node takes them (``LatestMessage``)."""

    def can_execute(self, entity) -> bool:
        return False

    def beginning_execution(self, entity) -> bool:
        return False

    def ending_execution(self, entity) -> None:
        pass


class LatestMessage:
    """The newest message of a topic, taken when the node's job needs it, not one callback each.

    Every message a subscription callback gets wakes the executor: ~1 ms of Python in rclpy 7.1,
    so odometry at 50 Hz alone cost a node 6 % of a core (docs/budget.md), in nodes that only use
    the newest pose at their own tick or at a goal's start. Here the subscription sits in a
    callback group no executor waits on (``can_execute`` is False, so it is never in a wait set);
    arriving messages wait in the DDS reader (history ``qos.depth``) without waking Python, and
    ``take()`` drains them. Thread-safe.
    """

    def __init__(self, node: Node, msg_type, topic: str, qos: QoSProfile | None = None) -> None:
        self._sub = node.create_subscription(msg_type, topic, _ignore, qos or SENSOR_QOS,
                                             callback_group=_TakenByTheNode())
        self._lock = threading.Lock()
        self.message = None            # the newest message taken so far (None before the first)
        self.received_at = -math.inf   # time.monotonic() when it arrived in this process
        self.taken = 0                 # messages taken in all (a test and diagnostics figure)

    @property
    def topic(self) -> str:
        return self._sub.topic_name

    def take_all(self) -> list[tuple[Any, float]]:
        """Every message waiting since the last take, oldest first (at most the QoS depth), each with
        its arrival in this process on the ``time.monotonic()`` clock."""
        out = []
        with self._lock:
            while True:
                try:
                    with self._sub.handle:
                        taken = self._sub.handle.take_message(self._sub.msg_type, self._sub.raw)
                except InvalidHandle:     # destroyed at shutdown
                    break
                if taken is None:
                    break
                message, info = taken
                out.append((message, _monotonic_of(info.get("received_timestamp") if isinstance(info, dict) else None)))
            if out:
                self.message, self.received_at = out[-1]
                self.taken += len(out)
        return out

    def take(self):
        """The newest message that arrived since the last take, or None (``message`` keeps the last one)."""
        taken = self.take_all()
        return taken[-1][0] if taken else None


def _ignore(_msg) -> None:
    """Never called: the executor does not run a LatestMessage's subscription."""


def _monotonic_of(received_ns: int | None) -> float:
    """time.monotonic() of a DDS reception stamp (system clock, ns); now when there is none."""
    now = time.monotonic()
    if not received_ns:
        return now
    return min(now, now - (time.time_ns() - int(received_ns)) * 1e-9)


class ActionClient(_RclpyActionClient):
    """rclpy's action client, safe to send goals, cancels and result requests from any thread.

    rclpy 7.1 (Jazzy) sends a request and only then files its future under the request's
    sequence number. When the server answers in between, the executor's thread takes the
    response, finds no future, logs "Ignoring unexpected goal response. There may be more
    than one action server" and the caller's future never completes (ros2/rclpy#1123; a
    Speak goal was lost that way in CI). Here sending and filing happen under one lock that
    the executor also takes before it takes responses, so a response is only read once its
    future is filed. Same fix as upstream's (rclpy#1308), kept here until the wheels have it.
    """

    def __init__(self, *args, **kwargs):
        self._filing = threading.RLock()
        super().__init__(*args, **kwargs)

    def take_data(self):
        with self._filing:
            return super().take_data()

    def send_goal_async(self, goal, feedback_callback=None, goal_uuid=None):
        with self._filing:
            return super().send_goal_async(goal, feedback_callback, goal_uuid)

    def _cancel_goal_async(self, goal_handle):
        with self._filing:
            return super()._cancel_goal_async(goal_handle)

    def _get_result_async(self, goal_handle):
        with self._filing:
            return super()._get_result_async(goal_handle)
