"""Issue 18's budget for the robot computer in one run: vision, the stack's CPU and memory,
and how fast the robot answers with the simulation running, side by side with the targets.

    .venv/bin/python benchmarks/budget_bench.py [--rounds 1] [--skip vision,stack,reply]

Runs, one after the other (never together: each measures the machine), the three benchmarks
that measure each part, with their full output shown:
1. ``perception_bench.py --only backends``: ms/frame and FPS per backend and image size;
2. ``stack_bench.py``: per-node CPU and PSS at rest without and with the simulation, and
   in the resident_fall and chest_pain scenarios;
3. ``speech_reply_bench.py --load sim+vision``: end of speech -> first reply sample p50/p95
   beside the simulation and the perception node (en + zh).
Then one table: each target, what this run measured, met or not. Nothing passes or fails:
it is a measurement (issue 18: targets on two cores); the load average is printed per part.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

FPS_TARGET = 25.0                # the fall model at 640
WAITING_TARGET_PCT = 3.0         # a node with nothing to do
MEMORY_TARGET_MB = 2500.0        # the nodes without the simulation
REPLY_TARGET_S = 1.5             # end of speech -> first reply sample p50, simulation running
NOT_NODES = ("sim", "other", "perception")   # perception is at work whenever the camera runs
FPS_LINE = re.compile(r"^(\S+(?: \d+\+\d+)?)\s+imgsz (\d+):\s+([\d.]+) ms/frame =\s+([\d.]+) FPS", re.M)


def run(script: str, args: list[str]) -> str:
    """Run one benchmark with its output shown as it comes; returns that output."""
    print(f"\n######## {script} {' '.join(args)} (load {os.getloadavg()[0]:.1f})", flush=True)
    proc = subprocess.Popen([sys.executable, str(BENCH / script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    if proc.wait() != 0:
        print(f"[budget] {script} ended with exit code {proc.returncode}", flush=True)
    return "".join(lines)


def vision_rows(output: str) -> list[tuple[str, int, float, float]]:
    """(backend, imgsz, ms/frame, FPS) per line of perception_bench's backends section."""
    return [(b, int(sz), float(ms), float(fps)) for b, sz, ms, fps in FPS_LINE.findall(output)]


def summary(vision: list[tuple[str, int, float, float]], stack: dict, reply: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows; a part not run says so."""
    rows = []
    fps640 = {b: fps for b, sz, _, fps in vision if sz == 640}
    if fps640:
        best = max(fps640, key=fps640.get)
        rows.append((f"fall model at 640 >= {FPS_TARGET:g} FPS",
                     ", ".join(f"{b} {f:.1f}" for b, f in fps640.items()),
                     _verdict(fps640[best] >= FPS_TARGET)))
    else:
        rows.append((f"fall model at 640 >= {FPS_TARGET:g} FPS", "not run", "-"))
    for label in ("rest, no sim", "rest, sim"):
        window = stack.get(label)
        if not window:
            rows.append((f"waiting nodes <= {WAITING_TARGET_PCT:g} % ({label})", "not run", "-"))
            continue
        waiting = {n: c for n, c in window["cpu_pct"].items() if n not in NOT_NODES}
        worst = max(waiting, key=waiting.get)
        rows.append((f"waiting nodes <= {WAITING_TARGET_PCT:g} % ({label})",
                     f"highest {worst} {waiting[worst]:.1f} %", _verdict(waiting[worst] <= WAITING_TARGET_PCT)))
    rest = stack.get("rest, no sim")
    if rest:
        nodes_mb = sum(mb for n, mb in rest["pss_mb"].items() if n not in ("sim", "other"))
        rows.append((f"the nodes without the simulation <= {MEMORY_TARGET_MB / 1000:g} GB", f"{nodes_mb / 1000:.2f} GB PSS",
                     _verdict(nodes_mb <= MEMORY_TARGET_MB)))
    latencies = reply.get("latencies_s", {})
    for path, values in sorted(latencies.items()):
        if path.startswith("split") or not values:
            continue
        p50 = statistics.median(values)
        rows.append((f"reply p50 <= {REPLY_TARGET_S:g} s, {reply.get('load')} ({path})", f"{p50:.2f} s (n={len(values)})",
                     _verdict(p50 <= REPLY_TARGET_S)))
    if not latencies:
        rows.append((f"reply p50 <= {REPLY_TARGET_S:g} s with the simulation", "not run", "-"))
    return rows


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="rounds of questions in the reply part")
    parser.add_argument("--skip", default="", help="comma-separated parts not to run: vision,stack,reply")
    opts = parser.parse_args(argv)
    skip = set(filter(None, opts.skip.split(",")))
    folder = Path(tempfile.mkdtemp(prefix="budget-bench-"))
    print(f"[budget] {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start; files in {folder}", flush=True)
    vision, stack, reply = [], {}, {}
    if "vision" not in skip:
        vision = vision_rows(run("perception_bench.py", ["--only", "backends"]))
    if "stack" not in skip:
        run("stack_bench.py", ["--json", str(folder / "stack.json")])
        stack = _read(folder / "stack.json")
    if "reply" not in skip:
        run("speech_reply_bench.py", ["--load", "sim+vision", "--rounds", str(opts.rounds),
                                      "--json", str(folder / "reply.json")])
        reply = _read(folder / "reply.json")
    print(f"\n######## issue 18's targets on {os.cpu_count()} CPUs (load {os.getloadavg()[0]:.1f} at the end)")
    rows = summary(vision, stack, reply)
    width = max(len(r[0]) for r in rows)
    for target, measured, verdict in rows:
        print(f"{target:<{width}}  {measured:<40}  {verdict}")
    return 0


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


if __name__ == "__main__":
    sys.exit(main())
