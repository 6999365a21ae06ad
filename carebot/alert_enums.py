"""The enums of carebot_interfaces/msg/Alert as Python types, without a ROS import.

The brain (which raises and escalates incidents) and the dashboard (which stores
them and takes staff actions) share these; a unit test checks the values against
the generated message constants.
"""
from __future__ import annotations

from enum import IntEnum


class AlertKind(IntEnum):
    """Alert KIND_*."""

    FALL = 0
    HELP_REQUEST = 1
    REMINDER_MISSED = 2
    SAFETY = 3
    SYSTEM = 4
    MEDICAL = 5
    FIRE = 6


class Severity(IntEnum):
    """Alert SEVERITY_*."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2


class AlertState(IntEnum):
    """Alert STATE_*."""

    RAISED = 0
    ACKNOWLEDGED = 1
    ESCALATED = 2
    RESOLVED = 3
