"""The simulation without ROS: the robot drives as commanded, the bumper stops it
at walls, the lidar measures the world's geometry, joints follow trajectories."""
import math

import numpy as np
import pytest

from carebot.sim.actors import CUTOUT_HALF_THICKNESS_M, Actor
from carebot.sim.engine import CMD_TIMEOUT_S, BasePose, Simulation, integrate_unicycle
from carebot.sim.robot import read_description
from carebot.sim.sensors import intrinsics
from carebot.sim.trajectory import make_trajectory
from carebot.world import load_world

WORLD = load_world("care_home")
DESCRIPTION = read_description()
FOOTPRINT_M = 0.27      # urdf/README.md


@pytest.fixture()
def sim():
    # Lounge centre facing west; nobody else in the world.
    return Simulation(WORLD, [], DESCRIPTION, robot_start=(5.0, 3.0, math.pi))


def _drive(sim, v, w, seconds):
    steps = int(round(seconds / sim.timestep))
    for i in range(steps):
        if i % 10 == 0:                      # a 10 Hz command stream, like base_safety's
            sim.set_base_command(v, w)
        sim.step()


def test_unicycle_integration_is_exact_on_a_circle():
    pose = BasePose(0.0, 0.0, 0.0)
    for _ in range(100):
        pose = integrate_unicycle(pose, 0.5, 0.5, 0.04 * math.pi)   # 100 steps: one circle of radius 1 m
    assert (pose.x, pose.y) == pytest.approx((0.0, 0.0), abs=1e-9)


def test_robot_drives_and_turns_as_commanded(sim):
    _drive(sim, 0.5, 0.0, 2.0)
    assert sim.pose.x == pytest.approx(4.0, abs=0.01) and sim.pose.y == pytest.approx(3.0, abs=1e-6)
    assert sim.velocity == pytest.approx((0.5, 0.0))
    names, _, velocities = sim.joint_state()
    wheel = velocities[names.index("left_wheel_joint")]
    assert wheel == pytest.approx(0.5 / DESCRIPTION.wheel_radius)
    _drive(sim, 0.0, 0.5, 2.0)
    assert sim.pose.yaw == pytest.approx(-math.pi + 1.0, abs=0.01)


def test_drive_stops_without_fresh_commands(sim):
    sim.set_base_command(0.4, 0.0)
    for _ in range(300):
        sim.step()
    assert sim.pose.x == pytest.approx(5.0 - 0.4 * CMD_TIMEOUT_S, abs=0.01)
    assert sim.velocity == (0.0, 0.0)


def test_wheel_speed_limit_scales_the_command(sim):
    sim.set_base_command(5.0, 0.0)
    assert sim.command.v == pytest.approx(sim.max_speed)


def test_non_finite_command_stops(sim):
    sim.set_base_command(math.nan, 0.2)
    assert (sim.command.v, sim.command.w) == (0.0, 0.0)


def test_bumper_stops_the_robot_at_a_wall(sim):
    # Facing west towards the wall x=0 (inner face at 0.075 m).
    _drive(sim, 0.8, 0.0, 10.0)
    assert sim.bumped
    assert sim.velocity == (0.0, 0.0)
    assert 0.075 + FOOTPRINT_M - 0.03 <= sim.pose.x <= 0.075 + FOOTPRINT_M + 0.05


def test_lidar_measures_walls(sim):
    ranges = sim.scan()
    angles = sim.lidar_angles
    origin, _ = sim.laser_pose()
    assert origin[2] == pytest.approx(0.29, abs=0.005)          # scan plane height (urdf/README.md)

    def at(angle):
        return ranges[int(np.argmin(np.abs(np.angle(np.exp(1j * (angles - angle))))))]
    # Robot at x=5 facing west: laser 0.14 m ahead, at x=4.86. West wall inner face at x=0.075.
    assert at(0.0) == pytest.approx(4.86 - 0.075, abs=0.01)
    # Left = south: wall y=0 (inner face 0.075); right = north: wall y=6 except the door at x 3..5.
    assert at(math.pi / 2) == pytest.approx(3.0 - 0.075, abs=0.01)
    assert at(-math.pi / 2) == pytest.approx(8.0 - 0.075 - 3.0, abs=0.01)   # through the lounge door
    assert ranges.shape == (DESCRIPTION.lidar.samples,)
    assert np.isfinite(ranges).all()


def test_lidar_sees_a_person():
    actor = Actor("p", "man_jacket", 3.0, 3.0, 0.0)
    sim = Simulation(WORLD, [actor], DESCRIPTION, robot_start=(5.0, 3.0, math.pi))
    sim.step()
    ahead = sim.scan()[np.argmin(np.abs(sim.lidar_angles))]
    assert ahead == pytest.approx(4.86 - 3.0 - 2 * CUTOUT_HALF_THICKNESS_M, abs=0.005)   # its photo faces the robot


def test_bad_start_pose_is_refused():
    with pytest.raises(ValueError, match="collides"):
        Simulation(WORLD, [], DESCRIPTION, robot_start=(11.0, 3.0, 0.0))   # inside the dining table


def test_joints_follow_trajectories_and_report_states(sim):
    sim.follow(make_trajectory(["head_pan_joint", "head_tilt_joint"], [(1.0, [0.8, 0.4])], sim.time,
                               set(sim.joints.limits)))
    for _ in range(150):
        sim.step()
    names, positions, _ = sim.joint_state()
    assert set(DESCRIPTION.joints) == set(names)
    assert positions[names.index("head_pan_joint")] == pytest.approx(0.8)
    assert positions[names.index("head_tilt_joint")] == pytest.approx(0.4)
    cam_pos, cam_rot = sim.camera_pose()
    look = -cam_rot[:, 2]                                        # MuJoCo cameras look along -z
    assert look[2] < -0.3                                        # tilted down (+ tilt looks down)


def test_camera_intrinsics_follow_the_urdf_field_of_view():
    k = intrinsics(DESCRIPTION.camera)
    assert k.fx == pytest.approx((DESCRIPTION.camera.width / 2) / math.tan(DESCRIPTION.camera.hfov / 2), rel=1e-6)
    assert k.fx == pytest.approx(k.fy)
    assert (k.cx, k.cy) == pytest.approx(((DESCRIPTION.camera.width - 1) / 2, (DESCRIPTION.camera.height - 1) / 2))
