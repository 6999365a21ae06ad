"""The ``carebot`` command: one entry point, one subcommand per job.

Each role registers its own subcommands in ``carebot/<role>/cli.py`` through
``register(subparsers)``; the modules are imported only when listed here, so
``carebot --help`` stays fast and a broken role cannot hide the others' commands
(its import error is printed when that command is used).
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules that define ``register(subparsers)``. Order = order in --help.
COMMAND_MODULES = (
    "carebot.doctor",
    "carebot.perception.cli",
    "carebot.speech.cli",
    "carebot.brain.cli",
    "carebot.brain.residents_cli",
    "carebot.launcher.cli",
    "carebot.status_cli",
    "carebot.config_check",
    "carebot.dashboard.cli",
    "carebot.fleet.cli",
    "carebot.scenarios.cli",
    "carebot.bag.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carebot",
        description="carebot: care-home service robot stack (ROS 2).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
