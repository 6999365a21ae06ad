"""Parameters of ``carebot up``'s supervision node (no ROS); see carebot/parameters.py."""
from __future__ import annotations

from carebot.dds_confinement import DEFAULT_DOMAIN_ID, DOMAIN_PARAMETER
from carebot.launcher.watchdog import SILENCE_TIMEOUT_S, STARTUP_TIMEOUT_S, WatchdogConfig
from carebot.parameters import Param, ParamTable, ParamType

SUPERVISOR = ParamTable("supervisor", (
    Param("diagnostics_timeout_s", ParamType.DOUBLE, SILENCE_TIMEOUT_S,
          "a node that reported on /diagnostics and then stays silent this long gets a SYSTEM alert (hung?); "
          "it is never killed for it", "s", 5.0, 3600.0),
    Param("startup_timeout_s", ParamType.DOUBLE, STARTUP_TIMEOUT_S,
          "a node that has not reported this long after it (re)started gets a SYSTEM alert; long, because "
          "loading models on two cores takes minutes", "s", 10.0, 3600.0),
    # Read from the file before any node starts (carebot.dds_confinement.site_domain_id): the
    # domain is chosen before rclpy starts, so the supervision node only declares it.
    Param(DOMAIN_PARAMETER, ParamType.INTEGER, DEFAULT_DOMAIN_ID,
          "ROS_DOMAIN_ID of the whole stack: carebot up and bringup.launch.py start every node in it unless "
          "ROS_DOMAIN_ID is set; not 0, the default domain other ROS software on this computer uses; "
          "up to 101 (higher domains' ports collide with Linux's ephemeral ports)", min=1, max=101),
), build=lambda v: WatchdogConfig(v["diagnostics_timeout_s"], v["startup_timeout_s"]))
