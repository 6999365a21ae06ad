"""``carebot demo``: run the simulated scenarios headless and write a report.

    carebot demo                          # all scenarios, report in out/demo
    carebot demo --scenario resident_fall --out /tmp/demo
    carebot demo --list

Progress goes to stdout as it happens; the report (report.md with the
timeline, figures and rendered frames) goes to the output folder. The exit code
is non-zero when a scenario fails (1) or nothing could run (2).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_FAILED = 1
EXIT_NOTHING_RAN = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the simulated care-home and service-hall scenarios and write a report",
        description="Start the whole stack against the MuJoCo simulation for each scenario, drive people and "
                    "speech, check the outcomes, and write a report (timeline, figures, frames).")
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="run only this scenario (repeatable; default: all; see --list)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="report folder (default %(default)s)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--no-bag", action="store_true", help="do not record the scenarios (default: <out>/<scenario>/bag)")
    parser.add_argument("--bag-include", nargs="+", default=[], metavar="TOPIC",
                        help="record these private topics too (e.g. camera/image_raw; off by default for privacy)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from carebot.scenarios.catalog import SCENARIOS

    if args.list:
        for spec in SCENARIOS.values():
            print(f"{spec.name:16s} {spec.site:12s} {spec.title}")
        return 0
    names = args.scenario or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"carebot demo: unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return EXIT_NOTHING_RAN
    from carebot.scenarios.report import write_report
    from carebot.scenarios.runner import BagRequest, run_scenario

    out = args.out.resolve()
    started = time.monotonic()
    results = []
    for i, name in enumerate(names, 1):
        print(f"[demo] scenario {i}/{len(names)}: {name}", flush=True)
        results.append(run_scenario(SCENARIOS[name], out / name, progress=lambda line: print(line, flush=True),
                                    bag=BagRequest(not args.no_bag, tuple(args.bag_include))))
    report = write_report(results, out)
    print(f"[demo] {sum(r.passed for r in results)} passed, {sum(r.status == 'failed' for r in results)} failed, "
          f"{sum(bool(r.skipped) for r in results)} skipped in {time.monotonic() - started:.0f} s; report: {report}")
    if any(r.status == "failed" for r in results):
        return EXIT_FAILED
    return 0 if any(r.passed for r in results) else EXIT_NOTHING_RAN
