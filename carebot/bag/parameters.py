"""The live view node's parameter table (no ROS); see carebot/parameters.py.

The recorder and player are command-line tools configured by their arguments, as
``ros2 bag`` is; the live view is a node of ``carebot up --live-view`` and is configured
like every other node, from the site file's ``live_view:`` section.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from carebot.parameters import Param, ParamTable, ParamType, SettingError, is_loopback


def _host(value: str) -> str | None:
    if value == "localhost":
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address (use 127.0.0.1, or an interface's address to expose the view)"
    return None


@dataclass(frozen=True)
class LiveViewSettings:
    """What the live view serves, and where."""

    host: str
    port: int
    camera: bool
    world: str
    map_resolution: float
    map_period_s: float


LIVE_VIEW = ParamTable("live_view", (
    Param("host", ParamType.STRING, "127.0.0.1",
          "address the Foxglove WebSocket server binds; loopback by default (the view has no login): "
          "reach it through an SSH tunnel; another address needs allow_unauthenticated_remote",
          check=_host, constraint="an IP address or localhost"),
    Param("allow_unauthenticated_remote", ParamType.BOOL, False,
          "true: a host beyond loopback is served although the view has no login or TLS (anyone on that "
          "network sees the alerts, the map and the robot's state); false refuses such a host at start"),
    Param("port", ParamType.INTEGER, 8765, "TCP port of the Foxglove WebSocket server (Foxglove's default 8765); "
          "0 picks a free one", min=0, max=65535),
    Param("camera", ParamType.BOOL, False,
          "relay camera/image_raw and perception/debug_image to the view (off: never subscribed; privacy)"),
    Param("world", ParamType.STRING, "care_home",
          "site world drawn as the map: a site name (models/worlds/<name>.yaml) or a file; one that cannot be "
          "read leaves the view without a map (logged)"),
    Param("map_resolution", ParamType.DOUBLE, 0.05, "cell size of the map sent to the view", "m", 0.01, 1.0),
    Param("map_period_s", ParamType.DOUBLE, 5.0,
          "the map (and static transforms) are sent again this often, for viewers that connect later", "s",
          0.5, 600.0),
), build=lambda v: _settings(v))


def _settings(v: dict) -> LiveViewSettings:
    if not is_loopback(v["host"]) and not v["allow_unauthenticated_remote"]:
        raise SettingError("host", f"{v['host']} is beyond loopback and the live view has no login or TLS: use an "
                                   "SSH tunnel to 127.0.0.1, or set allow_unauthenticated_remote: true on a "
                                   "network only staff can reach")
    return LiveViewSettings(v["host"], v["port"], v["camera"], v["world"], v["map_resolution"], v["map_period_s"])
