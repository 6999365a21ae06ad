"""The robot description: one place that generates ``urdf/carebot.urdf``.

The URDF is plain (no xacro at run time) and committed; this module writes it
from a few dimensions so that every mass and inertia follows from the geometry
(solid bodies of uniform density). Regenerate with::

    python -m carebot.motion.description        # rewrites urdf/carebot.urdf

A unit test checks that the committed file equals what this module generates.

Frames follow REP-103/105: x forward, y left, z up; ``base_footprint`` on the
floor under the centre of the base, ``base_link`` on the wheel axle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from carebot.paths import ROOT

URDF_PATH = ROOT / "urdf" / "carebot.urdf"

# --- Base (m, kg) --------------------------------------------------------
FOOTPRINT_RADIUS = 0.27          # round base: the footprint the planner inflates by
BASE_BOTTOM = 0.03               # ground clearance of the base shell
BASE_TOP = 0.24                  # top deck height above the floor
BASE_MASS = 28.0                 # shell, batteries, drives
WHEEL_RADIUS = 0.08
WHEEL_WIDTH = 0.04
WHEEL_SEPARATION = 0.40          # between wheel centres (track width)
WHEEL_MASS = 1.5
CASTER_RADIUS = 0.025
CASTER_OFFSET_X = 0.20           # front and rear casters
CASTER_MASS = 0.2
MAX_WHEEL_SPEED = 12.0           # rad/s, ~0.96 m/s at the rim
MAX_WHEEL_TORQUE = 20.0          # N m

# Frames of the base in which relative targets may be given, with their height above the
# floor (m): base_footprint on the floor, base_link on the wheel axle.
BASE_FRAMES = {"": 0.0, "base_footprint": 0.0, "base_link": WHEEL_RADIUS}

# --- Lidar (2D, on the front of the top deck) -----------------------------
LASER_X = 0.14
LASER_HEIGHT = 0.29              # scan plane above the floor
LASER_RADIUS = 0.035
LASER_MASS = 0.17

# --- Torso column and head ----------------------------------------------
TORSO_X = -0.12                  # behind the lidar: it hides only ~35 deg of the rear
TORSO_RADIUS = 0.08
TORSO_LENGTH = 1.00              # column from the top deck to the neck
TORSO_MASS = 6.0
NECK_LENGTH = 0.04               # pan joint to tilt joint
HEAD_SIZE = (0.12, 0.20, 0.12)   # box, m
HEAD_MASS = 1.2
CAMERA_FORWARD = 0.065           # lens ahead of the tilt axis
CAMERA_MASS = 0.08

# --- Arm (right side, hangs down at zero) ---------------------------------
SHOULDER_HEIGHT = 1.05           # above the floor
SHOULDER_Y = -0.12               # from the torso axis
SHOULDER_OFFSET = 0.07           # lift joint outboard of the pan joint
UPPER_ARM = 0.28
FOREARM = 0.24
WRIST_1_LENGTH = 0.04
WRIST_2_LENGTH = 0.04
ARM_RADIUS = 0.035
GRIPPER_LENGTH = 0.06            # palm
FINGER_LENGTH = 0.07
FINGER_TRAVEL = 0.04             # each finger, m (open width 0.08 m)
TOOL_OFFSET = GRIPPER_LENGTH + 0.05   # flange to the grasp point between the fingertips


def _fmt(*values: float) -> str:
    return " ".join(f"{v:.9g}" if abs(v) > 1e-12 else "0" for v in values)


@dataclass(frozen=True)
class Inertia:
    """Mass (kg) and principal moments (kg m^2) about the centre of mass."""

    mass: float
    ixx: float
    iyy: float
    izz: float


def cylinder_inertia(mass: float, radius: float, length: float) -> Inertia:
    """Solid cylinder along its local z."""
    side = mass * (3 * radius ** 2 + length ** 2) / 12.0
    return Inertia(mass, side, side, mass * radius ** 2 / 2.0)


def box_inertia(mass: float, sx: float, sy: float, sz: float) -> Inertia:
    """Solid box with edges sx, sy, sz."""
    return Inertia(mass, mass * (sy ** 2 + sz ** 2) / 12.0, mass * (sx ** 2 + sz ** 2) / 12.0,
                   mass * (sx ** 2 + sy ** 2) / 12.0)


def sphere_inertia(mass: float, radius: float) -> Inertia:
    moment = 2.0 * mass * radius ** 2 / 5.0
    return Inertia(mass, moment, moment, moment)


@dataclass(frozen=True)
class Shape:
    kind: str                   # cylinder, box, sphere
    size: tuple[float, ...]     # cylinder (radius, length); box (sx, sy, sz); sphere (radius,)
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    material: str = "grey"

    def inertia(self, mass: float) -> Inertia:
        if self.kind == "cylinder":
            return cylinder_inertia(mass, *self.size)
        if self.kind == "box":
            return box_inertia(mass, *self.size)
        return sphere_inertia(mass, *self.size)

    def geometry_xml(self) -> str:
        if self.kind == "cylinder":
            return f'<cylinder radius="{_fmt(self.size[0])}" length="{_fmt(self.size[1])}"/>'
        if self.kind == "box":
            return f'<box size="{_fmt(*self.size)}"/>'
        return f'<sphere radius="{_fmt(self.size[0])}"/>'


MATERIALS = {"white": (0.92, 0.92, 0.9, 1), "grey": (0.5, 0.52, 0.55, 1),
             "dark": (0.15, 0.15, 0.17, 1), "blue": (0.2, 0.45, 0.8, 1),
             "black": (0.05, 0.05, 0.05, 1)}


def _link(name: str, shape: Shape | None = None, mass: float = 0.0, collide: bool = True) -> str:
    """A link whose inertia is the solid ``shape`` of ``mass`` (frames: no inertial)."""
    if shape is None:
        return f'  <link name="{name}"/>\n'
    inertia = shape.inertia(mass)
    origin = f'<origin xyz="{_fmt(*shape.xyz)}" rpy="{_fmt(*shape.rpy)}"/>'
    geometry = f"<geometry>{shape.geometry_xml()}</geometry>"
    out = [f'  <link name="{name}">',
           f"    <inertial>{origin}<mass value=\"{_fmt(mass)}\"/>"
           f'<inertia ixx="{_fmt(inertia.ixx)}" ixy="0" ixz="0" iyy="{_fmt(inertia.iyy)}" iyz="0" '
           f'izz="{_fmt(inertia.izz)}"/></inertial>',
           f'    <visual>{origin}{geometry}<material name="{shape.material}"/></visual>']
    if collide:
        out.append(f"    <collision>{origin}{geometry}</collision>")
    out.append("  </link>\n")
    return "\n".join(out)


@dataclass(frozen=True)
class Limit:
    lower: float
    upper: float
    velocity: float     # rad/s or m/s
    effort: float       # N m or N


def _joint(name: str, kind: str, parent: str, child: str, xyz=(0.0, 0.0, 0.0), rpy=(0.0, 0.0, 0.0),
           axis=(0.0, 0.0, 1.0), limit: Limit | None = None, mimic: str | None = None,
           damping: float = 0.0) -> str:
    out = [f'  <joint name="{name}" type="{kind}">',
           f'    <parent link="{parent}"/><child link="{child}"/>',
           f'    <origin xyz="{_fmt(*xyz)}" rpy="{_fmt(*rpy)}"/>']
    if kind != "fixed":
        out.append(f'    <axis xyz="{_fmt(*axis)}"/>')
        out.append(f'    <dynamics damping="{_fmt(damping)}" friction="0"/>')
    if limit is not None:
        if kind == "continuous":
            out.append(f'    <limit velocity="{_fmt(limit.velocity)}" effort="{_fmt(limit.effort)}"/>')
        else:
            out.append(f'    <limit lower="{_fmt(limit.lower)}" upper="{_fmt(limit.upper)}" '
                       f'velocity="{_fmt(limit.velocity)}" effort="{_fmt(limit.effort)}"/>')
    if mimic:
        out.append(f'    <mimic joint="{mimic}" multiplier="1" offset="0"/>')
    out.append("  </joint>\n")
    return "\n".join(out)


# Joint limits: position (rad), velocity (rad/s, kept slow for people nearby), effort (N m).
ARM_JOINTS = ("arm_shoulder_pan_joint", "arm_shoulder_lift_joint", "arm_elbow_joint",
              "arm_wrist_1_joint", "arm_wrist_2_joint", "arm_wrist_3_joint")
HEAD_JOINTS = ("head_pan_joint", "head_tilt_joint")
GRIPPER_JOINT = "gripper_finger_joint"
WHEEL_JOINTS = ("left_wheel_joint", "right_wheel_joint")
LIMITS: dict[str, Limit] = {
    "arm_shoulder_pan_joint": Limit(-1.6, 1.6, 1.5, 40.0),
    "arm_shoulder_lift_joint": Limit(-0.6, 3.0, 1.5, 40.0),     # + swings the arm forward/up
    "arm_elbow_joint": Limit(-0.1, 2.6, 1.5, 25.0),             # + folds the forearm forward/up
    "arm_wrist_1_joint": Limit(-2.0, 2.0, 2.0, 8.0),
    "arm_wrist_2_joint": Limit(-2.0, 2.0, 2.0, 8.0),
    "arm_wrist_3_joint": Limit(-3.1, 3.1, 2.5, 5.0),
    "head_pan_joint": Limit(-2.0, 2.0, 1.5, 5.0),
    "head_tilt_joint": Limit(-0.5, 0.9, 1.5, 5.0),              # + looks down (REP-103 pitch)
    "gripper_finger_joint": Limit(0.0, FINGER_TRAVEL, 0.05, 40.0),
    "left_wheel_joint": Limit(0.0, 0.0, MAX_WHEEL_SPEED, MAX_WHEEL_TORQUE),
    "right_wheel_joint": Limit(0.0, 0.0, MAX_WHEEL_SPEED, MAX_WHEEL_TORQUE),
}


def generate_urdf() -> str:
    """The URDF text of the robot."""
    half_pi = math.pi / 2
    axle = WHEEL_RADIUS                              # base_link height above the floor
    shell_len = BASE_TOP - BASE_BOTTOM
    parts = ['<?xml version="1.0"?>',
             "<!-- GENERATED by carebot/motion/description.py; do not edit by hand. -->",
             '<robot name="carebot">']
    for name, rgba in MATERIALS.items():
        parts.append(f'  <material name="{name}"><color rgba="{_fmt(*rgba)}"/></material>')
    parts.append("")
    # Base
    parts.append(_link("base_footprint"))
    parts.append(_joint("base_footprint_joint", "fixed", "base_footprint", "base_link", xyz=(0, 0, axle)))
    parts.append(_link("base_link", Shape("cylinder", (FOOTPRINT_RADIUS, shell_len),
                                          (0, 0, BASE_BOTTOM + shell_len / 2 - axle), material="white"),
                       BASE_MASS))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        parts.append(_joint(f"{side}_wheel_joint", "continuous", "base_link", f"{side}_wheel",
                            xyz=(0, sign * WHEEL_SEPARATION / 2, 0), axis=(0, 1, 0),
                            limit=LIMITS[f"{side}_wheel_joint"], damping=0.05))
        parts.append(_link(f"{side}_wheel", Shape("cylinder", (WHEEL_RADIUS, WHEEL_WIDTH), rpy=(half_pi, 0, 0),
                                                   material="black"), WHEEL_MASS))
    for side, sign in (("front", 1.0), ("rear", -1.0)):
        parts.append(_joint(f"{side}_caster_joint", "fixed", "base_link", f"{side}_caster",
                            xyz=(sign * CASTER_OFFSET_X, 0, CASTER_RADIUS - axle)))
        parts.append(_link(f"{side}_caster", Shape("sphere", (CASTER_RADIUS,), material="dark"), CASTER_MASS))
    # Lidar: scan plane at LASER_HEIGHT, body below it down to the deck.
    laser_body = LASER_HEIGHT + 0.015 - BASE_TOP
    parts.append(_joint("laser_joint", "fixed", "base_link", "laser", xyz=(LASER_X, 0, LASER_HEIGHT - axle)))
    parts.append(_link("laser", Shape("cylinder", (LASER_RADIUS, laser_body), (0, 0, 0.015 - laser_body / 2),
                                      material="dark"), LASER_MASS))
    # Torso
    parts.append(_joint("torso_joint", "fixed", "base_link", "torso_link", xyz=(TORSO_X, 0, BASE_TOP - axle)))
    parts.append(_link("torso_link", Shape("cylinder", (TORSO_RADIUS, TORSO_LENGTH), (0, 0, TORSO_LENGTH / 2),
                                           material="white"), TORSO_MASS))
    # Head: pan on top of the column, tilt above it, camera in the face.
    parts.append(_joint("head_pan_joint", "revolute", "torso_link", "head_pan_link", xyz=(0, 0, TORSO_LENGTH),
                        axis=(0, 0, 1), limit=LIMITS["head_pan_joint"], damping=0.1))
    parts.append(_link("head_pan_link", Shape("cylinder", (0.03, NECK_LENGTH), (0, 0, NECK_LENGTH / 2),
                                              material="grey"), 0.2))
    parts.append(_joint("head_tilt_joint", "revolute", "head_pan_link", "head_tilt_link", xyz=(0, 0, NECK_LENGTH),
                        axis=(0, 1, 0), limit=LIMITS["head_tilt_joint"], damping=0.1))
    parts.append(_link("head_tilt_link", Shape("box", HEAD_SIZE, (0, 0, 0.02), material="white"), HEAD_MASS))
    parts.append(_joint("camera_joint", "fixed", "head_tilt_link", "camera_link", xyz=(CAMERA_FORWARD, 0, 0.02)))
    parts.append(_link("camera_link", Shape("box", (0.02, 0.08, 0.03), material="black"), CAMERA_MASS,
                       collide=False))
    parts.append(_joint("camera_optical_joint", "fixed", "camera_link", "camera_optical_frame",
                        rpy=(-half_pi, 0, -half_pi)))
    parts.append(_link("camera_optical_frame"))
    # Arm: mounted on the right of the column, hangs straight down at zero.
    torso_base = BASE_TOP
    parts.append(_joint("arm_mount_joint", "fixed", "torso_link", "arm_base_link",
                        xyz=(0, SHOULDER_Y, SHOULDER_HEIGHT - torso_base)))
    parts.append(_link("arm_base_link", Shape("cylinder", (ARM_RADIUS + 0.005, 0.06), material="grey"), 0.5))
    parts.append(_joint("arm_shoulder_pan_joint", "revolute", "arm_base_link", "arm_shoulder_link",
                        axis=(0, 0, 1), limit=LIMITS["arm_shoulder_pan_joint"], damping=0.5))
    parts.append(_link("arm_shoulder_link", Shape("cylinder", (ARM_RADIUS, SHOULDER_OFFSET),
                                                  (0, -SHOULDER_OFFSET / 2, 0), (half_pi, 0, 0), "blue"), 1.0))
    # Pitch joints turn about -y so that positive angles swing the arm forward and up.
    parts.append(_joint("arm_shoulder_lift_joint", "revolute", "arm_shoulder_link", "arm_upper_arm_link",
                        xyz=(0, -SHOULDER_OFFSET, 0), axis=(0, -1, 0), limit=LIMITS["arm_shoulder_lift_joint"],
                        damping=0.5))
    parts.append(_link("arm_upper_arm_link", Shape("cylinder", (ARM_RADIUS, UPPER_ARM), (0, 0, -UPPER_ARM / 2),
                                                   material="white"), 1.5))
    parts.append(_joint("arm_elbow_joint", "revolute", "arm_upper_arm_link", "arm_forearm_link",
                        xyz=(0, 0, -UPPER_ARM), axis=(0, -1, 0), limit=LIMITS["arm_elbow_joint"], damping=0.3))
    parts.append(_link("arm_forearm_link", Shape("cylinder", (ARM_RADIUS - 0.005, FOREARM), (0, 0, -FOREARM / 2),
                                                 material="white"), 1.0))
    parts.append(_joint("arm_wrist_1_joint", "revolute", "arm_forearm_link", "arm_wrist_1_link",
                        xyz=(0, 0, -FOREARM), axis=(0, -1, 0), limit=LIMITS["arm_wrist_1_joint"], damping=0.1))
    parts.append(_link("arm_wrist_1_link", Shape("cylinder", (0.028, WRIST_1_LENGTH), (0, 0, -WRIST_1_LENGTH / 2),
                                                 material="blue"), 0.4))
    parts.append(_joint("arm_wrist_2_joint", "revolute", "arm_wrist_1_link", "arm_wrist_2_link",
                        xyz=(0, 0, -WRIST_1_LENGTH), axis=(1, 0, 0), limit=LIMITS["arm_wrist_2_joint"], damping=0.1))
    parts.append(_link("arm_wrist_2_link", Shape("cylinder", (0.028, WRIST_2_LENGTH), (0, 0, -WRIST_2_LENGTH / 2),
                                                 material="blue"), 0.4))
    parts.append(_joint("arm_wrist_3_joint", "revolute", "arm_wrist_2_link", "arm_wrist_3_link",
                        xyz=(0, 0, -WRIST_2_LENGTH), axis=(0, 0, 1), limit=LIMITS["arm_wrist_3_joint"], damping=0.05))
    parts.append(_link("arm_wrist_3_link", Shape("cylinder", (0.03, 0.01), (0, 0, -0.005), material="dark"), 0.1))
    # Gripper: palm along -z of the flange, two fingers closing along y.
    parts.append(_joint("gripper_mount_joint", "fixed", "arm_wrist_3_link", "gripper_base_link",
                        xyz=(0, 0, -0.01)))
    parts.append(_link("gripper_base_link", Shape("box", (0.05, 0.12, GRIPPER_LENGTH), (0, 0, -GRIPPER_LENGTH / 2),
                                                  material="dark"), 0.35))
    finger = Shape("box", (0.02, 0.012, FINGER_LENGTH), (0, 0, -FINGER_LENGTH / 2), material="grey")
    # Closed at 0 (fingers touching), open at FINGER_TRAVEL; the right finger mirrors the left.
    parts.append(_joint("gripper_finger_joint", "prismatic", "gripper_base_link", "gripper_left_finger_link",
                        xyz=(0, 0.006, -GRIPPER_LENGTH), axis=(0, 1, 0), limit=LIMITS[GRIPPER_JOINT], damping=1.0))
    parts.append(_link("gripper_left_finger_link", finger, 0.05))
    parts.append(_joint("gripper_right_finger_joint", "prismatic", "gripper_base_link", "gripper_right_finger_link",
                        xyz=(0, -0.006, -GRIPPER_LENGTH), axis=(0, -1, 0), limit=LIMITS[GRIPPER_JOINT],
                        mimic=GRIPPER_JOINT, damping=1.0))
    parts.append(_link("gripper_right_finger_link", finger, 0.05))
    parts.append(_joint("gripper_tool_joint", "fixed", "arm_wrist_3_link", "gripper_tool_frame",
                        xyz=(0, 0, -0.01 - TOOL_OFFSET)))
    parts.append(_link("gripper_tool_frame"))
    parts.append(_gazebo_sensors())
    parts.append("</robot>\n")
    return "\n".join(parts)


def _gazebo_sensors() -> str:
    """Sensor blocks for Gazebo; other parsers ignore <gazebo> elements."""
    return f"""  <gazebo reference="laser">
    <sensor name="lidar" type="gpu_lidar">
      <topic>scan</topic>
      <update_rate>10</update_rate>
      <lidar>
        <scan><horizontal><samples>360</samples><resolution>1</resolution>
          <min_angle>{-math.pi:.6f}</min_angle><max_angle>{math.pi:.6f}</max_angle></horizontal></scan>
        <range><min>0.12</min><max>12.0</max><resolution>0.01</resolution></range>
      </lidar>
    </sensor>
  </gazebo>
  <gazebo reference="camera_link">
    <sensor name="camera" type="camera">
      <topic>camera/image_raw</topic>
      <update_rate>15</update_rate>
      <camera>
        <horizontal_fov>1.2</horizontal_fov>
        <image><width>640</width><height>480</height></image>
        <clip><near>0.05</near><far>30</far></clip>
      </camera>
    </sensor>
  </gazebo>
"""


def write_urdf(path: Path = URDF_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generate_urdf(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_urdf())
