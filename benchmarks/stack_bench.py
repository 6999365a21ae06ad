"""The whole stack's CPU and memory per node (issue 18's budget for two cores).

    .venv/bin/python benchmarks/stack_bench.py [--settle 60] [--rest 30] [--scenario NAME ...]

Runs, one after the other, each in its own DDS domain:
1. `carebot up` (care_home site, no simulation) left alone: the nodes waiting for work;
2. `carebot up --sim`: the same nodes with the simulated world running and nobody talking;
3. `carebot demo --scenario NAME` for each scenario asked for (default resident_fall and
   chest_pain): the nodes at work.
Every process is attributed to its node by its command line (a node's own children, e.g.
the Mandarin voice, count for the node); what no node owns (the supervisor, the scenario
driver, the bag recorder) is "other". CPU is % of one core over the window (utime+stime
from /proc), memory is PSS (shared pages split between the processes sharing them, so the
column adds up) at the end of the window, plus peak PSS for the scenarios.
Prints the table and the targets side by side; no pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from carebot.bringup import NODES  # noqa: E402
from carebot.scenarios.ros_env import isolated_env  # noqa: E402

MARKER = "CAREBOT_STACK_BENCH"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NODE_NAMES = [spec.name for spec in NODES]
WAITING_TARGET_PCT = 3.0          # a node with nothing to do (issue 18)
STACK_MEMORY_TARGET_MB = 2500.0   # the whole stack without the simulation


@dataclass
class Proc:
    pid: int
    ppid: int
    command: str
    ticks: int          # utime + stime
    pss_kb: int


def _read_proc(pid: int, marker: bytes) -> Proc | None:
    base = Path("/proc") / str(pid)
    try:
        if marker not in (base / "environ").read_bytes().split(b"\0"):
            return None
        stat = (base / "stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) "
        command = (base / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        pss = 0
        for line in (base / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
                break
    except (OSError, ValueError):    # gone meanwhile
        return None
    return Proc(pid, int(fields[1]), command, int(fields[11]) + int(fields[12]), pss)


def snapshot(marker: str) -> dict[int, Proc]:
    wanted = marker.encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            proc = _read_proc(int(entry.name), wanted)
            if proc is not None:
                found[proc.pid] = proc
    return found


def node_of(proc: Proc, procs: dict[int, Proc]) -> str:
    """The node a process belongs to: its own command line, else its nearest ancestor's."""
    seen = set()
    while proc is not None and proc.pid not in seen:
        seen.add(proc.pid)
        words = proc.command.split()
        for word in words[:3]:       # [python] .../bin/<name>_node --ros-args ...
            name = Path(word).name
            if name.endswith("_node") and name[:-5] in NODE_NAMES:
                return name[:-5]
        proc = procs.get(proc.ppid)
    return "other"


@dataclass
class Window:
    """CPU and memory per node over one measured stretch of time."""
    cpu_pct: dict[str, float] = field(default_factory=dict)
    pss_mb: dict[str, float] = field(default_factory=dict)
    peak_pss_mb: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    load: float = 0.0


def measure(marker: str, seconds: float | None, until=None, period: float = 1.0) -> Window:
    """Sample every ``period`` s for ``seconds`` (or until ``until()`` is true)."""
    first: dict[int, int] = {}      # pid -> ticks when first seen
    last: dict[int, Proc] = {}
    owner: dict[int, str] = {}
    peak: dict[str, float] = {}
    start = time.monotonic()
    while True:
        procs = snapshot(marker)
        for pid, proc in procs.items():
            first.setdefault(pid, proc.ticks)
            last[pid] = proc
            owner.setdefault(pid, node_of(proc, procs))
        now_pss: dict[str, float] = {}
        for pid, proc in procs.items():
            now_pss[owner[pid]] = now_pss.get(owner[pid], 0.0) + proc.pss_kb / 1024
        for name, mb in now_pss.items():
            peak[name] = max(peak.get(name, 0.0), mb)
        elapsed = time.monotonic() - start
        if (seconds is not None and elapsed >= seconds) or (until is not None and until()):
            break
        time.sleep(period)
    window = Window(seconds=elapsed, load=os.getloadavg()[0], peak_pss_mb=peak)
    for pid, proc in last.items():
        name = owner[pid]
        window.cpu_pct[name] = window.cpu_pct.get(name, 0.0) + (proc.ticks - first[pid]) / CLOCK_TICKS / elapsed * 100
    # A run that ends with its processes has nothing left at its end: its peak stands for it.
    window.pss_mb = now_pss if seconds is not None else dict(peak)
    return window


def _launch(args: list[str], marker: str, log: Path) -> subprocess.Popen:
    name, value = marker.split("=", 1)
    env = isolated_env(**{name: value})
    out = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", "carebot.cli", *args], env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def at_rest(sim: bool, settle: float, rest: float, folder: Path) -> Window:
    marker = f"{MARKER}={uuid.uuid4().hex}"
    args = ["up", "--site", "care_home", "--log-dir", str(folder / ("up_sim" if sim else "up"))]
    proc = _launch(args + (["--sim"] if sim else []), marker, folder / f"up{'_sim' if sim else ''}.log")
    try:
        time.sleep(settle)            # models load, the first frames pass: not "waiting" yet
        if proc.poll() is not None:
            raise RuntimeError(f"carebot up stopped: {(folder / 'up.log').read_text()[-2000:]}")
        return measure(marker, rest)
    finally:
        _stop(proc)


def in_scenario(name: str, folder: Path) -> tuple[Window, bool]:
    marker = f"{MARKER}={uuid.uuid4().hex}"
    proc = _launch(["demo", "--scenario", name, "--no-bag", "--out", str(folder / name)], marker,
                   folder / f"{name}.log")
    try:
        window = measure(marker, None, until=lambda: proc.poll() is not None)
    finally:
        _stop(proc)
    return window, proc.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settle", type=float, default=60.0, help="seconds after start before measuring at rest")
    parser.add_argument("--rest", type=float, default=30.0, help="seconds measured at rest")
    parser.add_argument("--scenario", action="append", help="scenarios measured (default resident_fall, chest_pain)")
    parser.add_argument("--skip-rest", action="store_true", help="scenarios only")
    parser.add_argument("--json", help="also write the columns here (benchmarks/budget_bench.py reads it)")
    opts = parser.parse_args()
    scenarios = opts.scenario or ["resident_fall", "chest_pain"]
    folder = Path(tempfile.mkdtemp(prefix="stack-bench-"))
    print(f"[stack] {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start; logs in {folder}", flush=True)
    columns: list[tuple[str, Window]] = []
    if not opts.skip_rest:
        for sim in (False, True):
            window = at_rest(sim, opts.settle, opts.rest, folder)
            label = "rest, sim" if sim else "rest, no sim"
            print(f"[stack] {label}: {window.seconds:.0f} s, load {window.load:.1f}", flush=True)
            columns.append((label, window))
    for name in scenarios:
        window, passed = in_scenario(name, folder)
        print(f"[stack] {name}: {window.seconds:.0f} s, load {window.load:.1f}, "
              f"{'passed' if passed else 'FAILED'}", flush=True)
        columns.append((name, window))
    report(columns)
    if opts.json:
        Path(opts.json).write_text(json.dumps({label: asdict(window) for label, window in columns}, indent=1))
    return 0


def report(columns: list[tuple[str, Window]]) -> None:
    names = [n for n in NODE_NAMES + ["other"] if any(n in w.cpu_pct for _, w in columns)]
    head = f"{'node':<12}" + "".join(f"{label + ' CPU%':>20}" for label, _ in columns) \
        + "".join(f"{label + ' PSS MB':>22}" for label, _ in columns)
    print("\n" + head)
    for name in names:
        row = f"{name:<12}" + "".join(f"{w.cpu_pct.get(name, 0.0):>20.1f}" for _, w in columns)
        row += "".join(f"{_memory(w, name):>22}" for _, w in columns)
        print(row)
    total = f"{'all':<12}" + "".join(f"{sum(w.cpu_pct.values()):>20.1f}" for _, w in columns)
    total += "".join(f"{sum(w.pss_mb.values()):>22.0f}" for _, w in columns)
    print(total)
    print("\nCPU: % of one core (two cores = 200 %), averaged over the window. PSS: at the end of "
          "a rest window; for a scenario, its peak over the run.")
    for label, window in columns:
        if not label.startswith("rest"):
            continue
        busy = {n: c for n, c in window.cpu_pct.items() if n not in ("other", "sim") and c > WAITING_TARGET_PCT}
        nodes = sum(mb for n, mb in window.pss_mb.items() if n not in ("sim", "other"))
        print(f"[{label}] nodes above {WAITING_TARGET_PCT:.0f} % of a core while waiting: "
              f"{', '.join(f'{n} {c:.1f} %' for n, c in sorted(busy.items())) or 'none'}; "
              f"the nodes' PSS {nodes:.0f} MB (target <= {STACK_MEMORY_TARGET_MB:.0f} MB without the simulation)")


def _memory(window: Window, name: str) -> str:
    if name not in window.pss_mb and name not in window.peak_pss_mb:
        return "-"
    end = window.pss_mb.get(name, 0.0)
    peak = window.peak_pss_mb.get(name, end)
    return f"{end:.0f}" if abs(peak - end) < 1 else f"{end:.0f} (peak {peak:.0f})"


if __name__ == "__main__":
    sys.exit(main())
