"""The base safety node: the only publisher of ``cmd_vel`` (thin adapter of ``SafetyLayer``).

Subscribes ``cmd_vel_teleop`` and ``cmd_vel_nav`` (priorities: safety > teleop > navigation),
``scan``, ``perception/persons``, ``odom``, ``joint_states`` (is the arm tucked?),
``safety/estop``, and the task names latched on ``navigator/task`` and ``arm_head/task``.
Serves ``safety/trigger_estop``, ``safety/reset_estop`` (std_srvs/Trigger: no who or why,
refused unless ``allow_anonymous_reset``) and ``safety/reset_estop_with_reason``
(carebot_interfaces/ResetEstop); publishes ``cmd_vel`` at the control rate (the rest rate once
the base stands without a command: ``tick_rate``) and ``robot/status`` (latched). Sensor streams
are taken by the tick (``ros_common.LatestMessage``), not one callback per message. Watchdogs
run on the steady clock, so a stalled ``/clock`` cannot stretch them; the node does not follow
``/clock`` at all (``bringup.NodeSpec.follows_sim_clock``): ``robot/status`` is stamped with the
newest odometry's stamp, the time of the pose it describes. The e-stop latch lives in
a state file (``carebot.motion.estop_store``): a restarted node starts latched when it was
latched, or when the file cannot be read.
"""
from __future__ import annotations

import sys
import math
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState, LaserScan
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from carebot_interfaces.msg import PersonArray, RobotStatus
from carebot_interfaces.srv import ResetEstop

from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.motion import estop_store
from carebot.motion import scan as scanlib
from carebot.motion.arm_guard import ArmFootprint
from carebot.motion.description import BASE_FRAMES
from carebot.motion.parameters import BASE_SAFETY
from carebot.motion.safety import Mode, SafetyLayer, Source
from carebot.motion.tick_rate import TickRate
from carebot.ros_common import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS, LatestMessage, declare_table
from carebot.frames import finite, yaw_of
from carebot.world import load_world
from carebot.node_runner import run_node

ODOM_FRESH_S = 0.5           # s: older odometry is not used to place returns on the map
# Odometry and joint states since the last tick: a scan is placed on the map with the pose that
# arrived nearest to it, not the newest one, and joint states from several publishers (arm, head)
# all count. Five cover a 20 Hz tick at 50-100 Hz; at the rest rate the base stands still, and
# every message kept is one more to deserialise (~50 us each).
SINCE_LAST_TICK_QOS = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
ANONYMOUS = "unknown (std_srvs/Trigger on safety/reset_estop)"


class BaseSafetyNode(Node):
    def __init__(self) -> None:
        super().__init__("base_safety")
        settings = declare_table(self, BASE_SAFETY)     # ParameterError (a ValueError) stops the start
        config = settings.safety
        self.layer = SafetyLayer(config)
        rate = settings.control_rate_hz
        self._horizon = 1.5 / rate      # s: a command timing out before the next tick stops the base now
        status_rate = settings.status_rate_hz
        self.laser_xy = settings.laser_xy
        self.laser_yaw = settings.laser_yaw
        self.self_radius = settings.self_filter_radius
        self.allow_anonymous_reset = settings.allow_anonymous_reset
        state_dir = settings.state_dir
        self.static_map = scanlib.StaticMap(load_world(settings.site)) if settings.site else None
        self.arm_footprint = ArmFootprint(footprint_radius=config.footprint_radius)
        self.latch = estop_store.PersistentLatch(estop_store.state_file(state_dir))
        for note in self.latch.open():
            self.get_logger().warning(note)
        if self.latch.latched:
            self.layer.trigger_estop(f"{self.latch.state.reason} (latched before this start)")
        group = MutuallyExclusiveCallbackGroup()      # one layer state, one writer at a time
        self.cmd_pub = self.create_publisher(Twist, "cmd_vel", RELIABLE_QOS)
        self.status_pub = self.create_publisher(RobotStatus, "robot/status", LATCHED_QOS)
        sub = self.create_subscription
        sub(Twist, "cmd_vel_nav", lambda m: self._on_cmd(Source.NAVIGATION, m), COMMAND_QOS, callback_group=group)
        sub(Twist, "cmd_vel_teleop", lambda m: self._on_cmd(Source.TELEOP, m), COMMAND_QOS, callback_group=group)
        # Sensor streams (lidar 10 Hz, odometry and joint states 50 Hz) are taken by the tick, newest
        # first, instead of waking the executor for every message (docs/budget.md): the command the
        # tick publishes is the same, as each scan used to wait for the next tick to take effect, and
        # a scan is still timed from its arrival (the DDS reception stamp).
        self.scans = LatestMessage(self, LaserScan, "scan")
        self.odom = LatestMessage(self, Odometry, "odom", SINCE_LAST_TICK_QOS)
        self.joint_states = LatestMessage(self, JointState, "joint_states", SINCE_LAST_TICK_QOS)
        self.persons = LatestMessage(self, PersonArray, "perception/persons")   # camera rate: taken at the tick too
        sub(Bool, "safety/estop", self._on_estop_topic, RELIABLE_QOS, callback_group=group)
        sub(String, "navigator/task", lambda m: self._on_task("navigator", m), LATCHED_QOS, callback_group=group)
        sub(String, "arm_head/task", lambda m: self._on_task("arm_head", m), LATCHED_QOS, callback_group=group)
        self.create_service(Trigger, "safety/trigger_estop", self._on_trigger, callback_group=group)
        self.create_service(Trigger, "safety/reset_estop", self._on_reset, callback_group=group)
        self.create_service(ResetEstop, "safety/reset_estop_with_reason", self._on_reset_with_reason,
                            callback_group=group)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.rate = TickRate(rate, settings.rest_rate_hz)
        self.tick_timer = self.create_timer(self.rate.period_s, self._on_timer, callback_group=group, clock=steady)
        # robot/status and /diagnostics repeat at the first tick they are due (status_rate_hz is at most
        # rest_rate_hz): two timers fewer, and every wake-up of a waiting node costs ~1 ms (docs/budget.md).
        self._repeats = {self._publish_status: 1.0 / status_rate, self._publish_diagnostics: DIAGNOSTICS_PERIOD_S}
        self._due = {publish: time.monotonic() + period for publish, period in self._repeats.items()}
        self.diagnostics = DiagnosticsPublisher(self)
        self.health = HealthReport("carebot/base_safety")
        self._pose = (0.0, 0.0, 0.0)
        self._pose_stamp = -math.inf
        self._odom_time = None          # header stamp of the newest odometry: robot/status' stamp
        self._tasks = {"navigator": "", "arm_head": ""}
        self._last = None
        self._last_key = None
        self._rejections = 0
        self._persons_frame_warned = False
        self._joints: dict[str, float] = {}
        self._arm_reach: float | None = None
        self.get_logger().info(f"base safety up: max {config.max_linear_speed} m/s, timeout "
                               f"{config.cmd_timeout} s, slow {config.person_slow_speed} m/s within "
                               f"{config.person_slow_radius} m of people, map filter {'on' if settings.site else 'off'}")

    # --- inputs ------------------------------------------------------------------
    def _on_cmd(self, source: Source, msg: Twist) -> None:
        reason = self.layer.command(source, msg.linear.x, msg.angular.z, time.monotonic())
        if reason:
            self._rejections += 1
            self.get_logger().warning(f"rejected {source.name.lower()} command: {reason}", throttle_duration_sec=2.0)
            self._tick()                              # stop now, not at the next tick
        elif self.rate.on_command():
            self._set_tick_period()                   # from rest: the control rate again ...
            self._tick()                              # ... and this command acted on now

    def _take_sensors(self) -> None:
        """Odometry, joint states, the newest scan and people since the last tick, into the layer."""
        odometry = self.odom.take_all()
        poses = [(received, pose) for msg, received in odometry if (pose := self._pose_of(msg)) is not None]
        if odometry and (stamp := odometry[-1][0].header.stamp).sec + stamp.nanosec > 0:   # zero: unstamped
            self._odom_time = stamp
        if poses:
            self._pose_stamp, self._pose = poses[-1]
        joint_states = self.joint_states.take_all()
        if joint_states:
            self._on_joints([msg for msg, _ in joint_states], joint_states[-1][1])
        if self.scans.take() is not None:
            # The pose that arrived nearest the scan (the newest may be a tick later).
            received = self.scans.received_at
            stamp, pose = min(poses, key=lambda p: abs(p[0] - received)) if poses else (self._pose_stamp, self._pose)
            self._on_scan(self.scans.message, received, pose, stamp)
        if self.persons.take() is not None:
            self._on_persons(self.persons.message, self.persons.received_at)

    def _on_scan(self, msg: LaserScan, received: float, pose: tuple[float, float, float], pose_stamp: float) -> None:
        reading = scanlib.read_scan(msg.ranges, msg.angle_min, msg.angle_increment, msg.range_min,
                                    msg.range_max, self.laser_xy, self.laser_yaw, self.self_radius)
        static = None
        if self.static_map is not None and abs(received - pose_stamp) <= ODOM_FRESH_S and len(reading.points):
            static = self.static_map.near_static(scanlib.to_map(reading.points, pose))
        self.layer.scan(reading.points, received, reading.index, static, reading.beams, reading.too_close)

    def _on_joints(self, messages: list[JointState], received: float) -> None:
        for msg in messages:
            for name, position in zip(msg.name, msg.position):
                self._joints[name] = position
        self._arm_reach = self.arm_footprint.reach(self._joints)
        self.layer.arm(self._arm_reach is not None and self._arm_reach <= self.arm_footprint.footprint_radius,
                       received)

    def _on_persons(self, msg: PersonArray, received: float) -> None:
        frame = msg.header.frame_id
        if frame not in BASE_FRAMES:
            if not self._persons_frame_warned:
                self.get_logger().warning(f"perception/persons in frame {frame!r}, expected a base frame: ignored")
                self._persons_frame_warned = True
            return
        positions = [(p.position.x, p.position.y) for p in msg.persons if p.has_position]
        self.layer.persons(np.array(positions, dtype=float).reshape(-1, 2), received)

    @staticmethod
    def _pose_of(msg: Odometry) -> tuple[float, float, float] | None:
        p = msg.pose.pose
        yaw = yaw_of(p.orientation)
        return (p.position.x, p.position.y, yaw) if finite(p.position.x, p.position.y, yaw) else None

    def _on_task(self, who: str, msg: String) -> None:
        self._tasks[who] = msg.data

    def _engage(self, reason: str) -> None:
        if not self.layer.estop:
            self.get_logger().warning(f"EMERGENCY STOP engaged: {reason}")
        self.layer.trigger_estop(reason)
        self._tick()                                  # stop first, then write the file
        error = self.latch.engage(reason)
        if error:
            self.get_logger().error(f"{error}: the stop holds now but would not survive a restart")
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
        if not self.allow_anonymous_reset:
            response.success = False
            response.message = ("refused: say who resets the emergency stop and why "
                                "(safety/reset_estop_with_reason); allow_anonymous_reset is false")
            self.get_logger().warning(f"safety/reset_estop {response.message}")
            return response
        response.success, _, response.message = self._reset(ANONYMOUS, "not given (std_srvs/Trigger)")
        return response

    def _on_reset_with_reason(self, request, response):
        response.success, response.was_engaged, response.message = self._reset(request.who, request.why)
        return response

    def _reset(self, who: str, why: str) -> tuple[bool, bool, str]:
        """(released, was engaged, message). The reset is written to the state file before the
        latch is cleared: a reset that cannot be recorded is refused."""
        was_on = self.layer.estop or self.latch.latched
        ok, message = self.latch.release(who, why)
        if not ok:
            self.get_logger().warning(f"emergency stop reset by {who or '?'} {message}")
            return False, was_on, message
        if was_on:
            self.layer.reset_estop()
            self.get_logger().warning(f"EMERGENCY STOP RESET: {message}")
        self._tick()
        self._publish_status()
        return True, was_on, message

    # --- outputs -----------------------------------------------------------------
    def _on_timer(self) -> None:
        self._tick()
        now = time.monotonic()
        if self.rate.after_tick(now, self._last.linear, self._last.angular, self._last.source is not None):
            self._set_tick_period()
        for publish, due in self._due.items():
            if now >= due:
                publish()
                self._due[publish] = max(due + self._repeats[publish], now)   # no burst after a stall

    def _set_tick_period(self) -> None:
        self.tick_timer.timer_period_ns = int(self.rate.period_s * 1e9)
        self.tick_timer.reset()                       # the next tick one new period from now
        self.get_logger().debug(f"control tick {'at rest' if self.rate.resting else 'active'}: "
                                f"{1.0 / self.rate.period_s:g} Hz")

    def _tick(self) -> None:
        self._take_sensors()
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
        # The robot's time (sim time in the simulation) without waking for /clock; the node's own
        # clock only before the first odometry.
        msg.header.stamp = self._odom_time if self._odom_time is not None else self.get_clock().now().to_msg()
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
        reset = self.latch.state.last_reset
        facts = {"estop_state_file": str(self.latch.path), "tick_hz": f"{1.0 / self.rate.period_s:g}",
                 "last_reset": f"{reset.who}: {reset.why} at {estop_store.utc(reset.at)}" if reset else "none",
                 "arm_reach": "unknown" if self._arm_reach is None else f"{self._arm_reach:.2f} m"}
        blind = self.layer.blind_directions() if out is not None and not out.lidar_fault else {}
        self.health.values.clear()                    # keys of an earlier state (a blind side) must not linger
        if out is None:
            self.health.set(Level.STALE, "no control tick yet", **facts)
        elif self.latch.write_error:
            # The latch cannot be kept across a restart: staff must know before they rely on it.
            self.health.set(Level.ERROR, self.latch.write_error, reason=out.stop_reason, **facts)
        elif out.lidar_fault:
            self.health.set(Level.ERROR, f"lidar fault: {out.lidar_fault}", reason=out.stop_reason, **facts)
        elif out.estop:
            self.health.set(Level.WARN, "emergency stop engaged", reason=out.stop_reason, **facts)
        elif out.mode is Mode.FAULT:
            self.health.set(Level.ERROR, out.stop_reason, **facts)
        elif blind or out.lidar_blind:
            message = out.lidar_blind or "; ".join(blind.values())
            self.health.set(Level.WARN, message, reason=out.stop_reason, **blind, **facts)
        else:
            self.health.set(Level.OK, out.stop_reason or "ok", mode=out.mode.name, limit=f"{out.speed_limit:.2f}",
                            rejected_commands=self._rejections, **facts)
        self.diagnostics.publish(self.health)

    def stop_base(self) -> None:
        """Last words on shutdown: a zero command."""
        self.cmd_pub.publish(Twist())


def main(args: list[str] | None = None) -> int:
    # One thread: every callback of the node is in one mutually exclusive group and none blocks
    # (a tick takes ~1 ms), so a pool would only add a hand-over per callback; rclpy's
    # single-threaded executor wakes about half as often (docs/budget.md).
    return run_node(BaseSafetyNode, name="base_safety", on_exit=BaseSafetyNode.stop_base, args=args)


if __name__ == "__main__":
    sys.exit(main())
