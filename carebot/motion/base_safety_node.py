"""The base safety node: the only publisher of ``cmd_vel`` (thin adapter of ``SafetyLayer``).

Subscribes ``cmd_vel_teleop`` and ``cmd_vel_nav`` (priorities: safety > teleop > navigation),
``scan``, ``perception/persons``, ``odom``, ``safety/estop``, and the task names latched on
``navigator/task`` and ``arm_head/task``. Serves ``safety/trigger_estop`` and
``safety/reset_estop``; publishes ``cmd_vel`` at the control rate and ``robot/status``
(latched). Watchdogs run on the steady clock, so a stalled ``/clock`` cannot stretch them.
"""
from __future__ import annotations

import sys
import math
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import LaserScan
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from carebot_interfaces.msg import PersonArray, RobotStatus

from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.motion import description as desc
from carebot.motion import scan as scanlib
from carebot.motion.ros_common import (BASE_FRAMES, COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS, declare_float,
                                       declare_value, finite, reject_unknown_parameters, yaw_of)
from carebot.motion.safety import Mode, SafetyConfig, SafetyLayer, Source
from carebot.world import WorldError, load_world
from carebot.node_runner import run_node

ODOM_FRESH_S = 0.5           # s: older odometry is not used to place returns on the map


class BaseSafetyNode(Node):
    def __init__(self) -> None:
        super().__init__("base_safety")
        defaults = SafetyConfig()
        f = lambda name, desc_, lo, hi: declare_float(self, name, getattr(defaults, name), desc_, lo, hi)  # noqa: E731
        config = SafetyConfig(
            max_linear_speed=f("max_linear_speed", "forward speed limit, m/s", 0.05, 2.0),
            max_reverse_speed=f("max_reverse_speed", "reverse speed limit, m/s", 0.0, 1.0),
            max_angular_speed=f("max_angular_speed", "turn rate limit, rad/s", 0.1, 3.0),
            max_linear_accel=f("max_linear_accel", "speeding-up limit, m/s^2", 0.05, 3.0),
            max_linear_decel=f("max_linear_decel", "ordinary slow-down limit, m/s^2", 0.05, 5.0),
            max_angular_accel=f("max_angular_accel", "turn-rate change limit, rad/s^2", 0.1, 10.0),
            cmd_timeout=f("cmd_timeout", "s without a command from the followed source before the base stops",
                          0.05, 2.0),
            scan_timeout=f("scan_timeout", "s without a lidar scan before the base stops", 0.05, 2.0),
            persons_timeout=f("persons_timeout", "s a person detection stays valid", 0.1, 5.0),
            person_slow_radius=f("person_slow_radius", "m from the robot's edge where people slow it down",
                                 0.5, 5.0),
            person_slow_speed=f("person_slow_speed", "speed limit near people, m/s (<= 0.3)", 0.0, 0.3),
            person_slow_angular=f("person_slow_angular", "turn-rate limit near people, rad/s", 0.1, 3.0),
            person_radius=f("person_radius", "m, a person as a disc around the reported position", 0.05, 1.0),
            person_stop_margin=f("person_stop_margin", "m kept free around people beyond stop_margin", 0.0, 1.5),
            footprint_radius=f("footprint_radius", "robot radius, m (urdf/README.md)", 0.1, 1.0),
            side_margin=f("side_margin", "m added to the radius for the travel corridor", 0.0, 0.5),
            stop_margin=f("stop_margin", "m always kept between the robot and anything ahead", 0.02, 1.0),
            brake_decel=f("brake_decel", "deceleration the base surely brakes at, m/s^2", 0.1, 5.0),
            reaction_time=f("reaction_time", "s from a scan to braking wheels", 0.0, 1.0),
            absurd_linear_speed=f("absurd_linear_speed", "m/s above which a command is rejected", 0.5, 20.0),
            absurd_angular_speed=f("absurd_angular_speed", "rad/s above which a command is rejected", 0.5, 50.0),
        )
        self.layer = SafetyLayer(config)              # validates; ValueError stops the start
        rate = declare_float(self, "control_rate_hz", 20.0, "cmd_vel output rate, Hz", 5.0, 200.0)
        self._horizon = 1.5 / rate      # s: a command timing out before the next tick stops the base now
        status_rate = declare_float(self, "status_rate_hz", 2.0, "robot/status repeat rate, Hz", 0.2, 20.0)
        self.laser_xy = (declare_float(self, "laser_x", desc.LASER_X, "lidar x in the base frame, m", -1.0, 1.0),
                         declare_float(self, "laser_y", 0.0, "lidar y in the base frame, m", -1.0, 1.0))
        self.laser_yaw = declare_float(self, "laser_yaw", 0.0, "lidar yaw in the base frame, rad", -math.pi, math.pi)
        self.self_radius = declare_float(self, "self_filter_radius", desc.FOOTPRINT_RADIUS - 0.02,
                                         "m: returns this close to the base centre are the robot itself", 0.0, 1.0)
        site = str(declare_value(self, "site", "", "site whose static map tells walls from people; empty: none"))
        self.static_map = None
        if site:
            try:
                self.static_map = scanlib.StaticMap(load_world(site))
            except (WorldError, OSError) as exc:
                raise ValueError(f"site {site!r}: {exc}") from exc

        reject_unknown_parameters(self)
        group = MutuallyExclusiveCallbackGroup()      # one layer state, one writer at a time
        self.cmd_pub = self.create_publisher(Twist, "cmd_vel", RELIABLE_QOS)
        self.status_pub = self.create_publisher(RobotStatus, "robot/status", LATCHED_QOS)
        sub = self.create_subscription
        sub(Twist, "cmd_vel_nav", lambda m: self._on_cmd(Source.NAVIGATION, m), COMMAND_QOS, callback_group=group)
        sub(Twist, "cmd_vel_teleop", lambda m: self._on_cmd(Source.TELEOP, m), COMMAND_QOS, callback_group=group)
        sub(LaserScan, "scan", self._on_scan, SENSOR_QOS, callback_group=group)
        sub(PersonArray, "perception/persons", self._on_persons, SENSOR_QOS, callback_group=group)
        sub(Odometry, "odom", self._on_odom, SENSOR_QOS, callback_group=group)
        sub(Bool, "safety/estop", self._on_estop_topic, RELIABLE_QOS, callback_group=group)
        sub(String, "navigator/task", lambda m: self._on_task("navigator", m), LATCHED_QOS, callback_group=group)
        sub(String, "arm_head/task", lambda m: self._on_task("arm_head", m), LATCHED_QOS, callback_group=group)
        self.create_service(Trigger, "safety/trigger_estop", self._on_trigger, callback_group=group)
        self.create_service(Trigger, "safety/reset_estop", self._on_reset, callback_group=group)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(1.0 / rate, self._tick, callback_group=group, clock=steady)
        self.create_timer(1.0 / status_rate, self._publish_status, callback_group=group, clock=steady)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics, callback_group=group, clock=steady)
        self.diagnostics = DiagnosticsPublisher(self)
        self.health = HealthReport("carebot/base_safety")
        self._pose = (0.0, 0.0, 0.0)
        self._pose_stamp = -math.inf
        self._tasks = {"navigator": "", "arm_head": ""}
        self._last = None
        self._last_key = None
        self._rejections = 0
        self._persons_frame_warned = False
        self.get_logger().info(f"base safety up: max {config.max_linear_speed} m/s, timeout "
                               f"{config.cmd_timeout} s, slow {config.person_slow_speed} m/s within "
                               f"{config.person_slow_radius} m of people, map filter {'on' if site else 'off'}")

    # --- inputs ------------------------------------------------------------------
    def _on_cmd(self, source: Source, msg: Twist) -> None:
        reason = self.layer.command(source, msg.linear.x, msg.angular.z, time.monotonic())
        if reason:
            self._rejections += 1
            self.get_logger().warning(f"rejected {source.name.lower()} command: {reason}", throttle_duration_sec=2.0)
            self._tick()                              # stop now, not at the next tick

    def _on_scan(self, msg: LaserScan) -> None:
        points, index = scanlib.scan_to_points(msg.ranges, msg.angle_min, msg.angle_increment, msg.range_min,
                                               msg.range_max, self.laser_xy, self.laser_yaw, self.self_radius)
        now = time.monotonic()
        static = None
        if self.static_map is not None and now - self._pose_stamp <= ODOM_FRESH_S and len(points):
            static = self.static_map.near_static(scanlib.to_map(points, self._pose))
        self.layer.scan(points, now, index, static)

    def _on_persons(self, msg: PersonArray) -> None:
        frame = msg.header.frame_id
        if frame not in BASE_FRAMES:
            if not self._persons_frame_warned:
                self.get_logger().warning(f"perception/persons in frame {frame!r}, expected a base frame: ignored")
                self._persons_frame_warned = True
            return
        positions = [(p.position.x, p.position.y) for p in msg.persons if p.has_position]
        self.layer.persons(np.array(positions, dtype=float).reshape(-1, 2), time.monotonic())

    def _on_odom(self, msg: Odometry) -> None:
        p = msg.pose.pose
        yaw = yaw_of(p.orientation)
        if finite(p.position.x, p.position.y, yaw):
            self._pose = (p.position.x, p.position.y, yaw)
            self._pose_stamp = time.monotonic()

    def _on_task(self, who: str, msg: String) -> None:
        self._tasks[who] = msg.data

    def _engage(self, reason: str) -> None:
        if not self.layer.estop:
            self.get_logger().warning(f"EMERGENCY STOP engaged: {reason}")
        self.layer.trigger_estop(reason)
        self._tick()
        self._publish_status()

    def _on_estop_topic(self, msg: Bool) -> None:
        if msg.data:
            self._engage("safety/estop topic")
        elif self.layer.estop:
            self.get_logger().info("safety/estop false ignored: only safety/reset_estop clears the stop")

    def _on_trigger(self, request, response):
        self._engage("safety/trigger_estop service")
        response.success, response.message = True, "emergency stop engaged"
        return response

    def _on_reset(self, request, response):
        was_on = self.layer.reset_estop()
        if was_on:
            self.get_logger().info("emergency stop reset")
        response.success = True
        response.message = "emergency stop reset" if was_on else "emergency stop was not engaged"
        self._tick()
        self._publish_status()
        return response

    # --- outputs -----------------------------------------------------------------
    def _tick(self) -> None:
        out = self.layer.step(time.monotonic(), self._horizon)
        msg = Twist()
        msg.linear.x, msg.angular.z = out.linear, out.angular
        self.cmd_pub.publish(msg)
        self._last = out
        key = (out.mode, out.estop, out.stop_reason.split(":")[0].split(" (")[0], out.person_near)
        if key != self._last_key:
            self._last_key = key
            self.get_logger().info(f"mode {out.mode.name}, limit {out.speed_limit:.2f} m/s, "
                                   f"held: {out.stop_reason or 'no'}")
            self._publish_status()

    def _publish_status(self) -> None:
        out = self._last
        if out is None:
            return
        msg = RobotStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = "map"
        mode = out.mode
        if mode is Mode.IDLE and self._tasks["arm_head"]:
            mode = Mode.GESTURING
        msg.mode = int(mode)
        msg.current_task = self._tasks["navigator"] or self._tasks["arm_head"]
        msg.speed_limit = float(out.speed_limit)
        msg.emergency_stop = out.estop
        msg.stop_reason = out.stop_reason
        msg.pose.x, msg.pose.y, msg.pose.theta = self._pose
        msg.velocity.linear.x, msg.velocity.angular.z = out.linear, out.angular
        self.status_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        out = self._last
        if out is None:
            self.health.set(Level.STALE, "no control tick yet")
        elif out.estop:
            self.health.set(Level.WARN, "emergency stop engaged", reason=out.stop_reason)
        elif out.mode is Mode.FAULT:
            self.health.set(Level.ERROR, out.stop_reason)
        else:
            self.health.set(Level.OK, out.stop_reason or "ok", mode=out.mode.name, limit=f"{out.speed_limit:.2f}",
                            rejected_commands=self._rejections)
        self.diagnostics.publish(self.health)

    def stop_base(self) -> None:
        """Last words on shutdown: a zero command."""
        self.cmd_pub.publish(Twist())


def main(args: list[str] | None = None) -> int:
    return run_node(BaseSafetyNode, name="base_safety", threads=2, on_exit=BaseSafetyNode.stop_base, args=args)


if __name__ == "__main__":
    sys.exit(main())
