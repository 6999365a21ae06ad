"""The sim node over real DDS: /clock runs, the robot drives on cmd_vel, the lidar
sees the walls where the world puts them, the camera publishes images with
matching camera_info, joints follow trajectories, scripted speech reaches
speech/audio_in, bad commands are refused without stopping the node, and it
exits cleanly on SIGINT."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]
START = (5.0, 3.0, 180.0)      # lounge, facing west


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    env = isolated_env(MUJOCO_GL="osmesa")
    proc = start(python_module("carebot.sim.sim_node", "--ros-args", "-p", f"robot_start:={START[0]} {START[1]} {START[2]}",
                               "-p", "camera_rate_hz:=5.0", "-p", "lidar_noise_m:=0.0"), env, log)
    from carebot.scenarios.client import StackClient

    client = StackClient(int(env["ROS_DOMAIN_ID"]), name="sim_test_peer")
    extra = _Extra(client)
    assert wait_for(lambda: client.state.pose is not None and extra.scan is not None, 60), log.read_text()
    yield client, extra, proc, log
    client.close()
    code = stop(proc)
    assert code == 0, f"sim exited with {code}:\n{log.read_text()}"


class _Extra:
    """Subscriptions the scenario client does not keep."""

    def __init__(self, client):
        from carebot_interfaces.msg import AudioChunk
        from geometry_msgs.msg import Twist
        from sensor_msgs.msg import CameraInfo, JointState, LaserScan
        from trajectory_msgs.msg import JointTrajectory

        from carebot.ros_common import RELIABLE_QOS, SENSOR_QOS

        from rosgraph_msgs.msg import Clock

        self.scan = self.info = self.joints = None
        self.audio: list = []
        self.clock: list[float] = []
        self.lock = threading.Lock()
        n = client.node
        n.create_subscription(LaserScan, "scan", lambda m: setattr(self, "scan", m), SENSOR_QOS)
        n.create_subscription(CameraInfo, "camera/camera_info", lambda m: setattr(self, "info", m), SENSOR_QOS)
        n.create_subscription(JointState, "joint_states", lambda m: setattr(self, "joints", m), SENSOR_QOS)
        n.create_subscription(AudioChunk, "speech/audio_in", self._on_audio, 100)
        n.create_subscription(Clock, "/clock", self._on_clock, RELIABLE_QOS)
        self.cmd = n.create_publisher(Twist, "cmd_vel", RELIABLE_QOS)
        self.head = n.create_publisher(JointTrajectory, "head_controller/joint_trajectory", RELIABLE_QOS)

    def _on_clock(self, msg):
        with self.lock:
            self.clock.append(msg.clock.sec + msg.clock.nanosec * 1e-9)

    def _on_audio(self, msg):
        with self.lock:
            self.audio.append(np.asarray(msg.data, dtype=np.int16))


def test_clock_runs_and_odom_starts_at_the_start_pose(sim):
    client, *_ = sim
    t0 = client.state.sim_time
    assert wait_for(lambda: client.state.sim_time > t0 + 1.0, 20)
    x, y, yaw = client.state.pose
    assert (x, y) == pytest.approx(START[:2], abs=1e-6)
    assert yaw == pytest.approx(math.pi, abs=1e-6) or yaw == pytest.approx(-math.pi, abs=1e-6)


def test_clock_is_published_at_clock_rate_hz_of_sim_time(sim):
    """Issue 18: /clock at 10 Hz of sim time (the default clock_rate_hz), not every 10 ms step:
    each message wakes every node that runs on sim time."""
    client, extra, *_ = sim
    t0 = client.state.sim_time
    assert wait_for(lambda: client.state.sim_time > t0 + 2.5, 30)
    with extra.lock:
        stamps = [t for t in extra.clock if t > t0]
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
    assert len(gaps) >= 15
    assert gaps[len(gaps) // 2] == pytest.approx(0.1, abs=0.005)
    assert all(gap > 0.085 for gap in gaps)              # never faster than the declared rate


def test_lidar_sees_the_walls_at_the_right_range(sim):
    _, extra, *_ = sim
    scan = extra.scan
    angles = scan.angle_min + scan.angle_increment * np.arange(len(scan.ranges))
    ranges = np.asarray(scan.ranges)

    def at(angle):
        return ranges[int(np.argmin(np.abs(np.angle(np.exp(1j * (angles - angle))))))]
    assert len(ranges) == 360 and scan.header.frame_id == "laser"
    assert at(0.0) == pytest.approx(4.86 - 0.075, abs=0.02)          # west wall, laser 0.14 m ahead of the base
    assert at(math.pi / 2) == pytest.approx(3.0 - 0.075, abs=0.02)   # south wall (robot's left)


def test_camera_images_and_camera_info(sim):
    client, extra, *_ = sim
    assert wait_for(lambda: client.state.image is not None and extra.info is not None, 20)
    image, info = client.state.image, extra.info
    assert (image.width, image.height, image.encoding) == (640, 480, "rgb8")
    assert len(image.data) == 640 * 480 * 3
    fx = 320 / math.tan(0.6)                     # urdf: horizontal_fov 1.2 rad
    assert info.k[0] == pytest.approx(fx, rel=1e-3) and info.k[4] == pytest.approx(fx, rel=1e-3)
    assert info.header.frame_id == image.header.frame_id == "camera_optical_frame"
    pixels = np.frombuffer(bytes(image.data), dtype=np.uint8).reshape(480, 640, 3)
    assert pixels.std() > 10                     # a rendered room, not a blank frame


def test_robot_drives_when_cmd_vel_is_sent(sim):
    from geometry_msgs.msg import Twist

    client, extra, *_ = sim
    x0 = client.state.pose[0]
    t0 = client.state.sim_time
    msg = Twist()
    msg.linear.x = 0.4
    while client.state.sim_time < t0 + 2.0:
        extra.cmd.publish(msg)
        threading.Event().wait(0.05)
    extra.cmd.publish(Twist())
    moved = x0 - client.state.pose[0]            # facing west: x decreases
    assert 0.5 < moved < 0.95, moved
    assert wait_for(lambda: abs(client.state.speed[0]) < 1e-6, 10)


def test_head_follows_a_trajectory(sim):
    from builtin_interfaces.msg import Duration
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    client, extra, *_ = sim
    traj = JointTrajectory(joint_names=["head_pan_joint", "head_tilt_joint"],
                           points=[JointTrajectoryPoint(positions=[0.5, 0.3], time_from_start=Duration(sec=1))])
    extra.head.publish(traj)

    def reached():
        j = extra.joints
        return j is not None and abs(j.position[list(j.name).index("head_pan_joint")] - 0.5) < 1e-3
    assert wait_for(reached, 20)


def test_scripted_speech_reaches_the_microphone_topic(sim):
    client, extra, *_ = sim
    with extra.lock:
        extra.audio.clear()
    client.control("say", text="Hello robot", actor="resident")
    assert wait_for(lambda: sum(len(a) for a in extra.audio) > 16000 * 2.0, 30)
    with extra.lock:
        audio = np.concatenate(extra.audio)
    assert np.abs(audio).max() > 10000           # the words, not just silence


def test_bad_commands_are_refused_and_the_node_runs_on(sim):
    client, extra, proc, log = sim
    client.control("fall", actor="nobody")
    client.control("walk", actor="resident", to="the moon")
    client.control("fall", actor="resident")
    assert wait_for(lambda: "rejected" in log.read_text() and "resident: fall" in log.read_text(), 20)
    diag = lambda: client.state.diagnostics.get("carebot/sim")          # noqa: E731
    assert wait_for(lambda: diag() is not None and int(diag()[2]["rejected_commands"]) >= 2, 10)
    assert float(diag()[2]["real_time_factor"]) > 0.1
    assert proc.poll() is None


def test_bad_start_pose_exits_with_a_clear_error(tmp_path):
    import subprocess

    env = isolated_env(MUJOCO_GL="osmesa")
    proc = subprocess.run(python_module("carebot.sim.sim_node", "--ros-args", "-p", "robot_start:=11 3 0"),
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "cannot start" in proc.stderr and "collides" in proc.stderr and "Traceback" not in proc.stderr


def test_camera_renders_when_the_caller_chose_no_opengl_platform(tmp_path):
    """`carebot up --sim` passes the shell's environment: on a machine without a display and
    without MUJOCO_GL the node must still render (MuJoCo picks its platform at import)."""
    log = tmp_path / "sim.log"
    env = {k: v for k, v in isolated_env().items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY")}
    proc = start(python_module("carebot.sim.sim_node", "--ros-args", "-p", "camera_rate_hz:=5.0"), env, log)
    from carebot.scenarios.client import StackClient

    client = StackClient(int(env["ROS_DOMAIN_ID"]), name="sim_gl_peer")
    extra = _Extra(client)
    try:
        assert wait_for(lambda: extra.info is not None, 60), log.read_text()[-3000:]
        assert wait_for(lambda: client.state.diagnostics.get("carebot/sim") is not None, 10)
        diag = client.state.diagnostics["carebot/sim"]
        assert diag[2]["gl_backend"] == "osmesa" and "stopped" not in diag[1], diag
    finally:
        client.close()
        code = stop(proc)
    assert code == 0, log.read_text()[-3000:]
