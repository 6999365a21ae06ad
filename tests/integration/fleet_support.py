"""Helpers of the fleet's integration tests and benchmark: a fleet view (router) process, robot
bridge processes in their own ROS domains, a robot's ROS side in the test process, and a TCP
relay that can cut one robot's link (what a failing network does; the relay only forwards
bytes, TLS runs end to end through it)."""
from __future__ import annotations

import http.client
import json
import socket
import threading
from pathlib import Path

import yaml

from bringup_support import CAREBOT, PASSWORD, free_port
from carebot.dashboard.auth import hash_password
from carebot.fleet.certs import make_fleet_certs
from carebot.scenarios.ros_env import isolated_env, python_module, start

SITE = "home"
_HASH = hash_password(PASSWORD)          # the production cost: the fleet view checks it like the dashboard


class Relay:
    """Forwards 127.0.0.1:<port> to a target port; ``cut()`` closes every connection and stops
    listening (the robot's link is down), ``restore()`` listens again on the same port."""

    def __init__(self, target_port: int):
        self.target = target_port
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)     # wakes the accept() blocked on it (close alone does not)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


def make_certs(folder: Path, robots: list[str]):
    return make_fleet_certs(folder / "certs", [(SITE, r) for r in robots])


def fleet_config(folder: Path, certs, robots: list[str], router_port: int, http_port: int, **extra) -> Path:
    router = certs["router"]
    params = {"listen": [f"tls/127.0.0.1:{router_port}"], "tls_root_ca": router.root_ca,
              "tls_certificate": router.certificate, "tls_private_key": router.private_key,
              "robots": [f"{SITE}/{r}" for r in robots], "http_port": http_port,
              "database": str(folder / "fleet.sqlite3"), "staff_accounts": [f"nurse:{_HASH}"], **extra}
    path = folder / "fleet.yaml"
    path.write_text(yaml.safe_dump({"fleet_server": {"ros__parameters": params}}), encoding="utf-8")
    return path


def start_fleet(folder: Path, config: Path):
    return start(CAREBOT + ["fleet", "serve", "--config", str(config)], isolated_env(), folder / "fleet.log")


def bridge_params(folder: Path, certs, robot: str, router_port: int, **extra) -> Path:
    files = certs[f"{SITE}/{robot}"]
    params = {"enabled": True, "site_id": SITE, "robot_id": robot, "router": [f"tls/localhost:{router_port}"],
              "tls_root_ca": files.root_ca, "tls_certificate": files.certificate,
              "tls_private_key": files.private_key, "own_incidents_by_brain": False, **extra}
    path = folder / f"{robot}.yaml"
    path.write_text(yaml.safe_dump({"fleet_bridge": {"ros__parameters": params}}), encoding="utf-8")
    return path


def bridge_report(folder: Path, procs: dict) -> str:
    """The bridges' log tails, each with the stacks of its threads (SIGUSR1, see
    carebot.node_runner): what a failed assertion about a robot shows."""
    import signal
    import time

    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)
    time.sleep(1.0)
    return "\n".join(f"--- {robot} (exit {proc.poll()}):\n" + (folder / f"{robot}.log").read_text()[-6000:]
                     for robot, proc in procs.items() if (folder / f"{robot}.log").exists())


def start_bridge(folder: Path, params: Path, env: dict[str, str], robot: str):
    return start(python_module("carebot.fleet.fleet_bridge_node", "--ros-args", "-r", "__node:=fleet_bridge",
                               "--params-file", str(params)), env, folder / f"{robot}.log")


class View:
    """The fleet view over HTTP, logged in as the test's nurse."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, body=None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Cookie": self.cookie}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        data = response.read()
        if response.getheader("Set-Cookie"):
            self.cookie = response.getheader("Set-Cookie").split(";")[0]
        conn.close()
        return response.status, (json.loads(data) if data[:1] == b"{" else {})

    def login(self) -> bool:
        try:
            return self.request("POST", "/api/login", {"user": "nurse", "password": PASSWORD})[0] == 200
        except OSError:
            return False

    def state(self) -> dict:
        status, data = self.request("GET", "/api/fleet")
        assert status == 200, data
        return data

    def robot(self, name: str) -> dict | None:
        return next((r for r in self.state()["robots"] if r["robot"] == name), None)

    def online(self, name: str) -> bool:
        found = self.robot(name)
        return bool(found and found["online"])


class RobotSide:
    """A robot's own ROS graph as the bridge sees it, from the test process: its status, its
    alerts (durable, as the stack's senders publish them), and what reaches it."""

    def __init__(self, env: dict[str, str]):
        import os

        import rclpy
        from carebot_interfaces.msg import Alert, RobotStatus
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import Bool

        from carebot.alert_delivery import ALERTS_LIVE_QOS, ALERTS_QOS
        from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("robot_side", context=self.context)
        self.heard_alerts, self.estops = [], []
        self.status_pub = self.node.create_publisher(RobotStatus, "robot/status", LATCHED_QOS)
        self.alert_pub = self.node.create_publisher(Alert, "alerts", ALERTS_QOS)
        self.node.create_subscription(Alert, "alerts", self.heard_alerts.append, ALERTS_LIVE_QOS)
        self.node.create_subscription(Bool, "safety/estop", self.estops.append, RELIABLE_QOS)
        # base_safety repeats robot/status at 2 Hz; so does this side, or 'busy' (a task seen within
        # the bridge's busy_hold_s) would lapse whenever a test runs long on a loaded machine.
        self._last_status = None
        self.node.create_timer(0.5, self._repeat_status)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:
                if not self.context.ok():
                    return

    def status(self, x: float, y: float, task: str = "") -> None:
        from carebot_interfaces.msg import RobotStatus

        msg = RobotStatus(mode=1 if task else 0, current_task=task, speed_limit=0.5)
        msg.pose.x, msg.pose.y = x, y
        self._last_status = msg
        self.status_pub.publish(msg)

    def _repeat_status(self) -> None:
        if self._last_status is not None:
            self.status_pub.publish(self._last_status)

    def raise_alert(self, record) -> None:
        from carebot import alerts

        self.alert_pub.publish(alerts.to_msg(record))

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2)
        self.node.destroy_node()
        self.context.try_shutdown()
