"""``carebot dashboard ...``: make staff account lines, read the audit trail."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from pathlib import Path

from carebot.dashboard.auth import ACCOUNT_NAME, Role, hash_password, password_problem


def register(subparsers) -> None:
    parser = subparsers.add_parser("dashboard", help="staff dashboard tools",
                                   description="Tools for the staff dashboard (the page itself is "
                                               "served by the dashboard node: `carebot up`).")
    commands = parser.add_subparsers(dest="dashboard_command", metavar="COMMAND", required=True)
    hasher = commands.add_parser(
        "hash-password", help="print a staff account entry (NAME[:ROLE]:HASH) for staff_accounts",
        description="Hash a password with scrypt (N=2^17, r=8, p=1) and a random salt. Paste the printed "
                    "line into dashboard: ros__parameters: staff_accounts: in config/<site>.yaml. The "
                    "password itself is never stored. Weak passwords (short, common, containing the name) "
                    "are refused.")
    hasher.add_argument("user", help="account name (letters, digits, _ . @ -)")
    hasher.add_argument("--role", choices=[r.value for r in Role], default=Role.STAFF.value,
                        help="staff: alerts, chat, STOP; supervisor: also releases the e-stop and reads the audit "
                             "(default %(default)s)")
    hasher.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of stdin (scripts)")
    hasher.set_defaults(func=_hash_password)
    audit = commands.add_parser(
        "audit", help="print the audit trail: logins, failed logins, e-stop presses and resets",
        description="Read the dashboard's audit trail from its database (the node need not run).")
    where = audit.add_mutually_exclusive_group()
    where.add_argument("--database", type=Path, help="the SQLite file (default: the site file's dashboard.database, "
                                                     "else $XDG_DATA_HOME/carebot/dashboard.sqlite3)")
    where.add_argument("--config", type=Path, help="site parameter file whose dashboard.database to read")
    audit.add_argument("--action", default="", help="only this action (login, login_failed, login_throttled, "
                                                    "logout, estop, estop_reset, denied)")
    audit.add_argument("--since-hours", type=float, default=0.0, help="only the last N hours")
    audit.add_argument("--limit", type=int, default=200, help="at most this many, newest last (default %(default)s)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(func=_audit)


def _hash_password(args: argparse.Namespace) -> int:
    if not ACCOUNT_NAME.match(args.user):
        print(f"bad account name {args.user!r}: use 1-64 letters, digits or _ . @ -", file=sys.stderr)
        return 2
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.user}: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    problem = password_problem(args.user, password)
    if problem:
        print(f"refused: {problem}", file=sys.stderr)
        return 2
    role = "" if args.role == Role.STAFF.value else f"{args.role}:"
    print(f"{args.user}:{role}{hash_password(password)}")
    return 0


def _database(args: argparse.Namespace) -> Path:
    if args.database:
        return args.database
    if args.config:
        import yaml

        data = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
        for key, section in data.items():
            if str(key).rstrip("/").rsplit("/", 1)[-1] == "dashboard" and isinstance(section, dict):
                configured = (section.get("ros__parameters") or {}).get("database")
                if configured:
                    return Path(configured).expanduser()
    from carebot.dashboard.store import default_database

    return default_database()


def _audit(args: argparse.Namespace) -> int:
    from carebot.dashboard.store import DashboardStore

    database = _database(args)
    if not database.exists():
        print(f"no dashboard database at {database}", file=sys.stderr)
        return 1
    store = DashboardStore(database)
    try:
        since = time.time() - args.since_hours * 3600.0 if args.since_hours > 0 else 0.0
        events = store.audit_events(max(1, args.limit), since, args.action)
    finally:
        store.close()
    for event in events:
        if args.json:
            print(json.dumps(event.to_json(), ensure_ascii=False))
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
            print(f"{when}  {event.action:<15} {event.actor:<20} {event.client:<16} {event.outcome}"
                  + (f"  {event.detail}" if event.detail else ""))
    return 0
