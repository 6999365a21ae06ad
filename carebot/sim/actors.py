"""People in the simulation: photo cut-outs that stand, walk a path and fall.

Pure logic (no MuJoCo, no ROS): an ``Actor`` integrates its own motion and
gives the pose of its cut-out box; the simulator copies that pose into a mocap
body. The cut-out is a box thin along its own x (the photo is on the +-x
faces), tall along z. Standing, its x axis points where the person faces.
Two ways to lie on the floor (``FallStyle``):

- ``side`` (default): the cut-out topples sideways in the camera's view plane
  and keeps facing the camera, so the camera sees a person lying on the floor
  from the side, as fall data sets show them. Measured with the shipped fall
  model at 640 px, camera 1.3 m high, head level: Fall 0.74 at 3.0 m, 0.65 at
  3.5 m (docs/sim.md).
- ``face_up``: the photo faces the sky (the verified orientation of docs/sim.md,
  quat -0.5 0.5 0.5 0.5 = yaw -90 deg here). Seen obliquely from 1.3 m it is
  thin in the image: Fall 0.45 at 3.0 m with the head tilted 0.3 rad, nothing at 3.5 m.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from carebot.sim.assets import PHOTOS

FALL_DURATION_S = 0.8        # a fall from upright to the floor takes about this long
GET_UP_DURATION_S = 2.0      # getting up is slower than falling
WALK_SPEED_MPS = 0.8         # an elderly walking pace
CUTOUT_HALF_THICKNESS_M = 0.02
ARRIVAL_TOLERANCE_M = 0.05


class ActorError(ValueError):
    """A bad actor definition or command; the message names the actor."""


class FallStyle(enum.Enum):
    SIDE = "side"
    FACE_UP = "face_up"


class Posture(enum.Enum):
    STANDING = "standing"
    WALKING = "walking"
    FALLING = "falling"
    LYING = "lying"
    GETTING_UP = "getting_up"


def quat_from_matrix(rot: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix."""
    trace = rot[0, 0] + rot[1, 1] + rot[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = [0.25 * s, (rot[2, 1] - rot[1, 2]) / s, (rot[0, 2] - rot[2, 0]) / s, (rot[1, 0] - rot[0, 1]) / s]
    elif rot[0, 0] > rot[1, 1] and rot[0, 0] > rot[2, 2]:
        s = 2.0 * math.sqrt(1.0 + rot[0, 0] - rot[1, 1] - rot[2, 2])
        q = [(rot[2, 1] - rot[1, 2]) / s, 0.25 * s, (rot[0, 1] + rot[1, 0]) / s, (rot[0, 2] + rot[2, 0]) / s]
    elif rot[1, 1] > rot[2, 2]:
        s = 2.0 * math.sqrt(1.0 + rot[1, 1] - rot[0, 0] - rot[2, 2])
        q = [(rot[0, 2] - rot[2, 0]) / s, (rot[0, 1] + rot[1, 0]) / s, 0.25 * s, (rot[1, 2] + rot[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + rot[2, 2] - rot[0, 0] - rot[1, 1])
        q = [(rot[1, 0] - rot[0, 1]) / s, (rot[0, 2] + rot[2, 0]) / s, (rot[1, 2] + rot[2, 1]) / s, 0.25 * s]
    q = np.asarray(q)
    return q / np.linalg.norm(q)


def _rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _wrap(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))


@dataclass
class Actor:
    """One person: where the feet are, which way the photo faces, the posture."""

    name: str
    photo: str
    x: float
    y: float
    yaw: float                       # rad; direction the photo faces (standing) / the head points away from (lying)
    face_camera: bool = True         # a cut-out turns to the robot's camera while upright
    speed: float = WALK_SPEED_MPS
    posture: Posture = Posture.STANDING
    path: list[tuple[float, float]] = field(default_factory=list)
    tilt: float = 0.0                # rad: 0 upright, pi/2 on the floor
    fall_style: FallStyle = FallStyle.SIDE

    def __post_init__(self) -> None:
        if self.photo not in PHOTOS:
            raise ActorError(f"actor {self.name}: unknown photo {self.photo!r}; known: {', '.join(PHOTOS)}")
        if not (0.0 < self.speed <= 3.0):
            raise ActorError(f"actor {self.name}: speed {self.speed} m/s is outside (0, 3]")

    # --- sizes -----------------------------------------------------------
    @property
    def height(self) -> float:
        return PHOTOS[self.photo].height_m

    @property
    def width(self) -> float:
        return self.height * PHOTOS[self.photo].aspect

    def half_size(self) -> tuple[float, float, float]:
        """Box half sizes (x thin, y width, z height), m."""
        return (CUTOUT_HALF_THICKNESS_M, self.width / 2, self.height / 2)

    @property
    def fallen(self) -> bool:
        return self.posture in (Posture.FALLING, Posture.LYING)

    # --- commands --------------------------------------------------------
    def walk(self, waypoints: list[tuple[float, float]]) -> None:
        """Walk through the waypoints (m, map frame) at ``speed``; upright actors only."""
        if self.fallen or self.posture is Posture.GETTING_UP:
            raise ActorError(f"actor {self.name} is on the floor and cannot walk")
        if not waypoints:
            raise ActorError(f"actor {self.name}: walk needs at least one waypoint")
        self.path = [(float(px), float(py)) for px, py in waypoints]
        self.posture = Posture.WALKING

    def fall(self, camera_xy: tuple[float, float] | None = None) -> None:
        """Fall to the floor across the camera's view when a camera position is given.

        A person lying along the camera's line of sight looks upright in the
        image, so the cut-out falls across the line of sight from where the
        camera is at the moment of the fall (then stays put as the robot moves).
        """
        if self.fallen:
            return
        if camera_xy is not None:
            bearing = math.atan2(camera_xy[1] - self.y, camera_xy[0] - self.x)
            # side: keep facing the camera; face_up: the head-feet axis across the view.
            self.yaw = bearing if self.fall_style is FallStyle.SIDE else _wrap(bearing + math.pi / 2)
        self.path = []
        self.posture = Posture.FALLING

    def stand(self) -> None:
        """Get up again (from lying) or stop walking."""
        self.path = []
        if self.fallen:
            self.posture = Posture.GETTING_UP
        elif self.posture is Posture.WALKING:
            self.posture = Posture.STANDING

    # --- motion ----------------------------------------------------------
    def step(self, dt: float, camera_xy: tuple[float, float] | None = None) -> None:
        """Advance by dt seconds of sim time."""
        if self.posture is Posture.WALKING:
            self._walk_step(dt)
        elif self.posture is Posture.FALLING:
            self.tilt = min(math.pi / 2, self.tilt + dt * (math.pi / 2) / FALL_DURATION_S)
            if self.tilt >= math.pi / 2:
                self.posture = Posture.LYING
        elif self.posture is Posture.GETTING_UP:
            self.tilt = max(0.0, self.tilt - dt * (math.pi / 2) / GET_UP_DURATION_S)
            if self.tilt <= 0.0:
                self.posture = Posture.STANDING
        if self.face_camera and camera_xy is not None and self.posture in (Posture.STANDING, Posture.WALKING):
            self.yaw = math.atan2(camera_xy[1] - self.y, camera_xy[0] - self.x)

    def _walk_step(self, dt: float) -> None:
        budget = self.speed * dt
        while self.path and budget > 0:
            tx, ty = self.path[0]
            dist = math.hypot(tx - self.x, ty - self.y)
            if dist <= max(budget, ARRIVAL_TOLERANCE_M):
                self.x, self.y = tx, ty
                budget -= dist
                self.path.pop(0)
                continue
            self.x += (tx - self.x) / dist * budget
            self.y += (ty - self.y) / dist * budget
            if not self.face_camera:
                self.yaw = math.atan2(ty - self.y, tx - self.x)
            budget = 0.0
        if not self.path:
            self.posture = Posture.STANDING

    def rotation(self) -> np.ndarray:
        """Rotation of the cut-out box: yaw about z, then the fall's tilt."""
        if self.fall_style is FallStyle.SIDE:
            return _rot_z(self.yaw) @ _rot_x(self.tilt)          # topple sideways, photo to the camera
        return _rot_z(self.yaw) @ _rot_y(-self.tilt)             # fall backwards, photo to the sky

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre (x, y, z) of the box and its quaternion (w, x, y, z)."""
        rot = self.rotation()
        feet = np.array([self.x, self.y, 0.0])
        # Pivot at the feet; the lift keeps the box's lower edge on top of the floor.
        centre = feet + rot @ np.array([CUTOUT_HALF_THICKNESS_M, 0.0, self.height / 2])
        if self.fall_style is FallStyle.SIDE:
            centre[2] += (self.width / 2) * math.sin(self.tilt)
        return centre, quat_from_matrix(rot)


def load_actors(path: str | Path) -> list[Actor]:
    """Actors of a site from YAML: ``actors: [{name, photo, pose: [x, y, yaw_deg]}, ...]``."""
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return parse_actors(data, str(path))


def parse_actors(data: dict, where: str = "actors") -> list[Actor]:
    if not isinstance(data, dict):
        raise ActorError(f"{where}: top level must be a mapping")
    actors: list[Actor] = []
    for i, item in enumerate(data.get("actors") or []):
        if not isinstance(item, dict) or "name" not in item or "pose" not in item:
            raise ActorError(f"{where}: actors[{i}] needs name and pose")
        pose = item["pose"]
        if not isinstance(pose, (list, tuple)) or len(pose) != 3:
            raise ActorError(f"{where}: actors[{i}].pose must be [x, y, yaw_deg]")
        x, y, yaw = (float(v) for v in pose)
        actor = Actor(str(item["name"]), str(item.get("photo", next(iter(PHOTOS)))), x, y, math.radians(yaw),
                      face_camera=bool(item.get("face_camera", True)),
                      speed=float(item.get("speed", WALK_SPEED_MPS)))
        try:
            actor.fall_style = FallStyle(item.get("fall_style", FallStyle.SIDE.value))
        except ValueError:
            raise ActorError(f"{where}: actors[{i}].fall_style must be one of "
                             f"{', '.join(f.value for f in FallStyle)}") from None
        if item.get("posture") == "lying":
            actor.posture, actor.tilt = Posture.LYING, math.pi / 2
        actors.append(actor)
    names = [a.name for a in actors]
    if len(set(names)) != len(names):
        raise ActorError(f"{where}: actor names must be unique, got {names}")
    return actors
