"""The simulation node: MuJoCo stands in for the robot and publishes what Gazebo
with ros_gz_bridge would (/clock, odom, joint_states, scan, camera/image_raw,
camera/camera_info) and takes cmd_vel and joint trajectories.

One loop thread owns the simulation (MuJoCo data and the OpenGL context of
the camera): subscriptions only queue commands, the loop applies them between
steps, so no lock guards MuJoCo state. The loop paces sim time at
``real_time_factor`` times wall time (0 = as fast as the CPU allows) and
reports the factor it achieves on /diagnostics.
"""
from __future__ import annotations

import math
import queue
import sys
import threading
import time
from pathlib import Path

import rclpy
from builtin_interfaces.msg import Time as TimeMsg
from carebot_interfaces.msg import AudioChunk, PersonArray, ToolCall
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, JointState, LaserScan
from trajectory_msgs.msg import JointTrajectory

from carebot.frames import fill_stamp, set_yaw
from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.paths import ROOT
from carebot.sim.actors import ActorError, Posture, load_actors
from carebot.sim.control import (ControlError, LockstepCommand, RobotCommand, SayCommand, Tool,
                                 parse_command)
from carebot.sim.engine import BasePose, Simulation
from carebot.sim.rates import Pacer, Schedule
from carebot.sim.robot import CameraSpec, read_description
from carebot.sim.sensors import CameraRenderer, gl_backend, intrinsics
from carebot.sim.trajectory import TrajectoryError, make_trajectory
from carebot.sim.voice import MicrophoneStream, synthesize_pcm
from carebot.world import load_world
from carebot.node_runner import run_node
from carebot.ros_common import AUDIO_QOS, RELIABLE_QOS, SENSOR_QOS, declare_table
from carebot.sim.parameters import SIM

BASE_LINK_HEIGHT_M = 0.08    # base_link sits on the wheel axle above base_footprint (urdf/README.md)
MAX_COMMANDS_PER_STEP = 50   # a flood of commands cannot stall the loop
SYNC_RESEND_S = 1.0          # lockstep: offer an unanswered frame again after this many wall seconds


def _stamp(seconds: float) -> TimeMsg:
    return fill_stamp(TimeMsg(), seconds)


class SimNode(Node):
    """MuJoCo simulation of a site with the robot and its people."""

    def __init__(self) -> None:
        super().__init__("sim")
        p = declare_table(self, SIM)     # ParameterError (a ValueError) stops the start
        world = load_world(p["world_file"] or p["site"])
        actors_file = Path(p["actors_file"]) if p["actors_file"] else ROOT / "models" / "actors" / f"{world.name}.yaml"
        actors = load_actors(actors_file) if actors_file.exists() else []
        description = read_description()
        urdf_cam = description.camera
        self.camera_spec = CameraSpec(p["camera_width"] or urdf_cam.width, p["camera_height"] or urdf_cam.height,
                                      urdf_cam.hfov, urdf_cam.near, urdf_cam.far,
                                      p["camera_rate_hz"] or urdf_cam.rate_hz)
        self.sim = Simulation(world, actors, description, self.camera_spec, robot_start=p["robot_start"],
                              lidar_noise=p["lidar_noise_m"], seed=p["seed"], timestep=p["timestep_s"])
        self.p = p
        self.frames = {k: p[k] for k in ("map_frame", "base_frame", "laser_frame", "camera_frame")}
        self.intrinsics = intrinsics(self.camera_spec)
        self._commands: queue.Queue = queue.Queue(maxsize=1000)
        self.mic = MicrophoneStream()
        self.health = HealthReport("carebot/sim")
        self._stats = {"camera_frames": 0, "rejected_commands": 0, "bumps": 0}
        self._render_s = 0.0

        self.clock_pub = self.create_publisher(ClockMsg, "/clock", RELIABLE_QOS)
        self.odom_pub = self.create_publisher(Odometry, "odom", SENSOR_QOS)
        self.joint_pub = self.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.scan_pub = self.create_publisher(LaserScan, "scan", SENSOR_QOS)
        self.image_pub = self.create_publisher(Image, "camera/image_raw", SENSOR_QOS)
        self.info_pub = self.create_publisher(CameraInfo, "camera/camera_info", SENSOR_QOS)
        self.audio_pub = self.create_publisher(AudioChunk, "speech/audio_in", AUDIO_QOS)
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, RELIABLE_QOS)
        self.create_subscription(JointTrajectory, "arm_controller/joint_trajectory", self._on_trajectory, RELIABLE_QOS)
        self.create_subscription(JointTrajectory, "head_controller/joint_trajectory", self._on_trajectory, RELIABLE_QOS)
        self.create_subscription(ToolCall, "sim/control", self._on_control, RELIABLE_QOS)
        self._last_frame_time: float | None = None     # sim time of the newest published camera frame
        self._last_frame: tuple[Image, CameraInfo] | None = None
        self._frame_wall = 0.0        # wall time the last frame went out
        self._answer_s = 0.0          # typical wall seconds until the consumer answers a frame
        self._processed_time = -math.inf                # newest frame time the sync consumer has answered
        self._sync_wait_s = 0.0
        self._sync_enabled = bool(p["sync_topic"])
        if p["sync_topic"]:
            self.create_subscription(PersonArray, p["sync_topic"], self._on_processed, SENSOR_QOS)
        # Wall-clock timer: the node's own clock must not wait for the /clock it publishes.
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_health, clock=Clock(clock_type=ClockType.STEADY_TIME))

        self._running = threading.Event()
        self._running.set()
        self._failed = ""
        self._loop = threading.Thread(target=self._run, name="sim-loop", daemon=True)
        self._loop.start()
        self.get_logger().info(
            f"simulating {world.name} with {len(actors)} people; robot at {self.sim.pose}; "
            f"camera {self.camera_spec.width}x{self.camera_spec.height} @ {self.camera_spec.rate_hz:g} Hz "
            f"({'on, ' + gl_backend() if p['camera_enabled'] else 'off'}); target real-time factor "
            f"{p['real_time_factor']:g}")

    # ------------------------------------------------------------------ callbacks (queue only)
    def _queue(self, item) -> None:
        try:
            self._commands.put_nowait(item)
        except queue.Full:
            self._stats["rejected_commands"] += 1
            self.get_logger().warning("command queue full: dropped a command", throttle_duration_sec=2.0)

    def _on_cmd_vel(self, msg: Twist) -> None:
        self._queue(("cmd_vel", msg.linear.x, msg.angular.z))

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        self._queue(("trajectory", msg))

    def _on_processed(self, msg: PersonArray) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self._processed_time = max(self._processed_time, stamp)

    def _on_control(self, msg: ToolCall) -> None:
        self._queue(("control", msg.tool, {kv.key: kv.value for kv in msg.args}))

    # ------------------------------------------------------------------ the loop
    def _apply(self, item) -> None:
        kind = item[0]
        sim = self.sim
        if kind == "cmd_vel":
            sim.set_base_command(item[1], item[2])
        elif kind == "trajectory":
            msg: JointTrajectory = item[1]
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            points = [(pt.time_from_start.sec + pt.time_from_start.nanosec * 1e-9, list(pt.positions))
                      for pt in msg.points]
            try:
                sim.follow(make_trajectory(list(msg.joint_names), points, stamp if stamp > 0 else sim.time,
                                           set(sim.joints.limits)))
            except TrajectoryError as exc:
                self._reject(f"joint trajectory rejected: {exc}")
        elif kind == "control":
            self._apply_control(item[1], item[2])

    def _apply_control(self, tool: str, args: dict[str, str]) -> None:
        sim = self.sim
        try:
            command = parse_command(tool, args, sim.world, set(sim.actors))
            if isinstance(command, SayCommand):
                duration = self.mic.queue(synthesize_pcm(command.text, command.language, command.rate_wpm))
                self.get_logger().info(f"t={sim.time:.2f} {command.actor or 'someone'} says "
                                       f"({command.language}, {duration:.1f} s): {command.text}")
                return
            if isinstance(command, LockstepCommand):
                if command.enabled and not self.p["sync_topic"]:
                    raise ControlError("lockstep needs the sync_topic parameter")
                self._sync_enabled = command.enabled
                self.get_logger().info(f"t={sim.time:.2f} lockstep {'on' if command.enabled else 'off'}")
                return
            if isinstance(command, RobotCommand):
                x, y, yaw = command.pose
                sim.pose = BasePose(x, y, yaw)
                sim.set_base_command(0.0, 0.0)
                self.get_logger().info(f"t={sim.time:.2f} robot placed at ({x:.2f}, {y:.2f}, {math.degrees(yaw):.0f} deg)")
                return
            actor = sim.actor(command.actor)
            if command.tool is Tool.FALL:
                actor.fall(sim.camera_xy())
            elif command.tool is Tool.STAND:
                actor.stand()
            elif command.tool is Tool.WALK:
                actor.walk(list(command.path))
            elif command.tool is Tool.PLACE:
                actor.stand()
                actor.x, actor.y, actor.yaw = command.pose
                actor.tilt = 0.0
                actor.posture = Posture.STANDING
            self.get_logger().info(f"t={sim.time:.2f} actor {actor.name}: {command.tool.value} -> "
                                   f"{actor.posture.value} at ({actor.x:.2f}, {actor.y:.2f})")
        except (ControlError, ActorError) as exc:
            self._reject(f"sim/control {tool!r} rejected: {exc}")
        except Exception as exc:   # espeak-ng missing or failing: report, keep simulating
            self._reject(f"sim/control {tool!r} failed: {type(exc).__name__}: {exc}")

    def _reject(self, text: str) -> None:
        self._stats["rejected_commands"] += 1
        self.get_logger().error(text)

    def _run(self) -> None:
        renderer = None
        try:
            p = self.p
            if p["camera_enabled"]:
                renderer = CameraRenderer(self.sim.model, self.sim.camera_id, self.camera_spec)
            lidar_rate = p["lidar_rate_hz"] or self.sim.lidar_spec.rate_hz
            schedules = {
                "odom": Schedule(p["odom_rate_hz"]), "joints": Schedule(p["joint_states_rate_hz"]),
                "scan": Schedule(lidar_rate), "camera": Schedule(self.camera_spec.rate_hz if renderer else 0.0),
                "clock": Schedule(p["clock_rate_hz"]),
            }
            self.pacer = Pacer(p["real_time_factor"])
            self.pacer.reset(self.sim.time)
            self._publish_clock()
            while self._running.is_set() and rclpy.ok():
                for _ in range(MAX_COMMANDS_PER_STEP):
                    try:
                        self._apply(self._commands.get_nowait())
                    except queue.Empty:
                        break
                report = self.sim.step()
                if report.bumped:
                    self._stats["bumps"] += 1
                    self.get_logger().warning(f"bumper: blocked by {', '.join(report.contacts)}",
                                              throttle_duration_sec=2.0)
                now = self.sim.time
                if schedules["clock"].due(now):
                    self._publish_clock()
                if schedules["odom"].due(now):
                    self._publish_odom()
                if schedules["joints"].due(now):
                    self._publish_joints()
                if schedules["scan"].due(now):
                    self._publish_scan(1.0 / lidar_rate)
                if schedules["camera"].due(now):
                    if self._must_wait_for_consumer():
                        self._wait_for_consumer()
                    self._publish_camera(renderer)
                if p["audio_enabled"]:
                    self._publish_audio(now)
                self.pacer.wait(now)
        except Exception as exc:  # the loop must never die silently: report it on diagnostics and the log
            if not rclpy.ok() or not self._running.is_set():
                return   # shutting down: publishers may already be gone
            self._failed = f"{type(exc).__name__}: {exc}"
            self.get_logger().fatal(f"simulation loop stopped: {self._failed}")
        finally:
            if renderer is not None:
                renderer.close()

    def _must_wait_for_consumer(self) -> bool:
        frame = self._last_frame_time
        return self._sync_enabled and frame is not None and self._processed_time < frame - 1e-6

    def _wait_for_consumer(self) -> None:
        """Lockstep: hold sim time until the consumer has answered the last frame (or time out).

        Frames travel best-effort (the newest wins); one lost on the way would stall the
        lockstep, so the same frame (same stamp) is offered again every SYNC_RESEND_S.
        """
        started = time.monotonic()
        deadline = started + self.p["sync_timeout_s"]
        # Resend only when the answer is clearly overdue: a busy consumer would process the frame twice.
        resend_after = max(SYNC_RESEND_S, 2.5 * self._answer_s)
        resend = self._frame_wall + resend_after
        while self._must_wait_for_consumer() and time.monotonic() < deadline and self._running.is_set():
            if time.monotonic() >= resend and self._last_frame is not None:
                self.image_pub.publish(self._last_frame[0])
                self.info_pub.publish(self._last_frame[1])
                self._stats["resent_frames"] = self._stats.get("resent_frames", 0) + 1
                resend = time.monotonic() + resend_after
            time.sleep(0.002)
        if not self._must_wait_for_consumer():
            self._answer_s = 0.8 * self._answer_s + 0.2 * (time.monotonic() - self._frame_wall)
        self._sync_wait_s += time.monotonic() - started
        if self._must_wait_for_consumer():
            self._stats["sync_timeouts"] = self._stats.get("sync_timeouts", 0) + 1
            self.get_logger().warning(f"{self.p['sync_topic']} did not answer the frame of t={self._last_frame_time:.2f} "
                                      f"within {self.p['sync_timeout_s']:g} s: running on", throttle_duration_sec=10.0)
            self._processed_time = self._last_frame_time    # do not wait for this frame again
        self.pacer.reset(self.sim.time)   # waiting is not lag to catch up on

    # ------------------------------------------------------------------ publishing
    def _publish_clock(self) -> None:
        self.clock_pub.publish(ClockMsg(clock=_stamp(self.sim.time)))

    def _publish_odom(self) -> None:
        sim = self.sim
        msg = Odometry()
        msg.header.stamp = _stamp(sim.time)
        msg.header.frame_id = self.frames["map_frame"]
        msg.child_frame_id = self.frames["base_frame"]
        msg.pose.pose.position.x = sim.pose.x
        msg.pose.pose.position.y = sim.pose.y
        msg.pose.pose.position.z = BASE_LINK_HEIGHT_M
        set_yaw(msg.pose.pose.orientation, sim.pose.yaw)
        msg.twist.twist.linear.x = sim.velocity[0]
        msg.twist.twist.angular.z = sim.velocity[1]
        # Ground truth: tiny covariances say so to consumers that weigh them.
        msg.pose.covariance[0] = msg.pose.covariance[7] = msg.pose.covariance[35] = 1e-6
        msg.twist.covariance[0] = msg.twist.covariance[35] = 1e-6
        self.odom_pub.publish(msg)

    def _publish_joints(self) -> None:
        names, positions, velocities = self.sim.joint_state()
        msg = JointState(name=names, position=positions, velocity=velocities)
        msg.header.stamp = _stamp(self.sim.time)
        self.joint_pub.publish(msg)

    def _publish_scan(self, period: float) -> None:
        sim = self.sim
        spec = sim.lidar_spec
        ranges = sim.scan()
        angles = sim.lidar_angles
        msg = LaserScan()
        msg.header.stamp = _stamp(sim.time)
        msg.header.frame_id = self.frames["laser_frame"]
        msg.angle_min = float(angles[0])
        msg.angle_increment = float(angles[1] - angles[0]) if len(angles) > 1 else 0.0
        msg.angle_max = float(angles[-1])
        msg.scan_time = period
        msg.range_min = spec.range_min
        msg.range_max = spec.range_max
        msg.ranges = ranges.astype("float32").tolist()
        self.scan_pub.publish(msg)

    def _publish_camera(self, renderer: CameraRenderer) -> None:
        started = time.perf_counter()
        pixels = renderer.render(self.sim.data)
        self._render_s = 0.9 * self._render_s + 0.1 * (time.perf_counter() - started)
        stamp = _stamp(self.sim.time)
        image = Image()
        image.header.stamp = stamp
        image.header.frame_id = self.frames["camera_frame"]
        image.height, image.width = int(pixels.shape[0]), int(pixels.shape[1])
        image.encoding = "rgb8"
        image.step = image.width * 3
        image.data = pixels.tobytes()
        self.image_pub.publish(image)
        k = self.intrinsics
        info = CameraInfo()
        info.header = image.header
        info.width, info.height = k.width, k.height
        info.distortion_model = "plumb_bob"
        info.d = [0.0] * 5
        info.k = k.k
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = k.p
        self.info_pub.publish(info)
        self._stats["camera_frames"] += 1
        self._last_frame = (image, info)
        self._last_frame_time = self.sim.time
        self._frame_wall = time.monotonic()

    def _publish_audio(self, now: float) -> None:
        for start, block in self.mic.blocks_until(now):
            msg = AudioChunk(sample_rate=self.mic.rate, channels=1)
            msg.header.stamp = _stamp(start)
            msg.header.frame_id = "sim_microphone"
            msg.data = block.tolist()
            self.audio_pub.publish(msg)

    def _publish_health(self) -> None:
        sim = self.sim
        pacer = getattr(self, "pacer", None)   # made by the loop thread once it runs
        rtf = pacer.real_time_factor if pacer is not None else 0.0
        target = self.p["real_time_factor"]
        if self._failed:
            self.health.set(Level.ERROR, f"simulation loop stopped: {self._failed}")
        elif target > 0 and 0 < rtf < 0.5 * target:
            self.health.set(Level.WARN, f"running slower than wanted: real-time factor {rtf:.2f} of {target:g}")
        else:
            self.health.set(Level.OK, f"running, real-time factor {rtf:.2f}")
        self.health.set(self.health.level, self.health.message, real_time_factor=f"{rtf:.3f}",
                        target_real_time_factor=f"{target:g}", sim_time=f"{sim.time:.2f}",
                        camera_frames=self._stats["camera_frames"], render_ms=f"{self._render_s * 1000:.1f}",
                        bumps=self._stats["bumps"], rejected_commands=self._stats["rejected_commands"],
                        robot_pose=f"{sim.pose.x:.2f} {sim.pose.y:.2f} {math.degrees(sim.pose.yaw):.1f}",
                        gl_backend=gl_backend() if self.p["camera_enabled"] else "none",
                        sync_wait_s=f"{self._sync_wait_s:.1f}", sync_timeouts=self._stats.get("sync_timeouts", 0),
                        resent_frames=self._stats.get("resent_frames", 0))
        self.diagnostics.publish(self.health)

    def stop(self) -> None:
        self._running.clear()
        self._loop.join(timeout=5.0)


def main(args: list[str] | None = None) -> int:
    return run_node(SimNode, name="sim", on_exit=SimNode.stop, start_errors=(ValueError, RuntimeError, OSError),
                    start_error_code=1, args=args)


if __name__ == "__main__":
    sys.exit(main())
