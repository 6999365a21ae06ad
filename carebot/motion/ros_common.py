"""Small ROS helpers shared by the motion nodes: QoS profiles, parameters, conversions."""
from __future__ import annotations

import math

from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# docs/interfaces.md: sensor = best effort depth 1; latched = reliable transient local depth 1;
# commands = reliable depth 10.
SENSOR_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Velocity commands: only the newest counts. Twist has no stamp, so the safety layer times
# a command from its arrival; a queued backlog would replay old commands as fresh ones
# after a stall and keep the base moving past the command timeout.
COMMAND_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)

# Frames of the base in which relative targets may be given; base_link is on the wheel axle.
BASE_FRAMES = {"": 0.0, "base_footprint": 0.0, "base_link": 0.08}


def declare_float(node: Node, name: str, default: float, description: str, lo: float, hi: float) -> float:
    """Declare a float parameter with a range and read it once; out-of-range raises ValueError."""
    try:
        node.declare_parameter(name, float(default), ParameterDescriptor(
            description=description, floating_point_range=[FloatingPointRange(from_value=lo, to_value=hi)]))
    except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
        raise ValueError(f"parameter {name}: {exc} (allowed: a float in [{lo}, {hi}])") from None
    value = float(node.get_parameter(name).value)
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"parameter {name}={value!r} must lie in [{lo}, {hi}]")
    return value


def declare_value(node: Node, name: str, default, description: str):
    """Declare a parameter (str, bool, int) and read it once."""
    try:
        node.declare_parameter(name, default, ParameterDescriptor(description=description))
    except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
        raise ValueError(f"parameter {name}: {exc}") from None
    return node.get_parameter(name).value


def reject_unknown_parameters(node: Node) -> None:
    """Raise ValueError naming parameters given to the node (params file, -p) that it never declared.

    rclpy silently ignores such overrides; for a safety node a misspelt limit must stop the start.
    """
    overrides = getattr(node, "_parameter_overrides", None) or {}
    unknown = sorted(name for name in overrides
                     if not node.has_parameter(name) and not name.startswith("qos_overrides."))
    if unknown:
        raise ValueError(f"unknown parameters for {node.get_name()}: {', '.join(unknown)}")


def yaw_of(q) -> float:
    """Yaw (rad) of a geometry_msgs/Quaternion."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def set_yaw(q, yaw: float) -> None:
    q.x, q.y, q.z, q.w = 0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)


def now_s(node: Node) -> float:
    """The node's clock (sim time under use_sim_time) in seconds."""
    return node.get_clock().now().nanoseconds * 1e-9


def finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)
