"""``carebot dashboard hash-password``: make a staff account line for config/<site>.yaml."""
from __future__ import annotations

import argparse
import getpass
import sys

from carebot.dashboard.auth import ACCOUNT_NAME, hash_password


def register(subparsers) -> None:
    parser = subparsers.add_parser("dashboard", help="staff dashboard tools",
                                   description="Tools for the staff dashboard (the page itself is "
                                               "served by the dashboard node: `carebot up`).")
    commands = parser.add_subparsers(dest="dashboard_command", metavar="COMMAND", required=True)
    hasher = commands.add_parser(
        "hash-password", help="print a staff account entry (NAME:HASH) for staff_accounts",
        description="Hash a password with scrypt and a random salt. Paste the printed line into "
                    "dashboard: ros__parameters: staff_accounts: in config/<site>.yaml. The "
                    "password itself is never stored.")
    hasher.add_argument("user", help="account name (letters, digits, _ . @ -)")
    hasher.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of stdin (scripts)")
    hasher.set_defaults(func=_hash_password)


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
    try:
        print(f"{args.user}:{hash_password(password)}")
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0
