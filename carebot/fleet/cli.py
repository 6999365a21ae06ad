"""``carebot fleet``: the fleet's router and staff view, and certificates for a trial.

``carebot fleet serve --config config/fleet.yaml`` runs the router and the fleet view until
Ctrl-C; ``carebot fleet certs --out DIR site/robot_a site/robot_b`` makes a CA and certificates.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def register(subparsers) -> None:
    parser = subparsers.add_parser("fleet", help="fleet router and staff view (Zenoh; docs/fleet.md)",
                                   description="Many robots and many sites on Zenoh, one staff view.")
    commands = parser.add_subparsers(dest="fleet_command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="run the Zenoh router and the fleet staff view in one process",
                                description="Reads the fleet_server: ros__parameters: section of --config "
                                            "(checked first: a bad key is named and nothing starts).")
    serve.add_argument("--config", type=Path, help="YAML file with a fleet_server section (default: defaults)")
    serve.add_argument("--check", action="store_true", help="check the file and exit")
    serve.set_defaults(func=_serve)
    certs = commands.add_parser("certs", help="make a fleet CA and certificates for a trial (openssl)",
                                description="A CA, a router certificate (for localhost and the names given with "
                                            "--host) and one certificate per robot, CN <site>/<robot>. For trials "
                                            "and tests; a real fleet's CA lives offline.")
    certs.add_argument("--out", type=Path, required=True)
    certs.add_argument("--host", action="append", default=[], help="router DNS name or IP (repeatable)")
    certs.add_argument("--view", action="append", default=[], help="a view's certificate CN (repeatable)")
    certs.add_argument("robots", nargs="*", metavar="SITE/ROBOT")
    certs.set_defaults(func=_certs)


def load_settings(config: Path | None) -> dict:
    """The fleet_server section of a file, checked by its table; ValueError names every problem."""
    from carebot.fleet.parameters import FLEET_SERVER

    given = {}
    if config is not None:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        section = data.get("fleet_server", {}) if isinstance(data, dict) else None
        if not isinstance(section, dict) or not isinstance(section.get("ros__parameters", {}), dict):
            raise ValueError(f"{config}: expected fleet_server: ros__parameters: {{...}}")
        given = section.get("ros__parameters", {}) or {}
    return FLEET_SERVER.load(given)


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"carebot fleet serve: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print("ok")
        return 0
    from carebot.fleet.server import serve_forever

    try:
        return serve_forever(settings, log=lambda line: print(f"[fleet] {line}", flush=True))
    except Exception as exc:          # a port in use, a certificate Zenoh refuses: one line, exit 2
        print(f"carebot fleet serve: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


def _certs(args: argparse.Namespace) -> int:
    from carebot.fleet.certs import make_fleet_certs

    try:
        made = make_fleet_certs(args.out, [tuple(r.split("/", 1)) for r in args.robots], hosts=args.host,
                                views=args.view)
    except (OSError, ValueError) as exc:
        print(f"carebot fleet certs: {exc}", file=sys.stderr)
        return 2
    for name, files in made.items():
        print(f"{name}: {files.certificate} {files.private_key}")
    return 0
