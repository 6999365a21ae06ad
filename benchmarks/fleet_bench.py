"""Fleet link figures: N lightweight robot bridges at their real rates through one router.

Each bridge is a Zenoh peer session (as the fleet bridge node opens it, without the ROS
stack behind it) that holds its presence token, publishes its RobotState at 1 Hz (the
bridge's default rate) and listens for its commands; the sessions run in a few worker
processes. One ``carebot fleet serve`` (router + fleet view) in its own process. Alerts are
raised from rotating robots, ``--alert-hz`` per second; the view records when it stored each
(same clock). Printed per N: alert -> fleet view p50 / p95 / max, the router process's CPU
(one core = 100 %) over the window, states received, and the load average.

    .venv/bin/python benchmarks/fleet_bench.py [--robots 10 50 100] [--window 20] [--workers 4]

The link is plain tcp on loopback: TLS's cost is its handshake per link and symmetric crypto
on ~0.4 KiB/s per robot (docs/fleet.md); the TLS path is tested in tests/integration/test_fleet_link.py.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from bringup_support import PASSWORD, free_port  # noqa: E402
from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for  # noqa: E402

SITE = "bench"


def worker(names: list[str], port: int, alert_every_s: float, offset_s: float, duration_s: float, out) -> None:
    from carebot.alerts import AlertKind, Severity, new_alert
    from carebot.fleet import keys, payloads
    from carebot.fleet.link import close_session, open_session
    from carebot.fleet.zenoh_config import robot_config

    sessions = []
    for name in names:
        session = open_session(robot_config([f"tcp/127.0.0.1:{port}"], None))
        token = session.liveliness().declare_token(keys.presence_key(SITE, name))
        sub = session.declare_subscriber(keys.cmds_of(SITE, name), lambda sample: None)
        sessions.append((name, session, token, sub))
    sent = []
    start_at = time.time()
    next_alert = start_at + offset_s
    seq, turn = 0, 0
    while time.time() - start_at < duration_s:
        seq += 1
        tick = time.time()
        for i, (name, session, _, _) in enumerate(sessions):
            state = payloads.RobotState(SITE, name, "care_home", time.time(), seq, (5.0 + i * 0.01, 3.0, 0.0),
                                        "IDLE", health="OK")
            session.put(keys.state_key(SITE, name), state.to_bytes())
            while alert_every_s and time.time() >= next_alert:
                robot, session_a = sessions[turn % len(sessions)][:2]
                turn += 1
                record = new_alert("bench", AlertKind.SYSTEM, Severity.INFO, message="benchmark alert")
                put_at = time.time()
                session_a.put(keys.alert_key(SITE, robot, record.id), payloads.alert_to_bytes(record))
                sent.append((record.id, put_at))
                next_alert += alert_every_s
        time.sleep(max(0.0, 1.0 - (time.time() - tick)))      # 1 Hz per robot
    out.put(sent)
    for _, session, _, _ in sessions:
        close_session(session, 2.0)
    os._exit(0)                       # sessions closed; do not wait on the runtime's threads


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def view_state(port: int) -> dict:
    def call(method, path, body=None, cookie=""):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json", "Cookie": cookie})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers.get("Set-Cookie", ""), json.loads(response.read())
    cookie, _ = call("POST", "/api/login", {"user": "nurse", "password": PASSWORD})
    return call("GET", "/api/fleet", cookie=cookie.split(";")[0])[1]


def run(n: int, args, folder: Path) -> dict:
    import yaml

    from carebot.dashboard.auth import hash_password

    router, http_port = free_port(), free_port()
    config = folder / f"fleet{n}.yaml"
    config.write_text(yaml.safe_dump({"fleet_server": {"ros__parameters": {
        "listen": [f"tcp/127.0.0.1:{router}"], "http_port": http_port, "database": str(folder / f"fleet{n}.sqlite3"),
        "staff_accounts": [f"nurse:{hash_password(PASSWORD)}"]}}}))
    server = start(python_module("carebot.cli", "fleet", "serve", "--config", str(config)), isolated_env(),
                   folder / f"fleet{n}.log")
    try:
        assert wait_for(lambda: _up(http_port), 60), (folder / f"fleet{n}.log").read_text()[-2000:]
        names = [f"robot_{i:03d}" for i in range(n)]
        workers = min(args.workers, n)
        queue = multiprocessing.Queue()
        warm, duration = 5.0, args.window + 5.0 + 3.0
        procs = [multiprocessing.Process(target=worker, args=(names[w::workers], router,
                                                              workers / args.alert_hz, warm + w / args.alert_hz,
                                                              duration, queue)) for w in range(workers)]
        for p in procs:
            p.start()
        time.sleep(warm)                                   # sessions open, presence seen
        load0, cpu0, t0 = os.getloadavg()[0], cpu_seconds(server.pid), time.monotonic()
        time.sleep(args.window)
        cpu = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
        load1 = os.getloadavg()[0]
        sent = [item for _ in procs for item in queue.get(timeout=120)]
        for p in procs:
            p.join(timeout=30)
        time.sleep(1.0)
        state = view_state(http_port)
        seen = state["stats"]["alert_seen_at"]
        latencies = sorted((seen[i] - t) * 1000 for i, t in sent if i in seen)
        online = sum(1 for r in state["robots"] if r["online"] or r["last_heard_s"] is not None)
        return {"n": n, "robots_heard": online, "alerts_sent": len(sent), "alerts_seen": len(latencies),
                "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
                "p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1) if latencies else None,
                "max_ms": round(latencies[-1], 1) if latencies else None,
                "router_cpu_pct": round(100 * cpu, 1), "states": state["stats"]["states"],
                "load": f"{load0:.1f}-{load1:.1f}"}
    finally:
        stop(server, timeout=15)


def _up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robots", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--window", type=float, default=20.0, help="measured seconds per N")
    parser.add_argument("--workers", type=int, default=4, help="processes holding the bridge sessions")
    parser.add_argument("--alert-hz", type=float, default=2.0, help="alerts raised per second (all robots)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    print(f"{'N':>4} {'heard':>5} {'alerts':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'router CPU':>10} "
          f"{'states':>7}  load")
    for n in args.robots:
        r = run(n, args, folder)
        print(f"{r['n']:>4} {r['robots_heard']:>5} {r['alerts_seen']:>3}/{r['alerts_sent']:<3} {r['p50_ms']:>7} "
              f"{r['p95_ms']:>7} {r['max_ms']:>7} {r['router_cpu_pct']:>9}% {r['states']:>7}  {r['load']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
