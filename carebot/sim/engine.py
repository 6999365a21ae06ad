"""The simulation itself, without ROS: world + robot + people in MuJoCo.

Why kinematic: the base is a planar body (joints x, y, yaw) whose pose is
integrated from the commanded velocity, as an ideal differential drive would
move; a contact check against walls, furniture and people blocks any move into
them (a bumper, the robot stops). Arm and head joints follow trajectories
within their URDF limits (carebot.sim.trajectory). No contact dynamics to
tune, no wheel slip, deterministic for a given command sequence, and fast:
time goes to rendering and ray casting, not to physics. What the other nodes
see is what Gazebo's diff-drive and joint-trajectory plugins would give them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import mujoco
import numpy as np

from carebot.sim.actors import Actor, ActorError
from carebot.sim.robot import (BASE_JOINTS, CAMERA_NAME, LASER_SITE, ROBOT_PREFIX, CameraSpec, LidarSpec,
                               RobotDescription, attach_robot, read_description)
from carebot.sim.trajectory import JointFollower, Trajectory
from carebot.sim.world_mjcf import ACTOR_PREFIX, build_world_spec
from carebot.world import World

CMD_TIMEOUT_S = 0.5          # no command for this long: the drive stops (like a base driver's watchdog)
BUMPER_IGNORE = ("floor",)   # the wheels always touch the floor
LIDAR_GEOM_GROUPS = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)   # world, robot, people


@dataclass
class BasePose:
    x: float
    y: float
    yaw: float


def integrate_unicycle(pose: BasePose, v: float, w: float, dt: float) -> BasePose:
    """Exact pose after driving v (m/s) and turning w (rad/s) for dt seconds."""
    if abs(w) < 1e-9:
        return BasePose(pose.x + v * dt * math.cos(pose.yaw), pose.y + v * dt * math.sin(pose.yaw), pose.yaw)
    yaw = pose.yaw + w * dt
    radius = v / w
    return BasePose(pose.x + radius * (math.sin(yaw) - math.sin(pose.yaw)),
                    pose.y - radius * (math.cos(yaw) - math.cos(pose.yaw)),
                    math.atan2(math.sin(yaw), math.cos(yaw)))


@dataclass
class BaseCommand:
    v: float = 0.0               # m/s
    w: float = 0.0               # rad/s
    stamp: float = -math.inf     # sim time it arrived


@dataclass
class StepReport:
    """What happened in one step (for logs and tests)."""

    bumped: bool = False
    contacts: list[str] = field(default_factory=list)


class Simulation:
    """A site with the robot and its people; advance with ``step(dt)``."""

    def __init__(self, world: World, actors: list[Actor] = (), description: RobotDescription | None = None,
                 camera: CameraSpec | None = None, lidar: LidarSpec | None = None,
                 robot_start: tuple[float, float, float] | None = None, lidar_noise: float = 0.0,
                 seed: int = 0, timestep: float = 0.01):
        self.world = world
        self.description = description or read_description()
        self.camera_spec = camera or self.description.camera
        self.lidar_spec = lidar or self.description.lidar
        self.actors = {a.name: a for a in actors}
        spec = build_world_spec(world, list(actors))
        attach_robot(spec, self.description, self.camera_spec)
        self.model = spec.compile()
        self.model.opt.timestep = timestep
        self.data = mujoco.MjData(self.model)
        self.time = 0.0
        self.timestep = timestep
        self.lidar_noise = lidar_noise
        self._rng = np.random.default_rng(seed)
        start = robot_start or world.robot_start
        self.pose = BasePose(*start)
        self.velocity = (0.0, 0.0)       # actual v, w after the bumper (m/s, rad/s)
        self.command = BaseCommand()
        self.bumped = False
        self.wheel_angles = {"left_wheel_joint": 0.0, "right_wheel_joint": 0.0}
        self.wheel_speeds = {"left_wheel_joint": 0.0, "right_wheel_joint": 0.0}
        max_wheel = min(self.description.joints[j].velocity for j in self.wheel_angles)
        self.max_speed = max_wheel * self.description.wheel_radius   # m/s at the wheel limit
        arm_head = [j for j in self.description.actuated if j not in self.wheel_angles]
        self.joints = JointFollower({j: (self.description.joints[j].lower, self.description.joints[j].upper,
                                         self.description.joints[j].velocity) for j in arm_head})
        self._qadr = {name: self.model.jnt_qposadr[self._joint_id(name)] for name in BASE_JOINTS}
        for j in self.description.joints:
            self._qadr[j] = self.model.jnt_qposadr[self._joint_id(ROBOT_PREFIX + j)]
        self._mocap = {name: self.model.body_mocapid[self._body_id(ACTOR_PREFIX + name)] for name in self.actors}
        self._robot_root = self._body_id("robot_base")
        self._laser_site = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, ROBOT_PREFIX + LASER_SITE)
        self.camera_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, ROBOT_PREFIX + CAMERA_NAME)
        self._floor = {mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, n) for n in BUMPER_IGNORE}
        robot_bodies = [b for b in range(self.model.nbody) if self._in_robot(b)]
        self._robot_geom = np.isin(self.model.geom_bodyid, robot_bodies)
        angles = np.linspace(self.lidar_spec.min_angle, self.lidar_spec.max_angle, self.lidar_spec.samples,
                             endpoint=not self._full_circle())
        self.lidar_angles = angles
        self._lidar_local = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
        self._ray_geom = np.zeros(len(angles), dtype=np.int32)
        self._ray_dist = np.zeros(len(angles), dtype=np.float64)
        if self._laser_site < 0 or self.camera_id < 0:
            raise KeyError("the robot model lacks its laser site or camera")
        self._laser_body = self.model.site_bodyid[self._laser_site]
        self._write_state()
        mujoco.mj_fwdPosition(self.model, self.data)
        if self._robot_contacts():
            raise ValueError(f"robot start {start} collides with {self._robot_contacts()}")

    # --- lookups ---------------------------------------------------------
    def _joint_id(self, name: str) -> int:
        jid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid < 0:
            raise KeyError(f"joint {name} is not in the model")
        return jid

    def _body_id(self, name: str) -> int:
        bid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        if bid < 0:
            raise KeyError(f"body {name} is not in the model")
        return bid

    def _in_robot(self, body: int) -> bool:
        while body > 0:
            if body == self._robot_root:
                return True
            body = self.model.body_parentid[body]
        return False

    def _full_circle(self) -> bool:
        return abs((self.lidar_spec.max_angle - self.lidar_spec.min_angle) - 2 * math.pi) < 1e-3

    # --- commands --------------------------------------------------------
    def set_base_command(self, v: float, w: float) -> None:
        """Commanded base velocity; non-finite values stop the base."""
        if not (math.isfinite(v) and math.isfinite(w)):
            v, w = 0.0, 0.0
        # The wheels cannot turn faster than their URDF limit: scale both down together.
        half_track = self.description.wheel_separation / 2
        peak = max(abs(v - w * half_track), abs(v + w * half_track))
        scale = min(1.0, self.max_speed / peak) if peak > 0 else 1.0
        self.command = BaseCommand(v * scale, w * scale, self.time)

    def follow(self, trajectory: Trajectory) -> None:
        self.joints.accept(trajectory)

    def actor(self, name: str) -> Actor:
        if name not in self.actors:
            raise ActorError(f"unknown actor {name!r}; known: {', '.join(self.actors) or 'none'}")
        return self.actors[name]

    # --- stepping --------------------------------------------------------
    def step(self, dt: float | None = None) -> StepReport:
        """Advance sim time by dt (default: the timestep)."""
        dt = self.timestep if dt is None else dt
        report = StepReport()
        cmd = self.command
        v, w = (cmd.v, cmd.w) if self.time - cmd.stamp <= CMD_TIMEOUT_S else (0.0, 0.0)
        previous = self.pose
        self.time += dt
        camera_xy = self.camera_xy()
        for actor in self.actors.values():
            actor.step(dt, camera_xy)
        self.joints.step(self.time, dt)
        if v or w:
            self.pose = integrate_unicycle(previous, v, w, dt)
        self._write_state()
        mujoco.mj_fwdPosition(self.model, self.data)
        contacts = self._robot_contacts() if (v or w) else []
        if contacts:
            # Bumper: the move would enter an obstacle. Stay where we were.
            self.pose = previous
            v, w = 0.0, 0.0
            self._write_state()
            mujoco.mj_fwdPosition(self.model, self.data)
            report.bumped, report.contacts = True, contacts
        self.bumped = report.bumped
        self.velocity = (v, w)
        half_track = self.description.wheel_separation / 2
        for joint, sign in (("left_wheel_joint", -1.0), ("right_wheel_joint", 1.0)):
            speed = (v + sign * w * half_track) / self.description.wheel_radius
            self.wheel_speeds[joint] = speed
            self.wheel_angles[joint] += speed * dt
        self.data.time = self.time
        return report

    def _write_state(self) -> None:
        qpos = self.data.qpos
        qpos[self._qadr["base_x"]] = self.pose.x
        qpos[self._qadr["base_y"]] = self.pose.y
        qpos[self._qadr["base_yaw"]] = self.pose.yaw
        for joint, angle in self.wheel_angles.items():
            qpos[self._qadr[joint]] = angle
        for joint, position in self.joints.positions.items():
            qpos[self._qadr[joint]] = position
        for joint, info in self.description.joints.items():
            if info.mimic_of:
                qpos[self._qadr[joint]] = info.mimic_multiplier * qpos[self._qadr[info.mimic_of]] + info.mimic_offset
        for name, actor in self.actors.items():
            centre, quat = actor.pose()
            self.data.mocap_pos[self._mocap[name]] = centre
            self.data.mocap_quat[self._mocap[name]] = quat

    def _robot_contacts(self) -> list[str]:
        """Names of non-robot geoms that robot geoms touch or penetrate."""
        hits = []
        for i in range(self.data.ncon):
            contact = self.data.contact[i]
            g1, g2 = contact.geom1, contact.geom2
            if self._robot_geom[g1] == self._robot_geom[g2] or contact.dist > 0:
                continue
            other = g2 if self._robot_geom[g1] else g1
            if other in self._floor:
                continue
            hits.append(mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_GEOM, other) or f"geom{other}")
        return hits

    # --- sensors ---------------------------------------------------------
    def camera_xy(self) -> tuple[float, float]:
        pos = self.data.cam_xpos[self.camera_id]
        return float(pos[0]), float(pos[1])

    def laser_pose(self) -> tuple[np.ndarray, np.ndarray]:
        return self.data.site_xpos[self._laser_site].copy(), self.data.site_xmat[self._laser_site].reshape(3, 3).copy()

    def scan(self) -> np.ndarray:
        """Ranges (m) of one lidar sweep; inf where nothing is within range_max."""
        origin, rot = self.laser_pose()
        directions = (self._lidar_local @ rot.T).reshape(-1)
        mujoco.mj_multiRay(self.model, self.data, origin, directions, LIDAR_GEOM_GROUPS, 1, self._laser_body,
                           self._ray_geom, self._ray_dist, None, len(self.lidar_angles), self.lidar_spec.range_max)
        ranges = self._ray_dist.copy()
        if self.lidar_noise > 0:
            ranges += self._rng.normal(0.0, self.lidar_noise, ranges.shape)
        ranges[(self._ray_geom < 0) | (self._ray_dist < 0) | (ranges > self.lidar_spec.range_max)] = math.inf
        return ranges

    def camera_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Camera position and rotation (columns: image right, image up, backwards), world frame."""
        return self.data.cam_xpos[self.camera_id].copy(), self.data.cam_xmat[self.camera_id].reshape(3, 3).copy()

    def joint_state(self) -> tuple[list[str], list[float], list[float]]:
        """Names, positions and velocities of every movable URDF joint."""
        names, positions, velocities = [], [], []
        for joint, info in self.description.joints.items():
            names.append(joint)
            positions.append(float(self.data.qpos[self._qadr[joint]]))
            if joint in self.wheel_speeds:
                velocities.append(self.wheel_speeds[joint])
            elif info.mimic_of:
                velocities.append(info.mimic_multiplier * self.joints.velocities.get(info.mimic_of, 0.0))
            else:
                velocities.append(self.joints.velocities.get(joint, 0.0))
        return names, positions, velocities
