"""Parameter tables of the fleet (no ROS); see carebot/parameters.py.

- ``FLEET_BRIDGE``: the robot's fleet bridge node (``fleet_bridge:`` in config/<site>.yaml).
  Off unless ``enabled: true``: a robot is an island until its site joins a fleet.
- ``FLEET_SERVER``: ``carebot fleet serve`` (``fleet_server:`` in its own file, e.g.
  config/fleet.yaml), checked by the same tables before anything starts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from carebot.dashboard.auth import parse_accounts
from carebot.dashboard.parameters import DASHBOARD
from carebot.fleet.bridge import BridgeConfig
from carebot.fleet.dispatcher import DispatchConfig
from carebot.fleet.keys import chunk_problem
from carebot.fleet.zenoh_config import TlsFiles, endpoint_problem, needs_tls
from carebot.parameters import CrossRule, Param, ParamTable, ParamType, refusal_of, world_problem

S, I, D, B, SA = ParamType.STRING, ParamType.INTEGER, ParamType.DOUBLE, ParamType.BOOL, ParamType.STRING_ARRAY


def _endpoints_problem(values: list[str]) -> str | None:
    problems = [p for p in (endpoint_problem(v) for v in values) if p]
    return "; ".join(problems) or None


def _chunk(what: str):
    return lambda value: chunk_problem(value, what)


def _tls_given(endpoints: list[str], ca: str, cert: str, key: str) -> bool:
    return not needs_tls(endpoints) or all((ca, cert, key))


def _files_exist(ca: str, cert: str, key: str) -> bool:
    return all(Path(f).expanduser().is_file() for f in (ca, cert, key) if f)


def tls_files(v: Mapping[str, Any]) -> TlsFiles | None:
    if not v["tls_root_ca"]:
        return None
    return TlsFiles(str(Path(v["tls_root_ca"]).expanduser()), str(Path(v["tls_certificate"]).expanduser()),
                    str(Path(v["tls_private_key"]).expanduser()))


_TLS_PARAMS = (
    Param("tls_root_ca", S, "", "PEM file of the fleet's certificate authority (checks the other side)"),
    Param("tls_certificate", S, "", "PEM file of this side's certificate (signed by the fleet CA)"),
    Param("tls_private_key", S, "", "PEM file of this side's private key (keep it 0600)"),
)
_TLS_RULES = (
    CrossRule(("tls_root_ca", "tls_certificate", "tls_private_key"), _files_exist,
              "a TLS file that is named does not exist"),
)


def _bridge(v: Mapping[str, Any]) -> dict[str, Any]:
    return {"enabled": v["enabled"], "router": list(v["router"]), "tls": tls_files(v),
            "state_period_s": 1.0 / v["state_rate_hz"],
            "core": BridgeConfig(site=v["site_id"], robot=v["robot_id"], world=v["world"],
                                 busy_hold_s=v["busy_hold_s"], accepts_tasks=v["accept_tasks"],
                                 accept_remote_estop=v["accept_remote_estop"],
                                 own_incidents_by_brain=v["own_incidents_by_brain"])}


FLEET_BRIDGE = ParamTable("fleet_bridge", (
    Param("enabled", B, False, "join the fleet: publish this robot's state and alerts to the site's router "
          "and take staff actions and fleet tasks from it (carebot up starts the node only when true)"),
    Param("site_id", S, "site", "this site's name in the fleet's key space (carebot/<site>/<robot>)",
          check=_chunk("site_id"), constraint="1-64 letters, digits, _ . -"),
    Param("robot_id", S, "robot", "this robot's name within its site; its certificate's common name is "
          "<site_id>/<robot_id>", check=_chunk("robot_id"), constraint="1-64 letters, digits, _ . -"),
    Param("world", S, "care_home", "site map the robot's pose is on (models/worlds/<name>.yaml or a file)",
          check=world_problem, constraint="a site world that loads"),
    Param("router", SA, ["tcp/127.0.0.1:7447"],
          "Zenoh endpoints of the site's router (carebot fleet serve); tls/host:port beyond this computer",
          check=_endpoints_problem, constraint="tls/host:port, or tcp/ on loopback only"),
    *_TLS_PARAMS,
    Param("state_rate_hz", D, 1.0, "robot state publications per second (also sent at once on a change)", "Hz",
          0.1, 10.0),
    Param("busy_hold_s", D, 5.0, "an errand's task seen this recently still makes the robot busy (the gap "
          "between an errand's drives)", "s", 0.0, 120.0),
    Param("accept_tasks", B, True, "take fleet tasks (go to an incident another robot saw)"),
    Param("accept_remote_estop", B, True, "engage the emergency stop when the fleet view's staff press it"),
    Param("own_incidents_by_brain", B, True, "an incident this robot raised is attended by its own brain's fall "
          "response (set false on a robot that runs no brain)"),
), rules=(
    CrossRule(("router", "tls_root_ca", "tls_certificate", "tls_private_key"), _tls_given,
              "a tls/ router endpoint needs tls_root_ca, tls_certificate and tls_private_key"),
    *_TLS_RULES,
), build=_bridge)


def _server(v: Mapping[str, Any]) -> dict[str, Any]:
    robots = []
    for entry in v["robots"]:
        site, _, robot = entry.partition("/")
        robots.append((site, robot))
    return {**v, "tls": tls_files(v), "robots": robots, "accounts": parse_accounts(list(v["staff_accounts"] or [])),
            "dispatch": DispatchConfig(offer_timeout_s=v["offer_timeout_s"], standoff_m=v["approach_standoff_m"],
                                       attend_speed_mps=v["attend_speed_mps"],
                                       same_incident_m=v["same_incident_m"], same_incident_s=v["same_incident_s"])}


def _robot_entry(entries: list[str]) -> str | None:
    for entry in entries:
        site, sep, robot = entry.partition("/")
        problem = (not sep and f"{entry!r}: expected <site>/<robot>") or chunk_problem(site, "site") \
            or chunk_problem(robot, "robot")
        if problem:
            return problem
    return None


def _acl_needs_tls(listen: list[str], robots: list[str]) -> bool:
    return not robots or needs_tls(listen)


FLEET_SERVER = ParamTable("fleet_server", (
    Param("listen", SA, ["tcp/127.0.0.1:7447"], "Zenoh endpoints the router listens on for robots and views",
          check=_endpoints_problem, constraint="tls/host:port, or tcp/ on loopback only"),
    Param("upstream", SA, ["none"], "a router above this one (a group's fleet serve) to connect to; none = top",
          check=lambda v: None if list(v) == ["none"] else _endpoints_problem(v),
          constraint="none, or tls/host:port endpoints"),
    *_TLS_PARAMS,
    Param("robots", SA, ["none"], "robots allowed on this router as <site>/<robot> (their certificate common "
          "names); with TLS, access control lets each say only its own state and alerts; none = no access "
          "control (loopback tcp only)", check=lambda v: None if list(v) == ["none"] else _robot_entry(v),
          constraint="<site>/<robot> entries"),
    Param("views", SA, ["none"], "certificate common names of other views and routers (a group's) that may read "
          "and command everything", constraint="names; none = no other view"),
    Param("view_name", S, "fleet", "this view's name in the commands it sends (robots log it)",
          check=_chunk("view_name")),
    Param("http_host", S, "127.0.0.1", "address of the staff page", check=DASHBOARD["host"].check),
    Param("http_port", I, 8090, "TCP port of the staff page; 0 picks a free one", min=0, max=65535),
    Param("database", S, "", "SQLite file for alerts, staff actions and sessions; empty = "
          "$XDG_DATA_HOME/carebot/fleet.sqlite3"),
    Param("staff_accounts", SA, None, "staff logins as NAME:HASH (carebot dashboard hash-password)",
          check=refusal_of(lambda entries: parse_accounts(list(entries))), constraint="NAME:HASH entries"),
    Param("session_timeout_s", D, 43200.0, "idle time after which a login expires", "s", 60.0, 604800.0),
    Param("secure_cookie", B, False, "mark the session cookie Secure (behind HTTPS)"),
    Param("title", S, "carebot fleet", "title shown on the page"),
    Param("offline_after_s", D, 5.0, "a robot whose state is this old counts as offline (its presence token "
          "going away counts at once)", "s", 1.0, 300.0),
    Param("offer_timeout_s", D, 10.0, "a robot that has not taken an offered task this long: the next robot",
          "s", 1.0, 300.0),
    Param("approach_standoff_m", D, 1.0, "a robot sent to a person stops this far short of them, on its path",
          "m", 0.3, 3.0),
    Param("attend_speed_mps", D, 0.25, "speed of a robot sent to a person (low, as the brain's fall approach)",
          "m/s", 0.05, 1.0),
    Param("same_incident_m", D, 2.0, "alerts of one kind this near each other are one incident", "m", 0.0, 20.0),
    Param("same_incident_s", D, 120.0, "... when raised this soon after each other", "s", 0.0, 3600.0),
), rules=(
    CrossRule(("listen", "tls_root_ca", "tls_certificate", "tls_private_key"), _tls_given,
              "a tls/ listen endpoint needs tls_root_ca, tls_certificate and tls_private_key"),
    CrossRule(("listen", "robots"), lambda listen, robots: list(robots) == ["none"] or needs_tls(listen),
              "access control names robots by their certificates: listen on a tls/ endpoint"),
    CrossRule(("listen", "robots"), lambda listen, robots: list(robots) != ["none"] or not needs_tls(listen),
              "a tls/ router must list its robots (robots: [<site>/<robot>, ...]): without access control any "
              "certificate of the fleet CA could speak for any robot"),
    *_TLS_RULES,
), build=_server)
