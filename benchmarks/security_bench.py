"""Figures of the dashboard under attack (docs/security.md), on a real HTTP server on loopback.

Clients come from different 127.x.y.z addresses. Prints: the cost of one password check (now
and at the old N=2^14), a login round trip, how fast a bad Content-Length is refused, what a
200 MiB body does to memory, how many password checks 31 parallel guesses get, and what a
legitimate client sees while slow or idle connections from many addresses hold the server.

    .venv/bin/python benchmarks/security_bench.py
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import statistics
import tempfile
import threading
import time

from carebot.dashboard import auth
from carebot.dashboard.alerts import AlertBook
from carebot.dashboard.store import DashboardStore
from carebot.dashboard.web import DashboardApp, DashboardServer


class NoRobot:
    """Stand-in for the ROS side (the attacks are on HTTP)."""

    def status(self):
        return None

    def diagnostics(self):
        return []


def _rss_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _get(port: int, source: str, timeout: float = 10.0) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
        conn.close()
    except OSError:
        status = 0
    return status, (time.perf_counter() - started) * 1000


def main() -> int:
    print(f"carebot dashboard security benchmark ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})\n")
    for n in (2 ** 14, auth.SCRYPT_N):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            hashlib.scrypt(b"benchmark", salt=b"0" * 16, n=n, r=8, p=1, maxmem=300 * 2 ** 20, dklen=32)
            times.append(time.perf_counter() - t)
        print(f"password check, scrypt N=2^{n.bit_length() - 1} r=8 p=1: median {statistics.median(times) * 1000:.0f} ms")

    folder = tempfile.mkdtemp(prefix="carebot-secbench-")
    store = DashboardStore(os.path.join(folder, "d.sqlite3"))
    stored = auth.hash_password("benchmark-password")
    accounts = auth.parse_accounts([f"nurse:{stored}"])
    app = DashboardApp(book=AlertBook(store), store=store, auth=auth.Authenticator(accounts, store, 600.0),
                       link=NoRobot())
    server = DashboardServer(app, "127.0.0.1", 0).start()
    port = server.port
    try:
        times = []
        for i in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(f"127.0.9.{i}", 0))
            t = time.perf_counter()
            conn.request("POST", "/api/login", json.dumps({"user": "nurse", "password": "benchmark-password"}),
                         {"Content-Type": "application/json"})
            assert conn.getresponse().status == 200
            times.append(time.perf_counter() - t)
        print(f"login round trip (right password): median {statistics.median(times) * 1000:.0f} ms")

        sock = socket.create_connection(("127.0.0.1", port), source_address=("127.0.10.1", 0))
        t = time.perf_counter()
        sock.sendall(f"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                     "Content-Length: -1\r\n\r\n".encode())
        answer = sock.recv(4096)
        print(f"Content-Length: -1 answered {answer.split(b' ')[1].decode()} in "
              f"{(time.perf_counter() - t) * 1000:.1f} ms (the issue: no answer in 4 s)")
        sock.close()

        before = _rss_mib()
        sock = socket.create_connection(("127.0.0.1", port), source_address=("127.0.10.2", 0))
        sock.sendall(f"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {200 * 2 ** 20}\r\n\r\n".encode())
        status = sock.recv(4096).split(b" ")[1].decode()
        sent = 0
        try:
            for _ in range(200):
                sock.sendall(b"x" * 2 ** 20)
                sent += 1
        except OSError:
            pass
        sock.close()
        print(f"200 MiB body: answered {status}, {sent} MiB accepted by the socket before it closed, process "
              f"memory {_rss_mib() - before:+.1f} MiB (the issue: +400 MiB)")

        checks = []
        real = auth.verify_password
        auth.verify_password = lambda p, h: checks.append(1) or real(p, h)
        barrier, results = threading.Barrier(31), []

        def guess(i):
            barrier.wait()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=("127.0.11.1", 0))
            conn.request("POST", "/api/login", json.dumps({"user": "nurse", "password": f"guess{i}"}),
                         {"Content-Type": "application/json"})
            results.append(conn.getresponse().status)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(31)]
        t = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        auth.verify_password = real
        print(f"31 parallel wrong guesses from one address: {len(checks)} password checks in "
              f"{time.perf_counter() - t:.1f} s; answers {sorted(set(results))} (the issue: 31 checks in 1.7 s)")

        for attack, payload in (("requests stalled after their first byte", b"G"), ("idle connections", b"")):
            hogs = []
            for i in range(100):
                try:
                    hog = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(f"127.0.12.{i + 1}", 0))
                    if payload:
                        hog.sendall(payload)
                    hogs.append(hog)
                except OSError:
                    pass
            time.sleep(1.5)          # slow heads more than SLOW_HEAD_S old may be dropped for a newcomer
            answers = [_get(port, f"127.0.13.{i + 1}") for i in range(20)]
            ok = [ms for status, ms in answers if status == 200]
            print(f"{len(hogs)} {attack} from 100 addresses: a new client served {len(ok)}/20 times, "
                  f"p50 {statistics.median(ok) if ok else float('nan'):.1f} ms; open connections "
                  f"{server.open_connections} (cap 64)")
            for hog in hogs:
                hog.close()
            time.sleep(0.5)
    finally:
        server.stop()
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
