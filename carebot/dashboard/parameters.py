"""The dashboard node's parameter table (no ROS); see carebot/parameters.py.

``build`` turns the values into ``DashboardSettings`` and holds the exposure rules, so
``carebot config-check`` and the node refuse the same files: bound beyond loopback, the
page needs TLS (in the process, or an HTTPS proxy in front with ``secure_cookie``), the
names staff type in the address bar (``allowed_hosts``), and no account may still have
the shipped demo password.
"""
from __future__ import annotations

import ipaddress
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from carebot import i18n
from carebot.dashboard.auth import Account, demo_accounts, parse_accounts
from carebot.dashboard.locale import time_zone_problem
from carebot.parameters import CrossRule, Param, ParamTable, ParamType, SettingError, is_loopback, refusal_of

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?)*\.?$")
_ORIGIN = re.compile(r"^(https?)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:(\d{1,5}))?$")


def _host(value: str) -> str | None:
    if value == "localhost":
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address (use 127.0.0.1, 0.0.0.0 or the interface's address)"
    return None


def host_name_problem(name: str) -> str | None:
    """Why an ``allowed_hosts`` entry is not a host name or IP address (no port, no scheme)."""
    text = name.strip("[]")
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    if not _HOSTNAME.match(name):
        return f"{name!r} is not a host name or IP address (give it without scheme or port)"
    return None


def _hosts(values: list[str]) -> str | None:
    return next((p for p in (host_name_problem(v) for v in values) if p), None)


def _origins(values: list[str]) -> str | None:
    for value in values:
        if not _ORIGIN.match(value):
            return f"{value!r} is not an origin like https://nurse-station.example:8443 (scheme, host, port)"
    return None


@dataclass(frozen=True)
class DashboardSettings:
    """The dashboard node's typed settings."""

    host: str
    port: int
    database: str
    accounts: dict[str, Account]
    session_timeout_s: float
    session_max_s: float
    transcript_retention_s: float
    audit_retention_s: float
    camera_view: bool
    camera_jpeg_quality: int
    world: str
    title: str
    language: str
    time_zone: str
    ask_timeout_s: float
    estop_timeout_s: float
    secure_cookie: bool                  # effective: asked for, or TLS, or bound beyond loopback
    tls_certificate: str
    tls_private_key: str
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    max_connections: int
    max_connections_per_client: int

    @property
    def exposed(self) -> bool:
        return not is_loopback(self.host)

    @property
    def tls(self) -> bool:
        return bool(self.tls_certificate)


def tls_context(certificate: str, private_key: str) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or newer) from PEM files; OSError/SSLError say what is wrong."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, private_key)
    return context


def _build(v: Mapping[str, Any]) -> DashboardSettings:
    accounts = parse_accounts(list(v["staff_accounts"] or []))
    certificate, key = v["tls_certificate"], v["tls_private_key"]
    if certificate:
        try:
            tls_context(str(Path(certificate).expanduser()), str(Path(key).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            raise SettingError("tls_certificate", f"cannot load the certificate and key: {exc}") from None
    exposed = not is_loopback(v["host"])
    if exposed:
        if not certificate and not v["secure_cookie"]:
            raise SettingError("host", f"{v['host']} reaches beyond this computer without TLS: set tls_certificate "
                                       "and tls_private_key, or put an HTTPS proxy in front and set secure_cookie: true")
        if not v["allowed_hosts"]:
            raise SettingError("allowed_hosts", f"bound to {v['host']}: list the names and addresses staff type in "
                                                "the address bar (requests naming any other host are refused)")
        weak = demo_accounts(accounts)
        if weak:
            raise SettingError("staff_accounts", f"bound to {v['host']}, and {', '.join(map(repr, weak))} still "
                                                 "ha(s/ve) the demo password: make new hashes with `carebot "
                                                 "dashboard hash-password NAME`")
    return DashboardSettings(
        host=v["host"], port=v["port"], database=v["database"], accounts=accounts,
        session_timeout_s=v["session_timeout_s"], session_max_s=v["session_max_s"],
        transcript_retention_s=v["transcript_retention_s"], audit_retention_s=v["audit_retention_s"],
        camera_view=v["camera_view"], camera_jpeg_quality=v["camera_jpeg_quality"], world=v["world"],
        title=v["title"], language=i18n.normalize_language(v["language"]), time_zone=v["time_zone"],
        ask_timeout_s=v["ask_timeout_s"], estop_timeout_s=v["estop_timeout_s"],
        secure_cookie=bool(v["secure_cookie"] or certificate or exposed),
        tls_certificate=str(Path(certificate).expanduser()) if certificate else "",
        tls_private_key=str(Path(key).expanduser()) if key else "",
        allowed_hosts=tuple(v["allowed_hosts"] or ()), allowed_origins=tuple(v["allowed_origins"] or ()),
        max_connections=v["max_connections"], max_connections_per_client=v["max_connections_per_client"])


DASHBOARD = ParamTable("dashboard", (
    Param("host", ParamType.STRING, "127.0.0.1",
          "address the web server binds; beyond loopback (0.0.0.0, a LAN address) it needs TLS, allowed_hosts "
          "and no demo password", check=_host, constraint="an IP address or localhost"),
    Param("port", ParamType.INTEGER, 8080, "TCP port of the web server; 0 picks a free one", min=0, max=65535),
    Param("database", ParamType.STRING, "", "SQLite file for alerts, acknowledgements, transcripts, sessions and the "
          "audit trail (made readable by its owner only); empty = $XDG_DATA_HOME/carebot/dashboard.sqlite3"),
    Param("staff_accounts", ParamType.STRING_ARRAY, None,
          "staff logins as NAME:HASH (staff) or NAME:supervisor:HASH; make them with `carebot dashboard "
          "hash-password NAME [--role supervisor]`",
          check=refusal_of(lambda entries: parse_accounts(list(entries))),
          constraint="NAME[:ROLE]:HASH entries (scrypt at N>=2^17, r>=8), each name once"),
    Param("session_timeout_s", ParamType.DOUBLE, 43200.0, "idle time after which a login expires", "s",
          60.0, 604800.0),
    Param("session_max_s", ParamType.DOUBLE, 43200.0, "a login ends this long after it was made, however active",
          "s", 300.0, 604800.0),
    Param("transcript_retention_s", ParamType.DOUBLE, 86400.0, "transcripts older than this are deleted, and alerts "
          "last changed longer ago keep only their headline (their details quote people)", "s", 60.0, 31536000.0),
    Param("audit_retention_s", ParamType.DOUBLE, 31536000.0, "logins, failed logins and e-stop presses and resets "
          "are kept this long", "s", 86400.0, 315360000.0),
    Param("camera_view", ParamType.BOOL, False, "show the perception debug image on the page (off: never subscribed)"),
    Param("camera_jpeg_quality", ParamType.INTEGER, 70, "JPEG quality of the camera view", min=10, max=100),
    Param("world", ParamType.STRING, "care_home",
          "site world drawn as the map: a site name (models/worlds/<name>.yaml) or a file; "
          "one that cannot be read leaves the page without a map (logged)"),
    Param("title", ParamType.STRING, "carebot", "title shown on the page"),
    Param("language", ParamType.STRING, "en", "the site's language of the staff page (zh-CN or en; zh, zh-Hans are "
          "read as zh-CN); each login may switch the page to the other",
          check=refusal_of(i18n.normalize_language), constraint="zh-CN or en"),
    Param("time_zone", ParamType.STRING, "", "IANA time zone of the times on the page (e.g. Asia/Shanghai); "
          "empty = each browser's own", check=time_zone_problem, constraint="an IANA time zone name, or empty"),
    Param("ask_timeout_s", ParamType.DOUBLE, 20.0, "how long the chat waits for brain/ask", "s", 0.5, 300.0),
    Param("estop_timeout_s", ParamType.DOUBLE, 2.0, "how long the stop button waits for safety/trigger_estop", "s",
          0.1, 30.0),
    Param("secure_cookie", ParamType.BOOL, False, "mark the session cookie Secure; always on with TLS or beyond "
          "loopback; set it when an HTTPS proxy in front serves the page"),
    Param("tls_certificate", ParamType.STRING, "", "PEM certificate (chain) for HTTPS in the process; empty = "
          "plain HTTP (loopback, or behind an HTTPS proxy)"),
    Param("tls_private_key", ParamType.STRING, "", "PEM private key of tls_certificate"),
    Param("allowed_hosts", ParamType.STRING_ARRAY, None, "host names and addresses staff use in the page's address "
          "(the Host header; others are refused, against DNS rebinding); loopback names are always allowed",
          check=_hosts, constraint="host names or IP addresses, no scheme or port"),
    Param("allowed_origins", ParamType.STRING_ARRAY, None, "more origins that may send changes (a proxy's public "
          "address); the page's own origin under allowed_hosts is always allowed",
          check=_origins, constraint="scheme://host[:port] entries"),
    Param("max_connections", ParamType.INTEGER, 64, "open HTTP connections at most (one thread each)",
          min=4, max=1024),
    Param("max_connections_per_client", ParamType.INTEGER, 12, "open HTTP connections of one client address at most "
          "(a browser opens up to 6)", min=2, max=256),
), rules=(
    CrossRule(("session_timeout_s", "session_max_s"), lambda idle, total: idle <= total,
              "session_timeout_s (idle) must not exceed session_max_s (the absolute lifetime)"),
    CrossRule(("tls_certificate", "tls_private_key"), lambda cert, key: bool(cert) == bool(key),
              "give both tls_certificate and tls_private_key, or neither"),
    CrossRule(("max_connections", "max_connections_per_client"), lambda total, each: each <= total,
              "max_connections_per_client must not exceed max_connections"),
), build=_build)
