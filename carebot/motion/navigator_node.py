"""The navigator node: NavigateTo action server (thin adapter of ``Navigator``).

Goals name a place of the site (``models/worlds/<site>.yaml``, names or aliases) or give a
map-frame pose. Publishes ``cmd_vel_nav`` (to base_safety, which has the last word),
``navigator/path`` (latched nav_msgs/Path) and ``navigator/task`` (latched String).
Subscribes ``odom`` (the robot's pose: in the simulation odometry is the ground-truth pose
in the map frame; on a robot a localiser must publish map-frame odometry), ``scan``
(obstacle stop and re-planning), ``robot/status`` (an engaged e-stop aborts the goal) and
``joint_states`` (is the arm tucked?). The robot drives with the arm tucked: before a goal
and before any turn in place with the arm out, the navigator asks arm_head for the ``rest``
gesture (``gesture`` action client) and waits for it; base_safety holds turns in place
with the arm out in any case.
One goal at a time: a new goal preempts the running one (result CANCELED).
"""
from __future__ import annotations

import sys
import math
import threading
import time

import numpy as np
import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry, Path
from sensor_msgs.msg import JointState, LaserScan
from std_msgs.msg import String

from carebot_interfaces.action import Gesture, NavigateTo
from carebot_interfaces.msg import RobotStatus

from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.motion import scan as scanlib
from carebot.motion.arm_guard import ArmFootprint, in_place_turn
from carebot.frames import finite, set_yaw, yaw_of
from carebot.motion.navigation import NavError, Navigator, NavState
from carebot.motion.parameters import NAVIGATOR
from carebot.motion.planner import CostMap
from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS, ActionClient, LatestMessage, declare_table
from carebot.world import load_world
from carebot.node_runner import run_node

ODOM_STALE_S = 1.0           # s: older odometry pauses the robot
JOINTS_FRESH_S = 1.0         # s: older joint_states do not tell whether the arm is tucked
JOINTS_WAIT_S = 2.0          # s a tuck check waits for joint_states before giving up
GESTURE_SERVER_WAIT_S = 2.0  # s to find arm_head's gesture action
FEEDBACK_PERIOD_S = 0.2
# Odometry (50 Hz) and joint states since the last look: a scan is placed with the pose that
# arrived nearest to it, and joint states of several publishers all count.
SINCE_LAST_LOOK_QOS = QoSProfile(depth=32, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)


class NavigatorNode(Node):
    def __init__(self) -> None:
        super().__init__("navigator")
        settings = declare_table(self, NAVIGATOR)      # ParameterError (a ValueError) stops the start
        site = settings.site
        self.world = load_world(site)
        self.pursuit, self.nav_config, planner_config = settings.pursuit, settings.navigation, settings.planner
        self.rate = settings.control_rate_hz
        self.odom_wait = settings.odom_wait
        self.laser_xy = settings.laser_xy
        self.self_radius = settings.self_filter_radius
        self.tuck_timeout = settings.tuck_timeout
        started = time.perf_counter()
        self.arm_footprint = ArmFootprint(footprint_radius=planner_config.robot_radius)
        self.costmap = CostMap.from_world(self.world, planner_config)
        self.static_map = scanlib.StaticMap(self.world)
        self.get_logger().info(f"site {site}: {len(self.world.places)} places, costmap {self.costmap.shape} "
                               f"in {time.perf_counter() - started:.2f} s")

        self._lock = threading.Lock()
        self._pose: tuple[float, float, float] | None = None
        self._pose_stamp = -math.inf
        self._obstacles = np.zeros((0, 2))
        self._estop = False
        self._joints: dict[str, float] = {}
        self._joints_stamp = -math.inf
        self._current = None                          # goal handle being executed
        self._goals = 0
        self._last_result = ""
        sensors = MutuallyExclusiveCallbackGroup()
        # Odometry, lidar and joint states are taken when the node looks (each control step of a
        # goal, a tuck check, diagnostics): a navigator without a goal must not wake for 100+
        # messages a second (docs/budget.md).
        self.odom = LatestMessage(self, Odometry, "odom", SINCE_LAST_LOOK_QOS)
        self.scans = LatestMessage(self, LaserScan, "scan")
        self.joint_states = LatestMessage(self, JointState, "joint_states", SINCE_LAST_LOOK_QOS)
        self.create_subscription(RobotStatus, "robot/status", self._on_status, LATCHED_QOS, callback_group=sensors)
        self.gesture_client = ActionClient(self, Gesture, "gesture", callback_group=ReentrantCallbackGroup())
        self.cmd_pub = self.create_publisher(Twist, "cmd_vel_nav", RELIABLE_QOS)
        self.path_pub = self.create_publisher(Path, "navigator/path", LATCHED_QOS)
        self.task_pub = self.create_publisher(String, "navigator/task", LATCHED_QOS)
        self.task_pub.publish(String(data=""))
        self._server = ActionServer(self, NavigateTo, "navigate_to", execute_callback=self._execute,
                                    goal_callback=lambda goal: GoalResponse.ACCEPT,
                                    handle_accepted_callback=self._on_accepted,
                                    cancel_callback=lambda handle: CancelResponse.ACCEPT,
                                    callback_group=ReentrantCallbackGroup())
        self.diagnostics = DiagnosticsPublisher(self)
        self.health = HealthReport("carebot/navigator")
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics, callback_group=sensors)

    # --- sensors -------------------------------------------------------------------
    def _look(self) -> None:
        """Take the odometry, joint states and newest scan that arrived since the last look."""
        with self._lock:
            now, wall = self._now(), time.monotonic()
            poses = []
            for msg, received in self.odom.take_all():
                p = msg.pose.pose
                yaw = yaw_of(p.orientation)
                if finite(p.position.x, p.position.y, yaw):
                    # Its arrival on the node's clock (sim time in the simulation), as the staleness
                    # check reads it; a message waited at most one control step (50 ms) to be taken.
                    poses.append((received, now - (wall - received), (p.position.x, p.position.y, yaw)))
            if poses:
                _, self._pose_stamp, self._pose = poses[-1]
            for msg, received in self.joint_states.take_all():
                for name, position in zip(msg.name, msg.position):
                    self._joints[name] = position
                self._joints_stamp = received
            scan = self.scans.take()
            if scan is not None and self._pose is not None:
                # The pose that arrived nearest the scan, not one that came a step later.
                arrived = self.scans.received_at
                pose = min(poses, key=lambda p: abs(p[0] - arrived))[2] if poses else self._pose
                points, _ = scanlib.scan_to_points(scan.ranges, scan.angle_min, scan.angle_increment,
                                                   scan.range_min, scan.range_max, self.laser_xy, 0.0,
                                                   self.self_radius)
                self._obstacles = scanlib.to_map(points, pose)

    def _on_status(self, msg: RobotStatus) -> None:
        self._estop = bool(msg.emergency_stop)

    # --- the arm -------------------------------------------------------------------
    def _arm_tucked(self) -> bool | None:
        """True/False from fresh joint_states; None when there are none."""
        self._look()
        with self._lock:
            if time.monotonic() - self._joints_stamp > JOINTS_FRESH_S:
                return None
            joints = dict(self._joints)
        return self.arm_footprint.tucked(joints)

    def _ensure_tucked(self, handle) -> tuple[NavError, str] | None:
        """Tuck the arm (arm_head's ``rest``) unless it is tucked; None when it is, else why not."""
        deadline = time.monotonic() + JOINTS_WAIT_S
        tucked = self._arm_tucked()
        while tucked is None and time.monotonic() < deadline:
            time.sleep(0.05)
            tucked = self._arm_tucked()
        if tucked:
            return None
        if tucked is None:
            return NavError.BLOCKED, "no joint_states: cannot tell whether the arm is tucked"
        if not self.gesture_client.wait_for_server(timeout_sec=GESTURE_SERVER_WAIT_S):
            return NavError.BLOCKED, "the arm is out and arm_head (gesture action) is not there to tuck it"
        self.get_logger().info("arm out: asking arm_head to tuck it before driving")
        self._stop()
        sent = self.gesture_client.send_goal_async(Gesture.Goal(name="rest"))
        deadline = time.monotonic() + self.tuck_timeout
        result = None
        while time.monotonic() < deadline:
            if handle.is_cancel_requested:
                return NavError.CANCELED, "canceled by the client"
            if self._current is not handle:
                return NavError.CANCELED, "preempted by a new goal"
            if self._estop:
                return NavError.EMERGENCY_STOP, "emergency stop engaged"
            if result is None and sent.done():
                goal = sent.result()
                if goal is None or not goal.accepted:
                    return NavError.BLOCKED, "arm_head refused to tuck the arm"
                result = goal.get_result_async()
            if result is not None and result.done():
                answer = result.result().result
                if not answer.success:
                    return NavError.BLOCKED, f"the arm could not be tucked: {answer.message}"
                if self._arm_tucked():
                    return None
            time.sleep(0.05)
        return NavError.BLOCKED, f"the arm was not tucked within {self.tuck_timeout:.0f} s"

    # --- goals ---------------------------------------------------------------------
    def _on_accepted(self, handle) -> None:
        # The newest goal wins; the running loop sees it is no longer current and stops.
        self._current = handle
        handle.execute()

    def _resolve(self, goal) -> tuple[tuple[float, float, float | None] | None, str, str]:
        """(goal pose, task name, error message)."""
        if goal.place.strip():
            place = self.world.place_named(goal.place)
            if place is None:
                known = ", ".join(sorted(self.world.places))
                return None, "", f"unknown place {goal.place!r}; known: {known}"
            return (place.x, place.y, place.yaw), f"navigate:{place.name}", ""
        pose = goal.target.pose
        frame = goal.target.header.frame_id
        if frame not in ("", "map"):
            return None, "", f"target frame {frame!r} not supported: give map-frame poses"
        if not finite(pose.position.x, pose.position.y):
            return None, "", "target position is not finite"
        q = pose.orientation
        has_yaw = any(abs(v) > 1e-9 for v in (q.x, q.y, q.z, q.w)) and finite(q.x, q.y, q.z, q.w)
        yaw = yaw_of(q) if has_yaw else None
        return (pose.position.x, pose.position.y, yaw), f"navigate:({pose.position.x:.1f}, {pose.position.y:.1f})", ""

    def _result(self, handle, error: NavError, message: str):
        result = NavigateTo.Result()
        result.success = error is NavError.NONE
        result.error_code = int(error)
        result.message = message
        self._last_result = f"{error.name}: {message}"
        self.get_logger().info(f"goal finished: {error.name} ({message})")
        if error is NavError.NONE:
            handle.succeed()
        elif error is NavError.CANCELED and handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.abort()
        return result

    def _stop(self) -> None:
        self.cmd_pub.publish(Twist())

    def _execute(self, handle):
        try:
            return self._execute_goal(handle)
        finally:
            if self._current is handle:
                self._current = None

    def _execute_goal(self, handle):
        self._goals += 1
        goal_pose, task, error = self._resolve(handle.request)
        if goal_pose is None:
            return self._result(handle, NavError.UNKNOWN_PLACE, error)
        if self._estop:
            return self._result(handle, NavError.EMERGENCY_STOP, "emergency stop engaged: reset it first")
        deadline = time.monotonic() + self.odom_wait
        self._look()
        while self._pose is None and time.monotonic() < deadline:
            time.sleep(0.05)
            self._look()
        if self._pose is None:
            return self._result(handle, NavError.TIMEOUT, "no odometry: the robot's pose is unknown")
        untucked = self._ensure_tucked(handle)
        if untucked is not None:
            return self._result(handle, *untucked)
        max_speed = float(handle.request.max_speed)
        max_speed = min(max_speed, self.pursuit.max_linear) if math.isfinite(max_speed) and max_speed > 0 else 0.0
        navigator = Navigator(self.costmap, self.pursuit, self.nav_config, self.static_map)
        self.get_logger().info(f"goal: {task} from ({self._pose[0]:.2f}, {self._pose[1]:.2f})")
        step = navigator.start(goal_pose, self._pose, self._now(), max_speed)
        if step.finished:
            return self._result(handle, step.error, step.message)
        self._publish_path(navigator.path)
        self.task_pub.publish(String(data=task))
        try:
            return self._drive(handle, navigator)
        finally:
            self._stop()
            if self._current is handle:
                self.task_pub.publish(String(data=""))

    def _drive(self, handle, navigator: Navigator):
        period = 1.0 / self.rate
        last_feedback = 0.0
        path = navigator.path
        while rclpy.ok():
            tick = time.monotonic()                  # wall time paces the loop ...
            now = self._now()                        # ... the node's clock (sim time) judges progress
            if handle.is_cancel_requested:
                navigator.cancel()
                return self._result(handle, NavError.CANCELED, "canceled by the client")
            if self._current is not handle:
                return self._result(handle, NavError.CANCELED, "preempted by a new goal")
            if self._estop:
                return self._result(handle, NavError.EMERGENCY_STOP, "emergency stop engaged")
            self._look()
            with self._lock:
                pose, stamp, obstacles = self._pose, self._pose_stamp, self._obstacles
            if now - stamp > ODOM_STALE_S:
                self._stop()                         # no pose: hold still (the goal timeout still runs)
                step = None
            else:
                step = navigator.step(pose, obstacles, now)
                if step.finished:
                    return self._result(handle, step.error, step.message)
                if in_place_turn(step.linear, step.angular, self.arm_footprint.footprint_radius) \
                        and not self._arm_tucked():
                    untucked = self._ensure_tucked(handle)      # a gesture put the arm out meanwhile
                    if untucked is not None:
                        return self._result(handle, *untucked)
                cmd = Twist()
                cmd.linear.x, cmd.angular.z = step.linear, step.angular
                self.cmd_pub.publish(cmd)
                if navigator.path is not path:
                    path = navigator.path
                    self._publish_path(path)
            if tick - last_feedback >= FEEDBACK_PERIOD_S and pose is not None:
                last_feedback = tick
                feedback = NavigateTo.Feedback()
                feedback.pose.x, feedback.pose.y, feedback.pose.theta = pose
                feedback.distance_remaining = float(step.remaining) if step else 0.0
                feedback.state = (step.state.value if step else NavState.WAITING.value)
                handle.publish_feedback(feedback)
            time.sleep(max(period - (time.monotonic() - tick), 0.0))
        return self._result(handle, NavError.CANCELED, "shutting down")

    def _now(self) -> float:
        """Seconds on the node's clock: sim time under use_sim_time, so a simulation that
        runs slower than real time (waiting for perception) does not look like a stall."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _publish_path(self, points) -> None:
        msg = Path()
        msg.header.frame_id = "map"
        msg.header.stamp = self.get_clock().now().to_msg()
        for x, y in points:
            pose = PoseStamped()
            pose.header.frame_id = "map"
            pose.pose.position.x, pose.pose.position.y = float(x), float(y)
            set_yaw(pose.pose.orientation, 0.0)
            msg.poses.append(pose)
        self.path_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        self._look()
        odom_age = self._now() - self._pose_stamp
        if odom_age > ODOM_STALE_S:
            self.health.set(Level.WARN, "no recent odometry", goals=self._goals, last=self._last_result)
        else:
            self.health.set(Level.OK, "navigating" if self._current is not None else "ready", goals=self._goals,
                            last=self._last_result)
        self.diagnostics.publish(self.health)


def main(args: list[str] | None = None) -> int:
    return run_node(NavigatorNode, name="navigator", threads=3, on_exit=NavigatorNode._stop, args=args)


if __name__ == "__main__":
    sys.exit(main())
