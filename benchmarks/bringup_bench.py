"""Bringup and dashboard figures: start and restart times under `carebot up`, page API
latency of the real dashboard node, acknowledgement write cost, login hash cost, config
check time. Prints figures and ratios measured side by side in one run.

    .venv/bin/python benchmarks/bringup_bench.py
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from bringup_support import CAREBOT, PASSWORD, free_port, http_ok, started_pids, write_config  # noqa: E402
from carebot import bringup, config_check  # noqa: E402
from carebot.dashboard import auth  # noqa: E402
from carebot.dashboard.alerts import AlertKind, AlertRecord, AlertState, Severity  # noqa: E402
from carebot.dashboard.store import DashboardStore, TranscriptEntry  # noqa: E402
from carebot.scenarios.ros_env import isolated_env, start, wait_for  # noqa: E402

ALERTS = 50
TRANSCRIPTS = 100
REQUESTS = 200


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def seed(db: Path) -> None:
    store = DashboardStore(db)
    now = time.time()
    for i in range(ALERTS):
        store.save_alert(AlertRecord(f"a{i}", AlertKind(i % 5), Severity(i % 3), AlertState(i % 4),
                                     place="lounge", message=f"alert {i}", raised_at=now - i,
                                     updated_at=now - i), actor="bench")
    for i in range(TRANSCRIPTS):
        store.add_transcript(TranscriptEntry(now - i, f"utterance number {i}", "en", 0.9))
    store.close()


def sqlite_sync_costs(folder: Path) -> dict[str, float]:
    results = {}
    for mode in ("FULL", "NORMAL"):
        store = DashboardStore(folder / f"sync_{mode}.sqlite3")
        store._db.execute(f"PRAGMA synchronous={mode}")
        record = AlertRecord("x", AlertKind.FALL, Severity.CRITICAL, AlertState.RAISED, raised_at=1.0, updated_at=1.0)
        results[mode] = statistics.median(timed(lambda: store.save_alert(record, "bench"), 200))
        store.close()
    return results


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="carebot-bench-"))
    print(f"carebot bringup/dashboard benchmark ({os.cpu_count()} CPUs)\n")

    cpu0 = time.process_time()
    t = timed(lambda: [config_check.check_file(bringup.site_config(s)) for s in bringup.SITES], 3)
    cpu = (time.process_time() - cpu0) / 3 * 1000
    print(f"config check, both site files (every node's source read): median {statistics.median(t):.0f} ms "
          f"wall, {cpu:.0f} ms CPU")

    stored = auth.hash_password("benchmark-password")
    t = timed(lambda: auth.verify_password("benchmark-password", stored), 10)
    print(f"login password check (scrypt N=2^{auth.SCRYPT_N.bit_length() - 1}, r={auth.SCRYPT_R}): "
          f"median {statistics.median(t):.1f} ms")

    costs = sqlite_sync_costs(folder)
    print(f"alert write + history (SQLite WAL): synchronous=FULL {costs['FULL']:.2f} ms, NORMAL "
          f"{costs['NORMAL']:.2f} ms (FULL/NORMAL = {costs['FULL'] / costs['NORMAL']:.1f}x)")

    port = free_port()
    config = write_config(folder, port)
    seed(folder / "dashboard.sqlite3")
    env = isolated_env()
    log = folder / "up.log"
    health = f"http://127.0.0.1:{port}/healthz"
    t0 = time.perf_counter()
    up = start(CAREBOT + ["up", "--only", "dashboard", "--config", str(config)], env, log)
    try:
        if not wait_for(lambda: http_ok(health), 90, interval=0.05):
            print(log.read_text())
            return 1
        print(f"`carebot up --only dashboard` to page served: {time.perf_counter() - t0:.2f} s")

        pid = started_pids(log, "dashboard")[0]
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not http_ok(health), 10, interval=0.02)
        wait_for(lambda: http_ok(health), 90, interval=0.05)
        restart = time.perf_counter() - t0
        print(f"node killed (SIGKILL) to page served again: {restart:.2f} s "
              f"(of which back-off {1.0:.1f} s, the rest is process start)")

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

        def post(path, body):
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"}, method="POST")
            with opener.open(req, timeout=10) as response:
                return response.read()

        post("/api/login", {"user": "nurse", "password": PASSWORD})

        def state():
            with opener.open(f"http://127.0.0.1:{port}/api/state", timeout=10) as response:
                return response.read()

        size = len(state())
        t = timed(state, REQUESTS)
        print(f"GET /api/state ({ALERTS} alerts, {TRANSCRIPTS} transcripts, {size / 1024:.0f} KiB): "
              f"p50 {pct(t, 0.5):.1f} ms, p95 {pct(t, 0.95):.1f} ms, {1000 / statistics.mean(t):.0f} req/s sequential")
        raised = [f"a{i}" for i in range(ALERTS) if i % 4 in (0, 2)]
        t = [timed(lambda a=a: post(f"/api/alerts/{a}/acknowledge", {}), 1)[0] for a in raised]
        print(f"POST acknowledge (stored with synchronous=FULL, then published): p50 {pct(t, 0.5):.1f} ms, "
              f"p95 {pct(t, 0.95):.1f} ms over {len(t)} alerts")
    finally:
        up.send_signal(signal.SIGTERM)
        t0 = time.perf_counter()
        code = up.wait(30)
        print(f"SIGTERM to all stopped: {time.perf_counter() - t0:.2f} s (exit code {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
