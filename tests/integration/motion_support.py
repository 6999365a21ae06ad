"""Helpers of the motion integration tests (not a test module): a ROS peer in the test process."""
from __future__ import annotations

import math
import os
import sys
import threading
import time

from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS

CMD_SOURCE = """
import sys, rclpy
from geometry_msgs.msg import Twist
from carebot.ros_common import RELIABLE_QOS
rclpy.init()
node = rclpy.create_node('test_cmd_source')
pub = node.create_publisher(Twist, sys.argv[1], RELIABLE_QOS)
msg = Twist(); msg.linear.x = float(sys.argv[2]); msg.angular.z = float(sys.argv[3])
node.create_timer(0.05, lambda: pub.publish(msg))
print('publishing', flush=True)
rclpy.spin(node)
"""


def cmd_source_args(topic: str, linear: float, angular: float = 0.0) -> list[str]:
    """A separate process that publishes one Twist at 20 Hz until killed."""
    return [sys.executable, "-c", CMD_SOURCE, topic, str(linear), str(angular)]


class MotionPeer:
    """Publishes scan / odom / persons, records cmd_vel and robot/status, calls the e-stop services."""

    def __init__(self, env: dict[str, str]):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from geometry_msgs.msg import Twist
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import LaserScan
        from std_msgs.msg import Bool
        from std_srvs.srv import Trigger
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import JointState
        from carebot_interfaces.msg import PersonArray, RobotStatus
        from carebot_interfaces.srv import ResetEstop
        from carebot.motion.gestures import REST_ARM

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("motion_test_peer", context=self.context)
        self.lock = threading.Lock()
        self.cmd: list[tuple[float, float, float]] = []          # (arrival, linear, angular)
        self.nav_seen: list[float] = []                          # arrivals of cmd_vel_nav
        self.status = None
        self.statuses = []
        self.odom_stamp: tuple[int, int] | None = None            # (sec, nanosec) the odometry carries
        n = self.node
        n.create_subscription(Twist, "cmd_vel", self._on_cmd, RELIABLE_QOS)
        n.create_subscription(Twist, "cmd_vel_nav", lambda m: self.nav_seen.append(time.monotonic()), RELIABLE_QOS)
        n.create_subscription(RobotStatus, "robot/status", self._on_status, LATCHED_QOS)
        self.scan_pub = n.create_publisher(LaserScan, "scan", SENSOR_QOS)
        self.odom_pub = n.create_publisher(Odometry, "odom", SENSOR_QOS)
        self.persons_pub = n.create_publisher(PersonArray, "perception/persons", SENSOR_QOS)
        self.estop_pub = n.create_publisher(Bool, "safety/estop", RELIABLE_QOS)
        self.twist_pubs = {t: n.create_publisher(Twist, t, RELIABLE_QOS) for t in ("cmd_vel_nav", "cmd_vel_teleop")}
        self.trigger = n.create_client(Trigger, "safety/trigger_estop")
        self.reset = n.create_client(Trigger, "safety/reset_estop")
        self.reset_with_reason = n.create_client(ResetEstop, "safety/reset_estop_with_reason")
        self.ResetEstop = ResetEstop
        self.diagnostics: dict[str, object] = {}                 # status name -> latest DiagnosticStatus
        n.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.joint_pub = n.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.JointState = JointState
        self.arm = dict(REST_ARM)        # joint positions published at 20 Hz; None: no joint_states
        self.scan_range = 6.0            # m, a ring of returns around the robot; None: no scans
        self.scan_ranges = None          # a list of 360 ranges (beam 180 straight ahead) instead of the ring
        self.persons: list[tuple[float, float]] = []
        self.twists: dict[str, tuple[float, float]] = {}
        self._msgs = (LaserScan, PersonArray, Twist, Bool, Trigger)
        from carebot_interfaces.action import NavigateTo
        from carebot.ros_common import ActionClient
        self.navigate = ActionClient(n, NavigateTo, "navigate_to")
        self.NavigateTo = NavigateTo
        self.pose: list[float] | None = None     # set: the peer drives a kinematic base from cmd_vel
        self.feedback = []
        n.create_timer(0.1, self._publish_sensors)
        n.create_timer(0.02, self._integrate)
        n.create_timer(0.05, self._publish_twists)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(n)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def _on_cmd(self, msg) -> None:
        with self.lock:
            self.cmd.append((time.monotonic(), msg.linear.x, msg.angular.z))

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            self.diagnostics[status.name] = status

    def diagnostic(self, name: str = "carebot/base_safety"):
        """(level, message, {key: value}) of a node's latest diagnostics, or None."""
        status = self.diagnostics.get(name)
        if status is None:
            return None
        return status.level[0] if isinstance(status.level, bytes) else status.level, status.message, \
            {kv.key: kv.value for kv in status.values}

    def _on_status(self, msg) -> None:
        self.status = msg
        self.statuses.append(msg)

    def _integrate(self) -> None:
        """A kinematic stand-in for the base: follows cmd_vel exactly, publishes map-frame odom."""
        if self.pose is None:
            return
        last = self.last_cmd()
        lin, ang = (last[1], last[2]) if last and time.monotonic() - last[0] < 0.5 else (0.0, 0.0)
        dt = 0.02
        self.pose[2] += ang * dt
        self.pose[0] += lin * math.cos(self.pose[2]) * dt
        self.pose[1] += lin * math.sin(self.pose[2]) * dt
        from nav_msgs.msg import Odometry
        msg = Odometry()
        msg.header.frame_id, msg.child_frame_id = "map", "base_link"
        msg.pose.pose.position.x, msg.pose.pose.position.y = self.pose[0], self.pose[1]
        orientation = msg.pose.pose.orientation
        orientation.z, orientation.w = math.sin(self.pose[2] / 2), math.cos(self.pose[2] / 2)
        msg.twist.twist.linear.x, msg.twist.twist.angular.z = lin, ang
        if self.odom_stamp is not None:
            msg.header.stamp.sec, msg.header.stamp.nanosec = self.odom_stamp
        self.odom_pub.publish(msg)

    def send_goal(self, place: str = "", xy=None, timeout: float = 10.0):
        """Send a NavigateTo goal; returns (goal handle, result future)."""
        if not self.navigate.wait_for_server(timeout_sec=timeout):
            raise TimeoutError("navigate_to server not available")
        goal = self.NavigateTo.Goal()
        goal.place = place
        if xy is not None:
            goal.target.header.frame_id = "map"
            goal.target.pose.position.x, goal.target.pose.position.y = float(xy[0]), float(xy[1])
        future = self.navigate.send_goal_async(goal, feedback_callback=lambda fb: self.feedback.append(fb.feedback))
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        handle = future.result() if future.done() else None
        if handle is None:
            raise TimeoutError(f"no answer to the NavigateTo goal {place or xy!r} in {timeout:.0f} s")
        return handle, handle.get_result_async()

    def handshake(self, attempts: int = 5) -> None:
        """Send goals to a place that does not exist until one is answered.

        The action server can be seen before it has seen this client's response reader; a goal
        sent in that moment is accepted but its answer is lost in DDS (a CI run's first goal
        went unanswered for 10 s). A goal to no known place is refused at once and moves
        nothing, so it is a safe way to wait until the answers get through.
        """
        for _ in range(attempts):
            try:
                _, result = self.send_goal("no such place (handshake)", timeout=3.0)
            except TimeoutError:
                continue
            if self.wait(result, 10.0) is not None:
                return
        raise TimeoutError(f"the navigator answered none of {attempts} goals")

    @staticmethod
    def wait(future, timeout: float):
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        return future.result() if future.done() else None

    def _publish_sensors(self) -> None:
        LaserScan, PersonArray = self._msgs[0], self._msgs[1]
        if self.scan_range is not None:
            scan = LaserScan()
            scan.header.frame_id = "laser"
            scan.angle_min, scan.angle_increment = -math.pi, 2 * math.pi / 360
            scan.angle_max = scan.angle_min + 359 * scan.angle_increment
            scan.range_min, scan.range_max = 0.1, 12.0
            ranges = self.scan_ranges if self.scan_ranges is not None else [self.scan_range] * 360
            scan.ranges = [float(r) for r in ranges]
            self.scan_pub.publish(scan)
        if self.arm is not None:
            joints = dict(self.arm)
            self.joint_pub.publish(self.JointState(name=list(joints), position=[float(v) for v in joints.values()]))
        from carebot_interfaces.msg import Person
        arr = PersonArray()
        arr.header.frame_id = "base_link"
        for x, y in self.persons:
            p = Person()
            p.has_position = True
            p.position.x, p.position.y = float(x), float(y)
            arr.persons.append(p)
        self.persons_pub.publish(arr)

    def _publish_twists(self) -> None:
        Twist = self._msgs[2]
        for topic, (lin, ang) in list(self.twists.items()):
            msg = Twist()
            msg.linear.x, msg.angular.z = lin, ang
            self.twist_pubs[topic].publish(msg)

    def publish_estop(self, value: bool) -> None:
        self.estop_pub.publish(self._msgs[3](data=value))

    def call(self, client, timeout: float = 5.0, request=None):
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f"service {client.srv_name} not available")
        future = client.call_async(self._msgs[4].Request() if request is None else request)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        return future.result()

    def last_cmd(self):
        with self.lock:
            return self.cmd[-1] if self.cmd else None

    def cmds_since(self, t: float):
        with self.lock:
            return [c for c in self.cmd if c[0] >= t]

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        import rclpy
        rclpy.shutdown(context=self.context)


def serve_gestures(peer: MotionPeer) -> list[str]:
    """A stand-in for arm_head's gesture action in the peer: ``rest`` folds the arm at once.
    Returns the list the names of received goals are appended to."""
    from rclpy.action import ActionServer
    from carebot_interfaces.action import Gesture
    from carebot.motion.gestures import REST_ARM

    received: list[str] = []

    def execute(handle):
        received.append(handle.request.name)
        if handle.request.name == "rest":
            peer.arm = dict(REST_ARM)
        handle.succeed()
        return Gesture.Result(success=True, message=f"{handle.request.name} done")

    peer.gesture_server = ActionServer(peer.node, Gesture, "gesture", execute_callback=execute)
    return received
