"""``carebot status``: what every running node reports on /diagnostics, in the terminal."""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from carebot import bringup, dds_confinement
from carebot.diagnostics import DIAGNOSTICS_TOPIC, Level
from carebot.diagnostics_board import DiagnosticsBoard, StatusEntry, format_table, level_of, worst

DEFAULT_LISTEN_S = 3.0        # three publication periods: every live node is heard
# Fast DDS discovery of a new participant sometimes needs one or two more announcement
# rounds (measured here: 0.06 s usually, 1.2 or 2.2 s in 1 of 5 starts): while nothing
# at all has been heard, keep listening this long before saying the stack is not running.
NOTHING_HEARD_WAIT_S = 6.0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "status", help="summarise the running nodes' diagnostics",
        description="Listen to /diagnostics (in the site's ROS domain) and print one line per node. "
                    "Exit 0 when every node is OK or WARN, 1 otherwise or when none is heard.")
    parser.add_argument("--listen", type=float, default=DEFAULT_LISTEN_S, metavar="S",
                        help="seconds to listen (default %(default)s; up to "
                             f"{NOTHING_HEARD_WAIT_S:.0f} s while no node has been heard)")
    parser.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each node's key values")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--site", default=bringup.SITES[0], choices=bringup.SITES,
                        help="site whose stack to listen to: its ROS domain (ROS_DOMAIN_ID wins when set)")
    parser.add_argument("--config", type=Path, help="parameter file of the running stack instead of the site's")
    parser.set_defaults(func=run)


def _collect(node, board: DiagnosticsBoard, seconds: float, rclpy) -> None:
    start = time.monotonic()
    deadline = start + seconds
    patience = start + max(seconds, NOTHING_HEARD_WAIT_S)
    while True:
        now = time.monotonic()
        if now >= deadline and (board.entries() or now >= patience):
            return
        rclpy.spin_once(node, timeout_sec=0.1)


def run(args: argparse.Namespace) -> int:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    board = DiagnosticsBoard()
    # The running stack's DDS: its domain and carebot's loopback-only profile.
    os.environ.update(dds_confinement.stack_environment(os.environ, args.config or bringup.site_config(args.site)))
    rclpy.init(args=[])
    try:
        node = rclpy.create_node("carebot_status")
        node.create_subscription(
            DiagnosticArray, DIAGNOSTICS_TOPIC,
            lambda msg: board.update(StatusEntry(s.name, level_of(s.level), s.message, s.hardware_id,
                                                 tuple((kv.key, kv.value) for kv in s.values))
                                     for s in msg.status),
            QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
        while True:
            _collect(node, board, args.listen, rclpy)
            entries = board.entries()
            if args.json:
                print(json.dumps(board.to_json(), indent=2))
            else:
                if args.watch:
                    print("\033[2J\033[H", end="")
                print(format_table(entries, verbose=args.verbose), flush=True)
            if not args.watch:
                break
    except KeyboardInterrupt:
        pass
    finally:
        rclpy.try_shutdown()
    entries = board.entries()
    return 0 if entries and worst(entries) <= Level.WARN else 1
