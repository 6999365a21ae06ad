"""Alert delivery figures: alerts raised while the dashboard is down, stored once it is back.

A sender with the stack's own outbox defaults (re-send after 2 s, doubling to 30 s) raises
alerts while no dashboard runs, for ``--down`` seconds; then ``carebot up --only dashboard``
starts. Printed per round: sends per alert while down (no flood), `carebot up` to page
served, `carebot up` to every alert stored (receipts back), page served to stored, and how
often each alert was stored (must be once). Then the dashboard is SIGKILLed under
`carebot up` with an alert raised while it is dead: kill to served again, kill to that alert
stored, kill to the SYSTEM alert stored and resolved. Load average printed alongside.

    .venv/bin/python benchmarks/alert_delivery_bench.py [--rounds 2] [--down 60] [--alerts 5]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from bringup_support import CAREBOT, AlertSenderPeer, db_rows, free_port, http_ok, started_pids, write_config  # noqa: E402
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for  # noqa: E402

KIND_SYSTEM, STATE_RESOLVED = 4, 3


def round_trip(folder: Path, down_s: float, n_alerts: int) -> dict[str, float]:
    env = isolated_env()
    port = free_port()
    config = write_config(folder, port)
    database = folder / "dashboard.sqlite3"
    sender = AlertSenderPeer(env)       # the stack's defaults: 2 s doubling to 30 s
    up = None
    try:
        ids = [f"bench-{i}" for i in range(n_alerts)]
        for alert_id in ids:
            sender.raise_alert(alert_id)
        time.sleep(down_s)
        sends = statistics.mean(sender.sends_of(a) for a in ids)
        log = folder / "up.log"
        t0 = time.monotonic()
        up = start(CAREBOT + ["up", "--only", "dashboard", "--config", str(config)], env, log)
        health = f"http://127.0.0.1:{port}/healthz"
        assert wait_for(lambda: http_ok(health), 120), log.read_text()
        t_served = time.monotonic()
        assert wait_for(lambda: sender.unstored() == 0, 120), log.read_text()
        t_stored = time.monotonic()
        stored = [len(db_rows(database, "SELECT seq FROM alert_events WHERE alert_id = ?", (a,))) for a in ids]

        # SIGKILL the dashboard under carebot up, raise one alert while it is dead
        [pid] = started_pids(log, "dashboard")
        os.kill(pid, signal.SIGKILL)
        t_kill = time.monotonic()
        sender.raise_alert("bench-while-dead")
        assert wait_for(lambda: http_ok(health) and len(started_pids(log, "dashboard")) == 2, 120), log.read_text()
        t_back = time.monotonic()
        assert wait_for(lambda: sender.unstored() == 0, 120), log.read_text()
        t_dead_stored = time.monotonic()
        assert wait_for(lambda: any(r[0] == STATE_RESOLVED for r in db_rows(
            database, "SELECT state FROM alerts WHERE kind = ?", (KIND_SYSTEM,))), 120), log.read_text()
        t_system = time.monotonic()
        return {"sends_per_alert_while_down": sends, "up_to_served_s": t_served - t0,
                "up_to_all_stored_s": t_stored - t0, "served_to_all_stored_s": t_stored - t_served,
                "max_times_stored": max(stored), "kill_to_served_s": t_back - t_kill,
                "kill_to_alert_stored_s": t_dead_stored - t_kill, "kill_to_system_resolved_s": t_system - t_kill,
                "load_1min": os.getloadavg()[0]}
    finally:
        if up is not None and up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(30)
            except subprocess.TimeoutExpired:
                stop(up)
        sender.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--down", type=float, default=60.0, help="seconds the dashboard is down (default 60)")
    parser.add_argument("--alerts", type=int, default=5)
    args = parser.parse_args()
    results = []
    for k in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="alert-bench-") as folder:
            result = round_trip(Path(folder), args.down, args.alerts)
        results.append(result)
        print(f"round {k + 1}: " + ", ".join(f"{key} {value:.2f}" for key, value in result.items()), flush=True)
    print(f"\n{args.alerts} alerts raised with the dashboard down {args.down:.0f} s, {args.rounds} rounds:")
    for key in results[0]:
        values = [r[key] for r in results]
        print(f"  {key:<28} {min(values):8.2f} .. {max(values):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
