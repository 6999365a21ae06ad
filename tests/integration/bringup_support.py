"""Helpers of the bringup and dashboard integration tests (not a test module)."""
from __future__ import annotations

import os
import re
import socket
import sqlite3
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from carebot.dashboard.auth import hash_password

PASSWORD = "nurse-test-pass"
_HASH = hash_password(PASSWORD)       # production cost: the dashboard refuses cheaper hashes
CAREBOT = [sys.executable, "-m", "carebot.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(folder: Path, port: int, **extra: str) -> Path:
    """A site file with a dashboard on ``port`` and its database in ``folder``; accounts
    ``nurse`` (staff) and ``supervisor`` (supervisor), both with PASSWORD."""
    lines = ["dashboard:", "  ros__parameters:", f"    port: {port}",
             f"    database: {folder / 'dashboard.sqlite3'}", "    world: care_home",
             "    staff_accounts:", f'      - "nurse:{_HASH}"', f'      - "supervisor:supervisor:{_HASH}"']
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    path = folder / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def started_pids(log: Path, name: str) -> list[int]:
    """PIDs `carebot up` reported for a node, in order."""
    text = log.read_text() if log.exists() else ""
    return [int(pid) for pid in re.findall(rf"(?:started|restarted \(start \d+\)) {name} \(pid (\d+)\)", text)]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def db_rows(database, query: str, args=()) -> list[tuple]:
    """Read the dashboard's database as another process would (it keeps writing: WAL)."""
    if not database.exists():
        return []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
        return db.execute(query, args).fetchall()


class RosPeer:
    """A ROS node inside the test process, in the test's private domain."""

    def __init__(self, env: dict[str, str]):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from carebot.alert_delivery import ALERTS_LIVE_QOS, ALERTS_QOS, RECEIPTS_QOS
        from carebot_interfaces.msg import Alert
        from carebot_interfaces.srv import UpdateAlert
        from std_msgs.msg import Bool

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("dashboard_test_peer", context=self.context)
        self.alerts_heard: list = []
        self.receipts: list = []
        self.estops: list[bool] = []
        # Durable like every alert sender: the dashboard's TRANSIENT_LOCAL subscription
        # matches nothing else (carebot.alert_delivery).
        self.alert_pub = self.node.create_publisher(Alert, "alerts", ALERTS_QOS)
        self.node.create_subscription(Alert, "alerts", self.alerts_heard.append, ALERTS_LIVE_QOS)
        self.node.create_subscription(Alert, "alerts/stored", self.receipts.append, RECEIPTS_QOS)
        self.node.create_subscription(Bool, "safety/estop", lambda m: self.estops.append(m.data), 10)
        self.update_client = self.node.create_client(UpdateAlert, "alerts/update")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def wait_for_dashboard(self, timeout: float = 30.0) -> bool:
        """True once the dashboard's alerts subscription and update service are matched."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.alert_pub.get_subscription_count() >= 2 and self.update_client.service_is_ready():
                return True           # 2 subscribers: the dashboard and this peer itself
            time.sleep(0.1)
        return False

    def raise_alert(self, alert_id: str, message: str, place: str = "lounge",
                    frame_id: str = "map", position: tuple[float, float] = (4.0, 3.0)) -> None:
        from carebot_interfaces.msg import Alert

        msg = Alert(id=alert_id, kind=Alert.KIND_FALL, severity=Alert.SEVERITY_CRITICAL,
                    state=Alert.STATE_RAISED, place=place, message=message, person="resident_7")
        msg.header.frame_id = frame_id
        msg.header.stamp = msg.raised_at = self.node.get_clock().now().to_msg()
        msg.position.x, msg.position.y = position
        msg.position_known = True
        self.alert_pub.publish(msg)

    def update(self, alert_id: str, action: int, staff: str, note: str = "", timeout: float = 10.0):
        from carebot_interfaces.srv import UpdateAlert

        future = self.update_client.call_async(UpdateAlert.Request(id=alert_id, action=action, staff=staff, note=note))
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        assert done.wait(timeout), "alerts/update did not answer"
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5)


class AlertSenderPeer:
    """An alert sender as perception or the brain runs one, plus a listener on ``alerts``."""

    def __init__(self, env: dict[str, str], initial_s: float | None = None, max_s: float | None = None):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        from carebot.alert_delivery import ALERTS_LIVE_QOS, AlertSender
        from carebot.alert_outbox import Outbox
        from carebot_interfaces.msg import Alert

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
        self.Alert = Alert
        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("alert_test_sender", context=self.context)
        # the stack's back-off unless a test wants it shorter
        self.outbox = Outbox(**{k: v for k, v in (("initial_s", initial_s), ("max_s", max_s)) if v is not None})
        self.sender = AlertSender(self.node, outbox=self.outbox)
        self.heard: list[tuple[float, object]] = []     # (monotonic time, Alert) on `alerts`
        self.node.create_subscription(Alert, "alerts", lambda m: self.heard.append((time.monotonic(), m)),
                                      ALERTS_LIVE_QOS)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def raise_alert(self, alert_id: str, state: int | None = None, message: str = "resident down",
                    handled_by: str = "") -> None:
        msg = self.Alert(id=alert_id, kind=self.Alert.KIND_FALL, severity=self.Alert.SEVERITY_CRITICAL,
                         state=self.Alert.STATE_RAISED if state is None else state, place="lounge",
                         message=message, handled_by=handled_by)
        msg.header.frame_id = "map"
        msg.header.stamp = msg.raised_at = self.node.get_clock().now().to_msg()
        self.sender.publish(msg)

    def sends_of(self, alert_id: str, since: float = 0.0) -> int:
        return sum(1 for t, m in list(self.heard) if m.id == alert_id and t >= since)

    def unstored(self) -> int:
        return int(self.sender.stats()["alerts_unstored"])

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5)


# Parameters rclpy gives every node, whatever it declares.
ROS_OWN_PARAMETERS = ("use_sim_time", "start_type_description_service")


def is_ros_own(name: str) -> bool:
    return name in ROS_OWN_PARAMETERS or name.startswith("qos_overrides.")


@dataclass(frozen=True)
class Declared:
    """One parameter as a running node declares it (rcl_interfaces ParameterDescriptor + value)."""

    type: int                                  # rcl_interfaces/ParameterType
    range: tuple | None                        # (from, to) of the integer or floating-point range
    description: str
    constraints: str                           # additional_constraints
    value: object                              # None: declared without a value


def node_parameters(env: dict[str, str], node: str, timeout: float = 20.0) -> dict[str, Declared]:
    """What a running node declares, asked over its parameter services (list, describe, get)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import parameter_value_to_python
    from rcl_interfaces.srv import DescribeParameters, GetParameters, ListParameters
    from rclpy.executors import SingleThreadedExecutor

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
    context = Context()
    rclpy.init(context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    try:
        peer = rclpy.create_node("param_reader", context=context)

        def call(srv, name, request):
            client = peer.create_client(srv, f"{node}/{name}")
            assert client.wait_for_service(timeout_sec=timeout), f"{node}/{name} not available"
            future = client.call_async(request)
            executor = SingleThreadedExecutor(context=context)
            rclpy.spin_until_future_complete(peer, future, executor=executor, timeout_sec=timeout)
            assert future.done(), f"{node}/{name} did not answer within {timeout} s"
            return future.result()

        names = list(call(ListParameters, "list_parameters", ListParameters.Request()).result.names)
        described = call(DescribeParameters, "describe_parameters", DescribeParameters.Request(names=names))
        values = call(GetParameters, "get_parameters", GetParameters.Request(names=names)).values
        out = {}
        for d, value in zip(described.descriptors, values):
            ranges = list(d.floating_point_range) or list(d.integer_range)
            python = parameter_value_to_python(value)
            out[d.name] = Declared(d.type, (ranges[0].from_value, ranges[0].to_value) if ranges else None,
                                   d.description, d.additional_constraints,
                                   list(python) if isinstance(python, (list, tuple)) or hasattr(python, "tolist")
                                   else python)
        return out
    finally:
        context.try_shutdown()
