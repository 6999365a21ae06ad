"""``carebot bag record|info|play|prune``: ROS 2 bags (rosbag2 MCAP) without the ros2 CLI.

    carebot bag record                          # every topic but camera images and raw audio
    carebot bag record --topics scan odom camera/image_raw --out /tmp/incident
    carebot bag info /tmp/incident [--json]
    carebot bag play /tmp/incident --clock --rate 0.5
    carebot bag prune out/                      # transcripts past the site's retention

Exit codes: 0 done, 1 a bag that cannot be written or read (the message names the file and
what is wrong), 2 a usage error.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import sys
from pathlib import Path

EXIT_BAG = 1
EXIT_USAGE = 2
SIM_TIME_BEFORE_NS = 10 ** 9 * 86400 * 365 * 20     # stamps before 1990 are simulation time
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?\s*$")


def parse_size(text: str) -> int:
    """'500M' -> 500000000 bytes (k, M, G are powers of 1000, as rosbag2's sizes are bytes)."""
    match = _SIZE.match(str(text))
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500M, 2G, 1000000)")
    factor = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bag", help="record, inspect and replay ROS 2 bags (rosbag2 MCAP)",
        description="rosbag2-compatible MCAP bags of the running stack: `ros2 bag info/play` on a full ROS 2 "
                    "install read them. See docs/bag.md.")
    sub = parser.add_subparsers(dest="bag_command", metavar="ACTION", required=True)

    rec = sub.add_parser("record", help="record topics of the running stack into a bag folder",
                         description="Record over DDS into a bag folder (metadata.yaml + MCAP). Privacy by default: "
                                     "camera images and raw audio are left out unless named with --topics; "
                                     "transcripts are kept for the site's dashboard.transcript_retention_s.")
    rec.add_argument("--topics", nargs="+", metavar="TOPIC", help="record only these topics (private ones too)")
    rec.add_argument("--all", action="store_true", help="every topic except hidden and private ones (the default)")
    rec.add_argument("--include", nargs="+", default=[], metavar="TOPIC",
                     help="with all topics: these too, private or hidden (e.g. camera/image_raw)")
    rec.add_argument("--exclude", nargs="+", default=[], metavar="TOPIC", help="never record these topics")
    rec.add_argument("--include-hidden-topics", action="store_true", help="also record hidden topics (/_action/...)")
    rec.add_argument("-o", "--out", type=Path, help="bag folder to create (default: ./rosbag2_<date>-<time>)")
    rec.add_argument("--max-size", type=parse_size, default=0, metavar="BYTES",
                     help="stop at the first chunk past this size (e.g. 500M; default: no limit)")
    rec.add_argument("--max-duration", type=float, default=0.0, metavar="S",
                     help="stop after this many seconds of message time (default: no limit)")
    rec.add_argument("--use-sim-time", action="store_true", help="stamp messages with /clock (simulation)")
    rec.add_argument("--site", default=None, help="site whose transcript retention applies (default care_home)")
    rec.add_argument("--config", type=Path, help="parameter file whose dashboard.transcript_retention_s applies")
    rec.add_argument("--stop-after", type=float, default=0.0, metavar="S",
                     help="stop after this many wall seconds (default: at Ctrl-C)")
    rec.add_argument("--namespace", default="/", help="namespace relative topic names are resolved in")
    rec.set_defaults(func=run_record)

    info = sub.add_parser("info", help="topics, types, counts and duration of a bag",
                          description="Summarise a bag (a folder with metadata.yaml, or an .mcap file).")
    info.add_argument("path", type=Path)
    info.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    info.set_defaults(func=run_info)

    play = sub.add_parser("play", help="publish a bag into the running stack",
                          description="Publish a bag's messages with their recorded QoS. With --clock, a /clock "
                                      "from the bag's time (run the nodes with use_sim_time).")
    play.add_argument("path", type=Path)
    play.add_argument("--rate", type=float, default=1.0, help="playback speed (default 1.0)")
    play.add_argument("--loop", action="store_true", help="play again from the start until stopped")
    play.add_argument("--topics", nargs="+", metavar="TOPIC", help="play only these topics")
    play.add_argument("--clock", nargs="?", const=40.0, type=float, metavar="HZ",
                      help="publish /clock from the bag's time (default 40 Hz)")
    play.add_argument("--sync", metavar="TRIGGER=REPLY",
                      help="after each TRIGGER message wait for one REPLY message, bag time standing still "
                           "(e.g. camera/image_raw=perception/persons: every frame is looked at)")
    play.add_argument("--sync-timeout", type=float, default=30.0, metavar="S", help="longest wait for a REPLY")
    play.add_argument("--delay", type=float, default=0.0, metavar="S", help="wait before the first message")
    play.set_defaults(func=run_play)

    prune = sub.add_parser("prune", help="remove transcripts past the site's retention from bags",
                           description="Rewrite every bag under PATH whose transcripts' retention has run out, "
                                       "without its transcript topics.")
    prune.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    prune.set_defaults(func=run_prune)


def _fail(exc: Exception) -> int:
    print(f"carebot bag: {exc}", file=sys.stderr)
    return EXIT_BAG


# --------------------------------------------------------------------------- record

def run_record(args: argparse.Namespace) -> int:
    from carebot import bringup
    from carebot.bag.prune import find_bags, prune
    from carebot.bag.store import BagError, default_bag_name
    from carebot.bag.topics import RETENTION_PARAMETER, Selection, site_retention_s

    if args.topics and args.all:
        print("carebot bag record: --topics and --all exclude each other", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = args.config or bringup.site_config(args.site or bringup.SITES[0])
    except ValueError as exc:
        print(f"carebot bag record: {exc}", file=sys.stderr)
        return EXIT_USAGE
    retention = site_retention_s(config)
    out = args.out or Path(default_bag_name())
    for bag in find_bags(out.resolve().parent):
        try:
            removed = prune(bag)
        except BagError as exc:
            print(f"carebot bag record: not pruned: {exc}", file=sys.stderr)
            continue
        if removed:
            print(f"pruned {bag}: removed {', '.join(removed)} (past the site's transcript retention)")
    selection = Selection.make(args.topics, args.exclude, args.namespace, retention, args.include_hidden_topics,
                               args.include)
    print("privacy: camera images and raw audio are left out unless named (--topics, --include); "
          f"transcripts are kept {retention:g} s ({RETENTION_PARAMETER} in {config}), then pruned")
    from carebot.bag.recorder_node import RecordOptions, record

    options = RecordOptions(out, selection, max_bytes=args.max_size, max_duration_s=args.max_duration,
                            use_sim_time=args.use_sim_time, stop_after_s=args.stop_after)
    try:
        info = record(options, report=lambda line: print(line, flush=True))
    except BagError as exc:
        return _fail(exc)
    reason = info.custom_data.get("carebot.stop_reason", "")
    failed = not info.complete or reason.startswith(("disk full", "write failed"))
    return EXIT_BAG if failed else 0


# --------------------------------------------------------------------------- info

def format_info(info) -> str:
    """``ros2 bag info``-like text."""
    from carebot.bag.topics import KEY_EXPIRES, KEY_REMOVED, KEY_TRANSCRIPT_TOPICS, expired_topics

    def stamp(ns: int) -> str:
        if ns < SIM_TIME_BEFORE_NS:       # a recording on sim time (--use-sim-time): seconds since the sim started
            return f"{ns / 1e9:.3f} s (sim time)"
        return f"{_dt.datetime.fromtimestamp(ns / 1e9, _dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f} UTC ({ns / 1e9:.3f})"
    lines = [f"Files:             {', '.join(f.name for f in info.files)}",
             f"Bag size:          {info.size_bytes / 1e6:.1f} MB",
             "Storage id:        mcap",
             f"Duration:          {info.duration_s:.3f} s",
             f"Start:             {stamp(info.start_ns)}",
             f"End:               {stamp(info.end_ns)}",
             f"Messages:          {info.message_count}",
             f"Complete:          {'yes' if info.complete else 'NO'}"]
    width = max((len(t.name) for t in info.topics), default=0)
    lines.append("Topic information:")
    for topic in info.topics:
        qos = topic.qos[0] if topic.qos else None
        qos_text = "" if qos is None else (f" | {'reliable' if qos.reliable else 'best effort'}"
                                           f"{', transient local' if qos.transient_local else ''}")
        lines.append(f"  {topic.name:{width}s} | {topic.type} | {topic.count} msgs{qos_text}")
    expired = expired_topics(info.custom_data, _dt.datetime.now(_dt.timezone.utc))
    transcripts = [t for t in info.custom_data.get(KEY_TRANSCRIPT_TOPICS, "").split(",") if info.topic(t)]
    if info.custom_data.get(KEY_EXPIRES) and (transcripts or info.custom_data.get(KEY_REMOVED)):
        state = ("removed " + info.custom_data[KEY_REMOVED] if info.custom_data.get(KEY_REMOVED)
                 else "EXPIRED: run `carebot bag prune`" if expired else "kept until " + info.custom_data[KEY_EXPIRES])
        lines.append(f"Transcripts:       {state}")
    left_out = info.custom_data.get("carebot.privacy.left_out")
    if left_out:
        lines.append(f"Left out (privacy): {left_out}")
    lines += [f"Problem:           {p}" for p in info.problems]
    return "\n".join(lines)


def run_info(args: argparse.Namespace) -> int:
    from carebot.bag.store import BagError, read_info

    try:
        info = read_info(args.path)
    except BagError as exc:
        return _fail(exc)
    print(json.dumps(info.to_json(), indent=2) if args.json else format_info(info))
    return 0


# --------------------------------------------------------------------------- play

def run_play(args: argparse.Namespace) -> int:
    from carebot.bag.playback import parse_sync
    from carebot.bag.store import BagError

    if not args.rate > 0:
        print("carebot bag play: --rate must be above 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        sync = parse_sync(args.sync) if args.sync else None
    except ValueError as exc:
        print(f"carebot bag play: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from carebot.bag.player_node import PlayOptions, play

    options = PlayOptions(args.path, rate=args.rate, loop=args.loop, topics=args.topics,
                          clock=args.clock is not None, clock_hz=args.clock or 40.0, sync=sync,
                          sync_timeout_s=args.sync_timeout, delay_s=args.delay)
    try:
        result = play(options, report=lambda line: print(line, flush=True))
    except BagError as exc:
        return _fail(exc)
    except ValueError as exc:
        print(f"carebot bag play: {exc}", file=sys.stderr)
        return EXIT_USAGE
    total = sum(result.published.values())
    print(f"played {total} messages on {len(result.published)} topics"
          + (f"; {result.sync_timeouts} --sync waits timed out" if result.sync_timeouts else ""), flush=True)
    return 0


# --------------------------------------------------------------------------- prune

def run_prune(args: argparse.Namespace) -> int:
    from carebot.bag.prune import find_bags, prune
    from carebot.bag.store import BagError

    code = 0
    for root in args.paths:
        bags = find_bags(root)
        if not bags:
            print(f"carebot bag prune: {root}: no bag (a folder with metadata.yaml) found", file=sys.stderr)
            code = EXIT_BAG
        for bag in bags:
            try:
                removed = prune(bag)
            except BagError as exc:
                code = _fail(exc)
                continue
            print(f"{bag}: " + (f"removed {', '.join(removed)}" if removed else "nothing past its retention"))
    return code
