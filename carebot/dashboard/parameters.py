"""The dashboard node's parameter table (no ROS); see carebot/parameters.py."""
from __future__ import annotations

import ipaddress

from carebot.dashboard.auth import parse_accounts
from carebot.parameters import Param, ParamTable, ParamType, refusal_of


def _host(value: str) -> str | None:
    if value == "localhost":
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address (use 127.0.0.1, 0.0.0.0 or the interface's address)"
    return None


DASHBOARD = ParamTable("dashboard", (
    Param("host", ParamType.STRING, "127.0.0.1",
          "address the web server binds; 0.0.0.0 exposes it to the network (use HTTPS in front)",
          check=_host, constraint="an IP address or localhost"),
    Param("port", ParamType.INTEGER, 8080, "TCP port of the web server; 0 picks a free one", min=0, max=65535),
    Param("database", ParamType.STRING, "", "SQLite file for alerts, acknowledgements, transcripts and sessions; "
          "empty = $XDG_DATA_HOME/carebot/dashboard.sqlite3"),
    Param("staff_accounts", ParamType.STRING_ARRAY, None,
          "staff logins as NAME:HASH; make the hash with `carebot dashboard hash-password`",
          check=refusal_of(lambda entries: parse_accounts(list(entries))),
          constraint="NAME:HASH entries (scrypt), each name once"),
    Param("session_timeout_s", ParamType.DOUBLE, 43200.0, "idle time after which a login expires", "s",
          60.0, 604800.0),
    Param("transcript_retention_s", ParamType.DOUBLE, 86400.0, "transcripts older than this are deleted", "s",
          60.0, 31536000.0),
    Param("camera_view", ParamType.BOOL, False, "show the perception debug image on the page (off: never subscribed)"),
    Param("camera_jpeg_quality", ParamType.INTEGER, 70, "JPEG quality of the camera view", min=10, max=100),
    Param("world", ParamType.STRING, "care_home",
          "site world drawn as the map: a site name (models/worlds/<name>.yaml) or a file; "
          "one that cannot be read leaves the page without a map (logged)"),
    Param("title", ParamType.STRING, "carebot", "title shown on the page"),
    Param("ask_timeout_s", ParamType.DOUBLE, 20.0, "how long the chat waits for brain/ask", "s", 0.5, 300.0),
    Param("estop_timeout_s", ParamType.DOUBLE, 2.0, "how long the stop button waits for safety/trigger_estop", "s",
          0.1, 30.0),
    Param("secure_cookie", ParamType.BOOL, False, "mark the session cookie Secure (set true when served behind HTTPS)"),
))
