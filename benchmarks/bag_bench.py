"""Recording overhead on the running stack at the demo's rates: CPU share and lost messages.

    MUJOCO_GL=osmesa .venv/bin/python benchmarks/bag_bench.py [--seconds 45]

The stack: the real sim node (the care home as the demo runs it: camera 640x480 at
5 Hz, lidar, odometry and joint states, /clock) with base_safety and navigator, in a
private DDS domain. Three runs of the same length, one after the other:

1. no recorder (the baseline);
2. ``carebot bag record`` with its default set (everything but camera images and raw audio);
3. the same with the camera named (``--include camera/image_raw``, ~0.9 MB frames).

Per run: the recorder's CPU (share of one core, from /proc), the sim node's CPU and its
real-time factor (from /diagnostics), and lost messages: a reference subscriber in this
process counts the header stamps of the stamped sensor topics during the run, and every
stamp it saw that the bag lacks counts as lost by the recorder (plus the middleware's own
message-lost events, which the recorder writes into the bag's metadata). The machine's
load is printed with the figures. No pass/fail.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MUJOCO_GL", "osmesa")

STACK = ("sim", "base_safety", "navigator")
STAMPED = {"/odom": "nav_msgs/msg/Odometry", "/joint_states": "sensor_msgs/msg/JointState",
           "/scan": "sensor_msgs/msg/LaserScan", "/camera/image_raw": "sensor_msgs/msg/Image"}
WARM_S = 25.0          # the sim renders its first frames and the nodes settle before a run is timed
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Reference:
    """Counts header stamps per stamped topic (best effort, the sensors' QoS) and the sim's RTF."""

    def __init__(self, domain: int):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from carebot.bag.recorder_node import message_class

        self.rclpy = rclpy
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("bag_bench_reference", context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.stamps: dict[str, set[int]] = {t: set() for t in STAMPED}
        self.counting = False
        self.rtf: list[float] = []
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
        for topic, type_name in STAMPED.items():
            self.node.create_subscription(message_class(type_name), topic,
                                          lambda msg, t=topic: self._on(t, msg), qos)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _on(self, topic: str, msg) -> None:
        if self.counting:
            self.stamps[topic].add(msg.header.stamp.sec * 10 ** 9 + msg.header.stamp.nanosec)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name == "carebot/sim" and self.counting:
                values = {kv.key: kv.value for kv in status.values}
                if "real_time_factor" in values:
                    self.rtf.append(float(values["real_time_factor"]))

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)

    def close(self) -> None:
        self.node.destroy_node()
        self.context.try_shutdown()


def bag_stamps(bag: Path) -> tuple[dict[str, set[int]], dict[str, str]]:
    from rclpy.serialization import deserialize_message

    from carebot.bag.recorder_node import message_class
    from carebot.bag.store import iter_messages, read_info

    out: dict[str, set[int]] = {t: set() for t in STAMPED}
    classes = {t: message_class(k) for t, k in STAMPED.items()}
    for message in iter_messages(bag, list(STAMPED)):
        msg = deserialize_message(message.data, classes[message.topic])
        out[message.topic].add(msg.header.stamp.sec * 10 ** 9 + msg.header.stamp.nanosec)
    return out, read_info(bag).custom_data


def run(seconds: float) -> None:
    from carebot import bringup
    from carebot.launcher.cli import node_command
    from carebot.scenarios.ros_env import isolated_env, start, stop

    env = isolated_env(MUJOCO_GL="osmesa")
    tmp = Path(tempfile.mkdtemp(prefix="carebot-bag-bench-"))
    plan = bringup.launch_plan(site="care_home", sim=True, only=list(STACK))
    nodes = [start(node_command(launch), env, tmp / f"{launch.spec.name}.log") for launch in plan]
    sim_pid = nodes[0].pid
    reference = Reference(int(env["ROS_DOMAIN_ID"]))
    rows = []
    try:
        reference.spin(WARM_S)
        for label, extra in (("no recorder", None), ("bag record (default set)", []),
                             ("bag record --include camera/image_raw", ["--include", "camera/image_raw"])):
            bag = tmp / f"bag_{len(rows)}"
            recorder = None
            if extra is not None:
                recorder = subprocess.Popen(
                    [sys.executable, "-m", "carebot.cli", "bag", "record", "--out", str(bag), "--use-sim-time",
                     *extra], env=env, stdout=open(tmp / f"record_{len(rows)}.log", "w"), stderr=subprocess.STDOUT)
                reference.spin(4.0)            # discovery and subscriptions before the window opens
            for stamps in reference.stamps.values():
                stamps.clear()
            reference.rtf.clear()
            load = os.getloadavg()[0]
            sim0, rec0, wall0 = cpu_s(sim_pid), cpu_s(recorder.pid) if recorder else 0.0, time.monotonic()
            reference.counting = True
            reference.spin(seconds)
            reference.counting = False
            wall = time.monotonic() - wall0
            sim_cpu = (cpu_s(sim_pid) - sim0) / wall
            rec_cpu = (cpu_s(recorder.pid) - rec0) / wall if recorder else 0.0
            lost, seen, lost_events = {}, {}, ""
            if recorder is not None:
                reference.spin(1.0)            # the last messages of the window reach the recorder too
                stop(recorder, timeout=60)
                recorded, custom = bag_stamps(bag)
                lost_events = custom.get("carebot.messages_lost", "none")
                for topic, stamps in reference.stamps.items():
                    if topic == "/camera/image_raw" and extra == []:
                        continue               # not recorded in the default set (privacy)
                    seen[topic] = len(stamps)
                    lost[topic] = len(stamps - recorded[topic])
            rtf = sum(reference.rtf) / len(reference.rtf) if reference.rtf else float("nan")
            rows.append((label, rec_cpu, sim_cpu, rtf, seen, lost, lost_events, load,
                         {t: len(s) / wall for t, s in reference.stamps.items()}))
    finally:
        reference.close()
        for proc in reversed(nodes):
            stop(proc)
    print(f"\n{seconds:.0f} s per run, stack: {', '.join(STACK)} (care home, demo rates)")
    for label, rec_cpu, sim_cpu, rtf, seen, lost, events, load, rates in rows:
        print(f"\n{label}  (load {load:.1f})")
        print(f"  recorder CPU {100 * rec_cpu:.1f}% of a core; sim CPU {100 * sim_cpu:.1f}%; sim real-time factor "
              f"{rtf:.2f}")
        print("  rates seen by the reference (Hz): " + ", ".join(f"{t} {r:.1f}" for t, r in rates.items()))
        if seen:
            print("  lost by the recorder (of those the reference got): "
                  + ", ".join(f"{t} {lost[t]}/{seen[t]}" for t in seen) + f"; middleware message-lost events: {events}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each run (wall s)")
    run(parser.parse_args().seconds)


if __name__ == "__main__":
    main()
