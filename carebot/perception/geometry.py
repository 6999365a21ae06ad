"""Floor position of a person from the image: ground-plane intersection of a pixel ray.

Pure module. Frames: the camera optical frame (x right, y down, z forward) and
the robot base frame (x forward, y left, z up, the floor at z = floor_z: 0 for
base_footprint, minus the base height for base_link). The camera pose in
the base frame is a position plus yaw (about z, left positive) and pitch (about y,
positive looks down), to which the head's pan and tilt joints add (the head is
modelled as turning about the camera's own mount point, a small error for a
head whose joints sit a few cm from the lens). Lens distortion is ignored: the
pinhole model uses K from CameraInfo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_FLOOR_RANGE_M = 30.0  # rays hitting the floor further away are near-horizontal noise
# A person lying on the floor, seen from a robot's camera, has a box whose top stands 0.25-0.8 m
# over its feet (the far end of the body lies further away); one bending or sitting 0.7-1.6 m,
# standing 1.5 m or more (docs/perception.md, 5 Dec). From 1.0 m a box is not lying.
MAX_LYING_HEIGHT_M = 1.0
# Under this a box's top is so near the floor that the person is down, whatever the model's
# class says (the lowest bending head on the development parts was 0.64 m, fallen people
# 0.25-0.78 m; docs/perception.md, 5 Dec afternoon).
NEAR_FLOOR_M = 0.6


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (from sensor_msgs/CameraInfo.k)."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_k(cls, k) -> "Intrinsics":
        """From a row-major 3x3 K (CameraInfo.k); raises ValueError if it is unset or degenerate."""
        k = [float(v) for v in k]
        if len(k) != 9:
            raise ValueError(f"K needs 9 values, got {len(k)}")
        fx, fy, cx, cy = k[0], k[4], k[2], k[5]
        if not (fx > 0 and fy > 0 and math.isfinite(cx) and math.isfinite(cy)):
            raise ValueError(f"degenerate intrinsics fx={fx} fy={fy}")
        return cls(fx, fy, cx, cy)

    @classmethod
    def from_fov(cls, width: int, height: int, horizontal_fov_rad: float) -> "Intrinsics":
        """Square-pixel intrinsics of an ideal camera with the given horizontal field of view."""
        f = (width / 2.0) / math.tan(horizontal_fov_rad / 2.0)
        return cls(f, f, width / 2.0, height / 2.0)


@dataclass(frozen=True)
class CameraPose:
    """Camera mount in the base frame: position (m), yaw and pitch (rad, pitch > 0 looks down)."""

    x: float = 0.0
    y: float = 0.0
    z: float = 1.2
    yaw: float = 0.0
    pitch: float = 0.0

    def with_head(self, pan: float, tilt: float) -> "CameraPose":
        """The pose after the head pans (left +) and tilts (down +) by these angles, rad."""
        return CameraPose(self.x, self.y, self.z, self.yaw + pan, self.pitch + tilt)

    def rotation(self) -> np.ndarray:
        """3x3 rotation from the camera body frame (x forward, y left, z up) to the base frame."""
        cy, sy = math.cos(self.yaw), math.sin(self.yaw)
        cp, sp = math.cos(self.pitch), math.sin(self.pitch)
        rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
        ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
        return rz @ ry


def pixel_ray(u: float, v: float, k: Intrinsics, pose: CameraPose) -> np.ndarray:
    """Unit direction in the base frame of the ray through pixel (u, v)."""
    x_opt = (u - k.cx) / k.fx
    y_opt = (v - k.cy) / k.fy
    body = np.array([1.0, -x_opt, -y_opt])  # optical (x right, y down, z fwd) -> body (x fwd, y left, z up)
    direction = pose.rotation() @ body
    return direction / np.linalg.norm(direction)


def above_camera(u: float, v: float, k: Intrinsics, pose: CameraPose) -> bool:
    """Whether the ray through pixel (u, v) rises: whatever is seen there is higher than the
    camera (above the horizon line). Nobody lying on the floor reaches that high."""
    return bool(pixel_ray(u, v, k, pose)[2] > 0.0)


def box_above_camera(box, k: Intrinsics, pose: CameraPose) -> bool:
    """Whether the top centre of a person box (detection.Box) is higher than the camera."""
    return above_camera((box.x1 + box.x2) / 2, box.y1, k, pose)


def top_height(box, k: Intrinsics, pose: CameraPose, image_height: int, floor_z: float = 0.0) -> float | None:
    """How high above the floor the top of a person box (detection.Box) is, taken straight above
    where its bottom centre meets the floor, m. None when that floor point is unknown: the box
    is cut by the image's bottom edge (the feet are not seen) or its bottom is at or above the
    horizon. A standing person gives their height; one lying along the view gives a few tenths
    of a metre (the far end of the body lies on the floor, further away)."""
    if box.y2 >= image_height - 2:
        return None
    u = (box.x1 + box.x2) / 2
    feet = floor_point(u, box.y2, k, pose, floor_z)
    if feet is None:
        return None
    reach = math.hypot(feet[0] - pose.x, feet[1] - pose.y)
    ray = pixel_ray(u, box.y1, k, pose)
    across = math.hypot(ray[0], ray[1])
    if across < 1e-6:
        return None
    return float(pose.z + reach / across * ray[2] - floor_z)


def height_marks(box, k: Intrinsics, pose: CameraPose, image_height: int, floor_z: float = 0.0,
                 max_lying_m: float = MAX_LYING_HEIGHT_M, near_floor_m: float = NEAR_FLOOR_M) -> tuple[bool, bool]:
    """(too_high_to_lie, near_floor) of a person box, its top height computed once."""
    height = top_height(box, k, pose, image_height, floor_z)
    too_high = box_above_camera(box, k, pose) or (height is not None and height >= max_lying_m)
    return too_high, height is not None and height < near_floor_m


def too_high_to_lie(box, k: Intrinsics, pose: CameraPose, image_height: int, floor_z: float = 0.0,
                    max_lying_m: float = MAX_LYING_HEIGHT_M) -> bool:
    """Whether a person box reaches higher than anyone lying on the floor: its top is above the
    camera, or max_lying_m or more above the floor at the feet (sitting, bending, standing)."""
    return height_marks(box, k, pose, image_height, floor_z, max_lying_m=max_lying_m)[0]


def near_floor(box, k: Intrinsics, pose: CameraPose, image_height: int, floor_z: float = 0.0,
               max_m: float = NEAR_FLOOR_M) -> bool:
    """Whether the top of a person box stands less than max_m over its feet (the feet seen):
    a head that near the floor is someone lying, or down on the floor some other way."""
    return height_marks(box, k, pose, image_height, floor_z, near_floor_m=max_m)[1]


def floor_point(u: float, v: float, k: Intrinsics, pose: CameraPose, floor_z: float = 0.0,
                max_range_m: float = MAX_FLOOR_RANGE_M) -> tuple[float, float, float] | None:
    """Where the ray through pixel (u, v) meets the floor (z = floor_z), in the base frame.

    None when the ray does not go down (at or above the horizon), when the camera is not
    above the floor, or when the hit is further than max_range_m.
    """
    if pose.z <= floor_z:
        return None
    d = pixel_ray(u, v, k, pose)
    if d[2] >= -1e-6:
        return None
    t = (floor_z - pose.z) / d[2]
    hit = np.array([pose.x, pose.y, pose.z]) + t * d
    if math.hypot(hit[0] - pose.x, hit[1] - pose.y) > max_range_m:
        return None
    return float(hit[0]), float(hit[1]), float(floor_z)
