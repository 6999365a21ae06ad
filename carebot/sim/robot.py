"""The robot in MuJoCo, loaded from the single robot description ``urdf/carebot.urdf``.

MuJoCo compiles URDF itself; three compiler options are injected first (keep
visual geoms, keep fixed links as bodies so frames like ``laser`` and
``camera_link`` exist, radians). The URDF's root link is attached to the world
under a planar body with joints x, y, yaw that the simulator sets
kinematically from cmd_vel (see carebot.sim.engine for why). Sensor settings
(lidar samples/range, camera field of view/size/rate) are read from the
URDF's ``<gazebo>`` blocks, so Gazebo and MuJoCo simulate the same sensors.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from carebot.paths import ROOT

if TYPE_CHECKING:
    import mujoco

URDF_PATH = ROOT / "urdf" / "carebot.urdf"
ROBOT_PREFIX = "robot/"
BASE_JOINTS = ("base_x", "base_y", "base_yaw")
CAMERA_NAME = "head_camera"
LASER_SITE = "laser_site"
_COMPILER = '<mujoco><compiler discardvisual="false" fusestatic="false" angle="radian" strippath="false"/></mujoco>'


class RobotModelError(RuntimeError):
    """The robot description cannot be used; the message names the file and what is missing."""


@dataclass(frozen=True)
class LidarSpec:
    samples: int = 360
    min_angle: float = -math.pi       # rad
    max_angle: float = math.pi
    range_min: float = 0.12           # m
    range_max: float = 12.0
    rate_hz: float = 10.0


@dataclass(frozen=True)
class CameraSpec:
    width: int = 640
    height: int = 480
    hfov: float = 1.2                 # rad, horizontal
    near: float = 0.05
    far: float = 30.0
    rate_hz: float = 15.0

    @property
    def fovy_deg(self) -> float:
        """MuJoCo's vertical field of view for this horizontal one and aspect."""
        return math.degrees(2 * math.atan(math.tan(self.hfov / 2) * self.height / self.width))


@dataclass(frozen=True)
class JointInfo:
    name: str
    lower: float
    upper: float
    velocity: float                   # rad/s or m/s limit
    continuous: bool
    mimic_of: str = ""
    mimic_multiplier: float = 1.0
    mimic_offset: float = 0.0


@dataclass(frozen=True)
class RobotDescription:
    """What the simulator needs from the URDF besides geometry."""

    path: Path
    root_link: str
    joints: dict[str, JointInfo]
    lidar: LidarSpec
    camera: CameraSpec
    wheel_radius: float
    wheel_separation: float

    @property
    def actuated(self) -> list[str]:
        """Movable joints that are not mimics, in URDF order."""
        return [j.name for j in self.joints.values() if not j.mimic_of]


def _float(elem: ET.Element | None, default: float) -> float:
    if elem is None or elem.text is None:
        return default
    return float(elem.text.strip())


def read_description(path: Path = URDF_PATH) -> RobotDescription:
    """Parse joints, limits, mimics, wheel geometry and sensors from the URDF."""
    if not path.exists():
        raise RobotModelError(f"robot description {path} is missing (made by carebot.motion.description)")
    root = ET.parse(path).getroot()
    children = {j.find("child").get("link") for j in root.iter("joint")}
    roots = [link.get("name") for link in root.iter("link") if link.get("name") not in children]
    if len(roots) != 1:
        raise RobotModelError(f"{path}: expected one root link, found {roots}")
    joints: dict[str, JointInfo] = {}
    origins: dict[str, tuple[float, ...]] = {}
    for joint in root.iter("joint"):
        name, kind = joint.get("name"), joint.get("type")
        origin = joint.find("origin")
        origins[name] = tuple(float(v) for v in (origin.get("xyz", "0 0 0") if origin is not None else "0 0 0").split())
        if kind == "fixed":
            continue
        limit = joint.find("limit")
        lower = float(limit.get("lower", "-inf")) if limit is not None else -math.inf
        upper = float(limit.get("upper", "inf")) if limit is not None else math.inf
        velocity = float(limit.get("velocity", "1.0")) if limit is not None else 1.0
        mimic = joint.find("mimic")
        joints[name] = JointInfo(
            name, -math.inf if kind == "continuous" else lower, math.inf if kind == "continuous" else upper,
            velocity, kind == "continuous",
            mimic.get("joint", "") if mimic is not None else "",
            float(mimic.get("multiplier", "1")) if mimic is not None else 1.0,
            float(mimic.get("offset", "0")) if mimic is not None else 0.0)
    for needed in ("left_wheel_joint", "right_wheel_joint"):
        if needed not in joints:
            raise RobotModelError(f"{path}: joint {needed} is missing")
    wheel_separation = abs(origins["left_wheel_joint"][1] - origins["right_wheel_joint"][1])
    wheel_radius = 0.08
    for link in root.iter("link"):
        if link.get("name") == _child_of(root, "left_wheel_joint"):
            cylinder = link.find("./collision/geometry/cylinder")
            if cylinder is not None:
                wheel_radius = float(cylinder.get("radius"))
    return RobotDescription(path, roots[0], joints, _lidar_spec(root), _camera_spec(root),
                            wheel_radius, wheel_separation)


def _child_of(root: ET.Element, joint_name: str) -> str:
    for joint in root.iter("joint"):
        if joint.get("name") == joint_name:
            return joint.find("child").get("link")
    return ""


def _sensor(root: ET.Element, kinds: tuple[str, ...]) -> ET.Element | None:
    for gazebo in root.iter("gazebo"):
        for sensor in gazebo.iter("sensor"):
            if sensor.get("type") in kinds:
                return sensor
    return None


def _lidar_spec(root: ET.Element) -> LidarSpec:
    sensor = _sensor(root, ("gpu_lidar", "lidar", "ray", "gpu_ray"))
    if sensor is None:
        return LidarSpec()
    horizontal = sensor.find(".//scan/horizontal")
    rng = sensor.find(".//range")
    default = LidarSpec()
    return LidarSpec(int(_float(horizontal.find("samples") if horizontal is not None else None, default.samples)),
                     _float(horizontal.find("min_angle") if horizontal is not None else None, default.min_angle),
                     _float(horizontal.find("max_angle") if horizontal is not None else None, default.max_angle),
                     _float(rng.find("min") if rng is not None else None, default.range_min),
                     _float(rng.find("max") if rng is not None else None, default.range_max),
                     _float(sensor.find("update_rate"), default.rate_hz))


def _camera_spec(root: ET.Element) -> CameraSpec:
    sensor = _sensor(root, ("camera", "rgbd_camera"))
    if sensor is None:
        return CameraSpec()
    default = CameraSpec()
    return CameraSpec(int(_float(sensor.find(".//image/width"), default.width)),
                      int(_float(sensor.find(".//image/height"), default.height)),
                      _float(sensor.find(".//horizontal_fov"), default.hfov),
                      _float(sensor.find(".//clip/near"), default.near),
                      _float(sensor.find(".//clip/far"), default.far),
                      _float(sensor.find("update_rate"), default.rate_hz))


def robot_spec(path: Path = URDF_PATH) -> "mujoco.MjSpec":
    """The URDF compiled by MuJoCo's own parser, with visual geoms and all links kept."""
    import mujoco  # here, not at the top: description reading must not load MuJoCo (see camera_model)

    text = path.read_text(encoding="utf-8")
    head_end = text.find(">", text.find("<robot"))
    if head_end < 0:
        raise RobotModelError(f"{path}: no <robot> element")
    text = text[: head_end + 1] + _COMPILER + text[head_end + 1:]
    try:
        return mujoco.MjSpec.from_string(text)
    except ValueError as exc:
        raise RobotModelError(f"{path}: MuJoCo cannot parse it: {exc}") from None


def attach_robot(world: "mujoco.MjSpec", description: RobotDescription, camera: CameraSpec) -> None:
    """Attach the robot to a world spec on a kinematic planar base with a camera and a laser site."""
    import mujoco

    robot = robot_spec(description.path)
    root_body = robot.body(description.root_link)
    if root_body is None:
        raise RobotModelError(f"{description.path}: MuJoCo found no body {description.root_link}")
    # The camera looks along camera_link +x with +z up: MuJoCo cameras look along -z, y up.
    cam_body = robot.body("camera_link")
    if cam_body is None:
        raise RobotModelError(f"{description.path}: link camera_link is missing")
    cam = cam_body.add_camera(name=CAMERA_NAME, fovy=camera.fovy_deg)
    cam.alt.type = mujoco.mjtOrientation.mjORIENTATION_XYAXES
    cam.alt.xyaxes = [0, -1, 0, 0, 0, 1]
    laser = robot.body("laser")
    if laser is None:
        raise RobotModelError(f"{description.path}: link laser is missing")
    laser.add_site(name=LASER_SITE)

    base = world.worldbody.add_body(name="robot_base")
    base.add_joint(name=BASE_JOINTS[0], type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[1, 0, 0])
    base.add_joint(name=BASE_JOINTS[1], type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 1, 0])
    base.add_joint(name=BASE_JOINTS[2], type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1])
    base.add_frame().attach_body(root_body, ROBOT_PREFIX, "")
