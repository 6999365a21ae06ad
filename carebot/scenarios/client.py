"""The scenario runner's own ROS node: watches the stack, scripts the simulation.

It lives in the runner's process in a private rclpy Context (the stack runs in
its own DDS domain), spins in a background thread and keeps the latest state:
sim time, ground-truth pose, robot status, alerts, transcripts, speaking state,
persons, camera frames and every node's diagnostics. It publishes ``sim/control``
(people, scripted speech) and ``safety/estop``, and sends NavigateTo goals.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field

import rclpy
from carebot_interfaces.action import NavigateTo
from carebot_interfaces.msg import Alert, PersonArray, RobotStatus, ToolCall, Transcript
from carebot_interfaces.srv import Ask
from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from nav_msgs.msg import Odometry
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, String

from carebot.frames import stamp_to_s as _seconds, yaw_of
from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS, ActionClient

# Alerts and receipts: reliable and volatile (live), like the brain's subscription.
ALERTS_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class Received:
    """A message and the sim time at which the runner received it."""

    sim_time: float
    msg: object


@dataclass
class StackState:
    sim_time: float = -1.0
    pose: tuple[float, float, float] | None = None       # x, y, yaw of the robot (ground truth)
    speed: tuple[float, float] = (0.0, 0.0)             # v (m/s), w (rad/s)
    path: list[tuple[float, float, float]] = field(default_factory=list)   # (t, x, y) at most 10 Hz
    status: RobotStatus | None = None
    alerts: list[Received] = field(default_factory=list)
    stored: list[Received] = field(default_factory=list)     # the dashboard's receipts (alerts/stored)
    transcripts: list[Received] = field(default_factory=list)
    speaking: list[Received] = field(default_factory=list)   # Bool changes
    tasks: list[Received] = field(default_factory=list)      # navigator/task changes (String)
    persons: Received | None = None
    persons_seen: int = 0
    # (sim time, [(track id, state, score, fall score, seconds down)]) per perception frame
    persons_history: list[tuple[float, list[tuple[int, int, float, float, float]]]] = field(default_factory=list)
    image: Image | None = None
    debug_image: Image | None = None
    diagnostics: dict[str, tuple[int, str, dict[str, str], float]] = field(default_factory=dict)


class StackClient:
    """Connects to a stack running in DDS domain ``domain_id``."""

    def __init__(self, domain_id: int, name: str = "scenario_runner"):
        os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.state = StackState()
        self.lock = threading.Lock()
        n = self.node
        n.create_subscription(Clock, "/clock", self._on_clock, QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        n.create_subscription(Odometry, "odom", self._on_odom, SENSOR_QOS)
        n.create_subscription(RobotStatus, "robot/status", self._set("status"), LATCHED_QOS)
        n.create_subscription(Alert, "alerts", self._append("alerts"), ALERTS_QOS)
        n.create_subscription(Alert, "alerts/stored", self._append("stored"), ALERTS_QOS)
        n.create_subscription(Transcript, "speech/transcript", self._append("transcripts"), RELIABLE_QOS)
        n.create_subscription(Bool, "speech/speaking", self._append("speaking"), LATCHED_QOS)
        n.create_subscription(PersonArray, "perception/persons", self._on_persons, SENSOR_QOS)
        n.create_subscription(String, "navigator/task", self._append("tasks"), LATCHED_QOS)
        n.create_subscription(Image, "camera/image_raw", self._set("image"), SENSOR_QOS)
        n.create_subscription(Image, "perception/debug_image", self._set("debug_image"), SENSOR_QOS)
        n.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)
        self.control_pub = n.create_publisher(ToolCall, "sim/control", RELIABLE_QOS)
        self.estop_pub = n.create_publisher(Bool, "safety/estop", RELIABLE_QOS)
        self.navigate_client = ActionClient(n, NavigateTo, "navigate_to")
        self.nav_result = None
        self.ask_client = n.create_client(Ask, "brain/ask")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(n)
        self._thread = threading.Thread(target=self._spin, name="scenario-client", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:   # shutdown races end the loop quietly
                if not self.context.ok():
                    return

    # ------------------------------------------------------------------ callbacks
    def _on_clock(self, msg: Clock) -> None:
        self.state.sim_time = _seconds(msg.clock)

    def _on_odom(self, msg: Odometry) -> None:
        yaw = yaw_of(msg.pose.pose.orientation)
        x, y = msg.pose.pose.position.x, msg.pose.pose.position.y
        t = _seconds(msg.header.stamp)
        with self.lock:
            self.state.pose = (x, y, yaw)
            self.state.speed = (msg.twist.twist.linear.x, msg.twist.twist.angular.z)
            if not self.state.path or t - self.state.path[-1][0] >= 0.1:
                self.state.path.append((t, x, y))

    def _on_persons(self, msg: PersonArray) -> None:
        with self.lock:
            self.state.persons = Received(self.state.sim_time, msg)
            self.state.persons_seen += 1
            if len(self.state.persons_history) < 20000:
                self.state.persons_history.append((_seconds(msg.header.stamp), [
                    (p.track_id, p.state, round(p.score, 3), round(p.fall_score, 3), round(p.seconds_down, 2))
                    for p in msg.persons]))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self.lock:
            for status in msg.status:
                level = status.level[0] if isinstance(status.level, (bytes, bytearray)) else int(status.level)
                self.state.diagnostics[status.name] = (level, status.message,
                                                       {kv.key: kv.value for kv in status.values}, time.monotonic())

    def _set(self, attr: str):
        def callback(msg) -> None:
            setattr(self.state, attr, msg)
        return callback

    def _append(self, attr: str):
        def callback(msg) -> None:
            with self.lock:
                getattr(self.state, attr).append(Received(self.state.sim_time, msg))
        return callback

    # ------------------------------------------------------------------ commands
    def control(self, tool: str, **args: object) -> float:
        """Publish a sim/control command; returns the sim time it was sent at."""
        self.control_pub.publish(ToolCall(tool=tool, args=[KeyValue(key=k, value=str(v)) for k, v in args.items()]))
        return self.state.sim_time

    def estop(self, engaged: bool = True) -> float:
        self.estop_pub.publish(Bool(data=engaged))
        return self.state.sim_time

    def navigate(self, place: str, wait_s: float = 10.0) -> bool:
        """Send a NavigateTo goal (result lands in ``nav_result``); False if no server."""
        if not self.navigate_client.wait_for_server(timeout_sec=wait_s):
            return False
        future = self.navigate_client.send_goal_async(NavigateTo.Goal(place=place))

        def on_goal(done) -> None:
            handle = done.result()
            if handle is not None and handle.accepted:
                handle.get_result_async().add_done_callback(
                    lambda res: setattr(self, "nav_result", res.result().result))
            else:
                self.nav_result = "rejected"
        future.add_done_callback(on_goal)
        return True

    def ask(self, text: str, timeout_s: float = 60.0):
        """brain/ask with execute=false (plan only, nothing moves); the response or None."""
        if not self.ask_client.wait_for_service(timeout_sec=10.0):
            return None
        future = self.ask_client.call_async(Ask.Request(text=text, execute=False))
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        return future.result() if done.wait(timeout_s) else None

    def tasks_since(self, sim_time: float) -> list[str]:
        """Navigation tasks (e.g. 'navigate:kitchen') started at or after sim_time."""
        with self.lock:
            return [r.msg.data for r in self.state.tasks if r.msg.data and r.sim_time >= sim_time]

    def speaking_now(self) -> bool:
        with self.lock:
            return bool(self.state.speaking) and bool(self.state.speaking[-1].msg.data)

    # ------------------------------------------------------------------ queries
    def alerts(self, kind: int | None = None, state: int | None = None) -> list[Received]:
        with self.lock:
            return [a for a in self.state.alerts if (kind is None or a.msg.kind == kind)
                    and (state is None or a.msg.state == state)]

    def stored_alerts(self, kind: int | None = None) -> list[Received]:
        """Alerts the dashboard has confirmed it stored (its receipts), in arrival order."""
        with self.lock:
            return [a for a in self.state.stored if kind is None or a.msg.kind == kind]

    def transcripts(self) -> list[Received]:
        with self.lock:
            return list(self.state.transcripts)

    def spoke_since(self, sim_time: float) -> bool:
        with self.lock:
            return any(r.msg.data and r.sim_time >= sim_time for r in self.state.speaking)

    def distance_to(self, x: float, y: float) -> float:
        pose = self.state.pose
        return math.inf if pose is None else math.hypot(pose[0] - x, pose[1] - y)

    def close(self) -> None:
        try:
            self.node.destroy_node()
        finally:
            if self.context.ok():
                rclpy.shutdown(context=self.context)
        self._thread.join(timeout=2.0)
