"""Standard diagnostics for every carebot node (diagnostic_msgs on /diagnostics).

A node keeps a ``HealthReport`` (pure data, testable without ROS) and calls
``DiagnosticsPublisher.publish(report)`` from a timer. ``carebot status`` and the
dashboard read /diagnostics.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Level(enum.IntEnum):
    """Same values as diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass
class HealthReport:
    """What one node says about itself: a level, a one-line message, key values."""

    name: str                       # e.g. "carebot/perception"
    level: Level = Level.STALE
    message: str = "starting"
    values: dict[str, str] = field(default_factory=dict)

    def set(self, level: Level, message: str, **values: object) -> None:
        self.level = level
        self.message = message
        self.values.update({k: str(v) for k, v in values.items()})


DIAGNOSTICS_TOPIC = "/diagnostics"   # absolute by convention of the ROS diagnostics stack
DIAGNOSTICS_PERIOD_S = 1.0


class DiagnosticsPublisher:
    """Thin ROS adapter: publishes HealthReports as a DiagnosticArray."""

    def __init__(self, node, hardware_id: str = "carebot"):
        from diagnostic_msgs.msg import DiagnosticArray  # noqa: F401  (import check at start)

        self._node = node
        self._hardware_id = hardware_id
        self._pub = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)

    def publish(self, *reports: HealthReport) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        array = DiagnosticArray()
        array.header.stamp = self._node.get_clock().now().to_msg()
        for report in reports:
            status = DiagnosticStatus()
            status.level = bytes([int(report.level)])
            status.name = report.name
            status.message = report.message
            status.hardware_id = self._hardware_id
            status.values = [KeyValue(key=k, value=v) for k, v in report.values.items()]
            array.status.append(status)
        self._pub.publish(array)
