"""Zenoh configurations of the fleet, built as plain data (pure; ``link.py`` opens them).

- A **robot** is a Zenoh *peer* that connects to its site's router only: it listens on
  nothing, scouts nothing (no multicast, no gossip), and keeps retrying when the router is
  unreachable, so the robot starts and works alone and catches up when the link is back.
  (A Zenoh *client* cannot open a session while its router is down: checked with 1.10.2.)
- A **router** (``carebot fleet serve``) listens for robots and for the views and routers
  below it, and may connect to the router above it (a group's).
- **TLS with mutual authentication** on every endpoint that leaves the computer: the robot
  and the router each present a certificate signed by the fleet's CA and check the other's.
  Plain ``tcp`` is accepted on loopback only (a developer's machine, the tests' own
  processes); ``endpoint_problem`` refuses it elsewhere.
- **Access control** at the router: every robot is a subject named by its certificate's
  common name ``<site>/<robot>`` and may only say what is its own (state, alerts, presence
  under ``carebot/<site>/<robot>``) and hear only its own commands; views and routers named
  in ``views`` may read and command everything. Everything else is denied.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from carebot.fleet import keys
from carebot.parameters import is_loopback

DEFAULT_PORT = 7447
LOCAL_PROTOCOLS = ("tcp", "tls")
SECURE_PROTOCOLS = ("tls",)
_ENDPOINT = re.compile(r"^(?P<proto>[a-z]+)/(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")
RETRY = {"period_init_ms": 500, "period_max_ms": 4000, "period_increase_factor": 2}


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the fleet CA, this process's certificate and its private key."""

    root_ca: str
    certificate: str
    private_key: str


def robot_subject(site: str, robot: str) -> str:
    """The certificate common name a robot must present (and the ACL subject it is)."""
    keys.robot_prefix(site, robot)          # validates both chunks
    return f"{site}/{robot}"


def endpoint_problem(endpoint: str) -> str | None:
    """Why a Zenoh endpoint is refused, or None: tcp or tls with host:port; plain tcp only on
    loopback (anything that leaves the computer is TLS)."""
    match = _ENDPOINT.match(endpoint or "")
    if not match:
        return f"{endpoint!r} is not an endpoint like tls/host:7447 or tcp/127.0.0.1:7447"
    proto, host, port = match["proto"], match["host"].strip("[]"), int(match["port"])
    if proto not in LOCAL_PROTOCOLS:
        return f"{endpoint!r}: protocol {proto!r}; use tls (or tcp on loopback)"
    if not 0 < port < 65536:
        return f"{endpoint!r}: port {port} is out of range"
    if proto == "tcp" and not is_loopback(host):
        return f"{endpoint!r}: plain tcp leaves this computer; use tls/{host}:{port} with certificates"
    return None


def needs_tls(endpoints: list[str]) -> bool:
    return any(e.startswith("tls/") for e in endpoints)


def _tls(tls: TlsFiles, listening: bool, connecting: bool) -> dict:
    section = {"root_ca_certificate": tls.root_ca, "enable_mtls": True,
               # the router checks the robot's certificate chain; robots reach the router by an
               # address its certificate names (verify_name_on_connect stays on)
               "verify_name_on_connect": True, "close_link_on_expiration": True}
    if listening:
        section.update(listen_certificate=tls.certificate, listen_private_key=tls.private_key)
    if connecting:
        section.update(connect_certificate=tls.certificate, connect_private_key=tls.private_key)
    return section


def _base(mode: str) -> dict:
    return {"mode": mode,
            "scouting": {"multicast": {"enabled": False}, "gossip": {"enabled": False}},
            # Statistics and the admin space are not for robots to read.
            "adminspace": {"enabled": False}}


def robot_config(connect: list[str], tls: TlsFiles | None) -> dict:
    """A robot's session: a peer that connects to its router(s) and retries for ever."""
    config = _base("peer")
    config["listen"] = {"endpoints": []}
    config["connect"] = {"endpoints": list(connect),
                         "timeout_ms": {"router": -1, "peer": -1, "client": 0},
                         "exit_on_failure": {"router": False, "peer": False, "client": False},
                         "retry": dict(RETRY)}
    if tls is not None:
        config["transport"] = {"link": {"tls": _tls(tls, listening=False, connecting=True)}}
    return config


def router_config(listen: list[str], connect: list[str] = (), tls: TlsFiles | None = None,
                  acl: dict | None = None) -> dict:
    """``carebot fleet serve``'s session: a router for its robots (and upstream link)."""
    config = _base("router")
    config["listen"] = {"endpoints": list(listen)}
    config["connect"] = {"endpoints": list(connect),
                         "timeout_ms": {"router": -1, "peer": -1, "client": 0},
                         "exit_on_failure": {"router": False, "peer": False, "client": False},
                         "retry": dict(RETRY)}
    if tls is not None:
        config["transport"] = {"link": {"tls": _tls(tls, listening=bool(listen), connecting=bool(connect))}}
    if acl is not None:
        config["access_control"] = acl
    return config


ROBOT_SAYS = ("put", "declare_queryable", "reply", "liveliness_token", "declare_subscriber")


def access_control(robots: list[tuple[str, str]], views: list[str]) -> dict:
    """ACL for a router: each robot its own keys, each named view (a certificate common name)
    everything under ``carebot/``. Default deny."""
    rules, subjects, policies = [], [], []
    for site, robot in sorted(set(robots)):
        name = robot_subject(site, robot)
        rid = f"{site}.{robot}"
        own = keys.robot_prefix(site, robot)
        rules += [
            {"id": f"{rid}.says", "flows": ["ingress"], "permission": "allow",
             "messages": ["put", "delete", "reply", "declare_queryable", "liveliness_token"],
             "key_exprs": [f"{own}/{keys.STATE}", f"{own}/{keys.ALERT}/*", f"{own}/{keys.ALERT}/**",
                           f"{own}/{keys.PRESENCE}"]},
            {"id": f"{rid}.hears", "flows": ["ingress"], "permission": "allow",
             "messages": ["declare_subscriber"], "key_exprs": [f"{own}/{keys.CMD}/*", f"{own}/{keys.CMD}/**"]},
            {"id": f"{rid}.gets", "flows": ["egress"], "permission": "allow",
             "messages": ["put", "query", "declare_subscriber", "liveliness_token"],
             "key_exprs": [f"{own}/{keys.CMD}/*", f"{own}/{keys.CMD}/**", f"{own}/{keys.ALERT}/*",
                           f"{own}/{keys.ALERT}/**"]},
        ]
        subjects.append({"id": f"subject.{rid}", "cert_common_names": [name]})
        policies.append({"id": f"policy.{rid}", "rules": [f"{rid}.says", f"{rid}.hears", f"{rid}.gets"],
                         "subjects": [f"subject.{rid}"]})
    if views:
        everything = ["put", "delete", "declare_subscriber", "query", "reply", "declare_queryable",
                      "liveliness_token", "liveliness_query", "declare_liveliness_subscriber"]
        rules.append({"id": "views.all", "flows": ["ingress", "egress"], "permission": "allow",
                      "messages": everything, "key_exprs": [f"{keys.ROOT}/**"]})
        subjects.append({"id": "subject.views", "cert_common_names": sorted(set(views))})
        policies.append({"id": "policy.views", "rules": ["views.all"], "subjects": ["subject.views"]})
    return {"enabled": True, "default_permission": "deny", "rules": rules, "subjects": subjects,
            "policies": policies}
