"""Executor cost: CPU and timer lateness of one node under rclpy's SingleThreadedExecutor,
rclpy 7.1's MultiThreadedExecutor and carebot.executors.PooledExecutor, side by side.

The node is shaped like the base safety node: a 20 Hz control timer, a 2 Hz status
timer and a 20 Hz command subscription, all in one mutually exclusive group. Each
executor runs in its own process for the same time; CPU is the process's CPU time
over wall time (100% = one core).

    .venv/bin/python benchmarks/executor_bench.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

KINDS = ("single", "rclpy-multi", "pooled")

CHILD = r"""
import json, random, sys, threading, time
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from std_msgs.msg import String
from carebot.executors import PooledExecutor

kind, seconds = sys.argv[1], float(sys.argv[2])
rclpy.init(domain_id=random.randint(1, 100))
node = rclpy.create_node("executor_bench")
group = MutuallyExclusiveCallbackGroup()
pub = node.create_publisher(String, "cmd", 10)
lateness = []
expected = [None]

def control():
    now = time.monotonic()
    if expected[0] is not None:
        lateness.append(max(0.0, now - expected[0]))
    expected[0] = now + 0.05
    pub.publish(String(data="x"))

node.create_timer(0.05, control, callback_group=group)
node.create_timer(0.5, lambda: None, callback_group=group)
node.create_subscription(String, "cmd", lambda _: None, 10, callback_group=group)
executor = {"single": SingleThreadedExecutor, "rclpy-multi": lambda: MultiThreadedExecutor(num_threads=2),
            "pooled": lambda: PooledExecutor(num_threads=2)}[kind]()
executor.add_node(node)
threading.Thread(target=executor.spin, daemon=True).start()
time.sleep(1.0)                                   # warm up
lateness.clear()
cpu0, wall0 = time.process_time(), time.monotonic()
time.sleep(seconds)
cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
lateness.sort()
print(json.dumps({"cpu": cpu, "late_p50_ms": 1e3 * lateness[len(lateness) // 2],
                  "late_max_ms": 1e3 * lateness[-1], "ticks": len(lateness)}))
sys.stdout.flush()
import os; os._exit(0)                            # rclpy's MultiThreadedExecutor does not stop quietly
"""


def measure(kind: str, seconds: float) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(seconds)], capture_output=True, text=True,
                         timeout=seconds + 60)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{kind}: no result\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    started = time.monotonic()
    results = {kind: measure(kind, args.seconds) for kind in KINDS}
    print(f"{'executor':<14} {'CPU (1 core = 100%)':>20} {'timer late p50':>15} {'timer late max':>15} {'ticks':>6}")
    for kind, r in results.items():
        print(f"{kind:<14} {100 * r['cpu']:>19.1f}% {r['late_p50_ms']:>12.1f} ms {r['late_max_ms']:>12.1f} ms "
              f"{r['ticks']:>6}")
    pooled, stock = results["pooled"], results["rclpy-multi"]
    print(f"CPU ratio rclpy MultiThreadedExecutor / PooledExecutor: {stock['cpu'] / max(pooled['cpu'], 1e-6):.1f}x; "
          f"PooledExecutor / SingleThreadedExecutor: {pooled['cpu'] / max(results['single']['cpu'], 1e-6):.2f}x "
          f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
