"""Named gestures and LookAt as joint targets (no ROS).

``GesturePlanner`` turns a gesture name (wave, point, nod, handover, rest) and, for
point, a target point into arm and head trajectories within the URDF limits; the
pointing and hand-over poses come from inverse kinematics on the URDF (Pinocchio).
Points are in ``base_footprint`` (x forward, z up from the floor), m.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from carebot.motion.description import ARM_JOINTS, FINGER_TRAVEL, GRIPPER_JOINT, HEAD_JOINTS
from carebot.motion.kinematics import CAMERA_AXIS, CAMERA_FRAME, TOOL_AXIS, TOOL_FRAME, Kinematics
from carebot.motion.trajectory import JointLimit, Trajectory, Waypoint, build_trajectory


class GestureName(str, enum.Enum):
    WAVE = "wave"
    POINT = "point"
    NOD = "nod"
    HANDOVER = "handover"
    REST = "rest"


class GestureError(ValueError):
    """A gesture that cannot be made (unknown name, target out of reach)."""


# Arm folded in front of the torso: inside the footprint, above the lidar's scan plane.
REST_ARM = {"arm_shoulder_pan_joint": 0.0, "arm_shoulder_lift_joint": 0.1, "arm_elbow_joint": 2.0,
            "arm_wrist_1_joint": 0.9, "arm_wrist_2_joint": 0.0, "arm_wrist_3_joint": 0.0}
REST_HEAD = {"head_pan_joint": 0.0, "head_tilt_joint": 0.15}
ARM_UP = {"arm_shoulder_pan_joint": -0.35, "arm_shoulder_lift_joint": 2.2, "arm_elbow_joint": 0.8,
          "arm_wrist_1_joint": 0.0, "arm_wrist_2_joint": 0.0, "arm_wrist_3_joint": 0.0}
WAVE_SWINGS = 2
WAVE_ELBOW = (0.5, 1.1)                 # rad, forearm swing
NOD_TILT = (0.4, 0.0)                   # rad, down and back up
NOD_COUNT = 2
HANDOVER_POINT = (0.45, -0.18, 0.85)    # m, in front of the robot at table height
GRIPPER_OPEN = FINGER_TRAVEL * 0.75     # m per finger
POINT_REACH = 0.5                       # m from the shoulder to the pointing hand
POINT_TOLERANCE = 0.08                  # rad; worse aim fails the gesture
HEAD_TARGET_TOLERANCE = 0.05            # rad


@dataclass(frozen=True)
class GesturePlan:
    arm: Trajectory | None
    head: Trajectory | None
    gripper: float | None               # finger opening to command, m (None: leave as is)
    aim_error: float = 0.0              # rad, for point: how well the planned pose aims

    @property
    def duration(self) -> float:
        return max((t.duration for t in (self.arm, self.head) if t is not None), default=0.0)


class GesturePlanner:
    def __init__(self, kinematics: Kinematics | None = None, speed_scale: float = 0.9):
        self.kin = kinematics or Kinematics()
        self.speed_scale = speed_scale
        self.limits = {}
        for name in ARM_JOINTS + HEAD_JOINTS + (GRIPPER_JOINT,):
            lo, hi, vel, _ = self.kin.limits(name)
            self.limits[name] = JointLimit(lo, hi, vel)

    def trajectory(self, joints, current: dict[str, float], waypoints: list[Waypoint]) -> Trajectory:
        """A trajectory of ``joints`` from ``current`` through ``waypoints`` within the URDF limits."""
        return build_trajectory(joints, current, waypoints, self.limits, self.speed_scale)

    def plan(self, name: str, current: dict[str, float], target=None) -> GesturePlan:
        """Trajectories for gesture ``name`` from the ``current`` joint positions."""
        try:
            gesture = GestureName(name.strip().lower())
        except ValueError:
            known = ", ".join(g.value for g in GestureName)
            raise GestureError(f"unknown gesture {name!r}; known: {known}") from None
        if gesture is GestureName.WAVE:
            swings = []
            for _ in range(WAVE_SWINGS):
                swings += [Waypoint({"arm_elbow_joint": WAVE_ELBOW[0]}), Waypoint({"arm_elbow_joint": WAVE_ELBOW[1]})]
            arm = self.trajectory(ARM_JOINTS, current, [Waypoint(ARM_UP)] + swings + [Waypoint(REST_ARM)])
            return GesturePlan(arm, None, None)
        if gesture is GestureName.NOD:
            nods = []
            for _ in range(NOD_COUNT):
                nods += [Waypoint({"head_tilt_joint": NOD_TILT[0]}), Waypoint({"head_tilt_joint": NOD_TILT[1]})]
            return GesturePlan(None, self.trajectory(HEAD_JOINTS, current, nods), None)
        if gesture is GestureName.REST:
            return GesturePlan(self.trajectory(ARM_JOINTS, current, [Waypoint(REST_ARM)]), None, 0.0)
        if gesture is GestureName.HANDOVER:
            q = self.handover_pose()
            return GesturePlan(self.trajectory(ARM_JOINTS, current, [Waypoint(q)]), None, GRIPPER_OPEN)
        # POINT
        if target is None or not all(math.isfinite(v) for v in target):
            raise GestureError("point needs a finite target point")
        q, error = self.point_pose(target)
        if error > POINT_TOLERANCE:
            raise GestureError(f"cannot point at ({target[0]:.2f}, {target[1]:.2f}, {target[2]:.2f}): "
                               f"best aim is {math.degrees(error):.0f} deg off")
        return GesturePlan(self.trajectory(ARM_JOINTS, current, [Waypoint(q)]), None, None, error)

    def handover_pose(self) -> dict[str, float]:
        """Arm joints holding the gripper forward at HANDOVER_POINT (IK on the URDF)."""
        forward = np.column_stack(([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]))   # tool -z along +x
        seed = {"arm_shoulder_lift_joint": 1.0, "arm_elbow_joint": 0.8}
        result = self.kin.solve_pose(TOOL_FRAME, HANDOVER_POINT, forward, seed=seed)
        if not result.success:
            raise GestureError(f"hand-over pose not reachable (error {result.error:.3f})")
        return result.q

    def point_pose(self, target) -> tuple[dict[str, float], float]:
        """Arm joints aiming the gripper at ``target``; returns the joints and the aim error (rad)."""
        target = np.asarray(target, dtype=float)
        shoulder = self.kin.frame_pose("arm_shoulder_link").translation
        d = target - shoulder
        pan_limit = self.limits["arm_shoulder_pan_joint"]
        pan = float(np.clip(math.atan2(d[1], max(d[0], 1e-3)), pan_limit.lower, pan_limit.upper))
        elevation = math.atan2(d[2], math.hypot(d[0], d[1]))
        best = None
        # A few seeds: the aim task has many solutions; start from natural pointing postures.
        for lift in (math.pi / 2 + elevation, 1.4, 2.0):
            seed = {"arm_shoulder_pan_joint": pan, "arm_shoulder_lift_joint": lift, "arm_elbow_joint": 0.2}
            result = self.kin.solve_aim(TOOL_FRAME, TOOL_AXIS, target, ARM_JOINTS, seed)
            if best is None or result.error < best.error:
                best = result
            if result.success:
                break
        return best.q, best.error

    def look_at(self, target, current: dict[str, float]) -> tuple[Trajectory, dict[str, float], float]:
        """Head trajectory turning the camera toward ``target``; also the goal joints and aim error."""
        target = np.asarray(target, dtype=float)
        if target.shape != (3,) or not np.all(np.isfinite(target)):
            raise GestureError("look-at target must be three finite numbers")
        pan_axis = self.kin.frame_pose("head_pan_link").translation
        pan = math.atan2(target[1] - pan_axis[1], target[0] - pan_axis[0])
        seed = {"head_pan_joint": pan, "head_tilt_joint": 0.0}
        result = self.kin.solve_aim(CAMERA_FRAME, CAMERA_AXIS, target, HEAD_JOINTS, seed)
        return self.trajectory(HEAD_JOINTS, current, [Waypoint(result.q)]), result.q, result.error

    def head_error(self, target, positions: dict[str, float]) -> float:
        """Angle (rad) between the camera's view axis and ``target`` for the given head joints."""
        return self.kin.aim_error(CAMERA_FRAME, CAMERA_AXIS, target, positions)
