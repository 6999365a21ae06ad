"""Is a lying person on a bed or a sofa? Rays through the box's bottom edge against the site's furniture.

Pure module. A person lying on a bed (0.6 m) or a sofa seat (0.45 m) looks, to the
model and to the box shape, like a person lying on the floor. The site's world file
(models/worlds/<site>.yaml) knows where its beds and sofas stand; with the camera's
pose on the map (odometry + head joints), the ray through the bottom of a person's
box meets either the floor or the top of a piece of furniture first. If it meets a
bed, sofa or armchair on its top or the top third of a side, the person rests on it: not a
fall. A ray into the lower part of a side passes furniture that hides part of someone
lying behind it: no veto.

Known blind spot: someone lying on the floor right behind a bed, hidden by it up to
the mattress, has the bottom of the visible box on the mattress's far edge and is
taken as lying on the bed.
"""
from __future__ import annotations

import math
from typing import Iterable, Protocol

import numpy as np

from carebot.perception.detection import Box
from carebot.perception.geometry import CameraPose, Intrinsics, pixel_ray

# Furniture a person may lie or rest on (matched as a word in the furniture's name).
REST_FURNITURE = ("bed", "sofa", "couch", "armchair", "recliner", "daybed")
BOTTOM_SAMPLES = (0.25, 0.5, 0.75)   # where along the box's bottom edge rays are cast (share of width)
BOTTOM_INSET = 0.04                  # rays this share of the box height above its bottom edge
# A ray that meets a side face this high up (share of the furniture's height) or the top face
# ends on the furniture: seen from 1.3 m the top of a 0.6 m bed is a thin strip, and a body
# lying on it hangs over the strip's front edge in the image. Lower hits on a side face are
# furniture in front of someone lying on the floor behind it (only part of them is hidden).
SUPPORT_HEIGHT_SHARE = 0.65


class Solid(Protocol):
    """An upright box on the floor (carebot.world.Box has these fields)."""

    name: str
    cx: float
    cy: float
    sx: float
    sy: float
    sz: float
    yaw: float


def is_rest_furniture(name: str) -> bool:
    words = name.lower().replace("-", "_").split("_")
    return any(w in REST_FURNITURE for w in words)


def ray_hits_box(origin: np.ndarray, direction: np.ndarray, solid: Solid,
                 floor_z: float = 0.0) -> tuple[float, float] | None:
    """(distance along the ray, height of the hit as a share of the solid's height: 1 on the top
    face) of the first hit of the solid, None when it misses; slab test in its own frame."""
    c, s = math.cos(solid.yaw), math.sin(solid.yaw)
    rel = origin - np.array([solid.cx, solid.cy, floor_z])
    o = np.array([c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1], rel[2]])
    d = np.array([c * direction[0] + s * direction[1], -s * direction[0] + c * direction[1], direction[2]])
    lo = np.array([-solid.sx / 2, -solid.sy / 2, 0.0])
    hi = np.array([solid.sx / 2, solid.sy / 2, solid.sz])
    t_near, t_far, near_axis = -math.inf, math.inf, -1
    for axis in range(3):
        if abs(d[axis]) < 1e-12:
            if not lo[axis] <= o[axis] <= hi[axis]:
                return None
            continue
        t1, t2 = (lo[axis] - o[axis]) / d[axis], (hi[axis] - o[axis]) / d[axis]
        if min(t1, t2) > t_near:
            t_near, near_axis = min(t1, t2), axis
        t_far = min(t_far, max(t1, t2))
    if t_near > t_far or t_far < 0:
        return None
    t = max(t_near, 0.0)
    share = 1.0 if near_axis == 2 else (o[2] + t * d[2]) / solid.sz if solid.sz > 0 else 0.0
    return t, float(share)


def first_hit(origin: np.ndarray, direction: np.ndarray, furniture: Iterable[Solid],
              floor_z: float = 0.0) -> tuple[Solid, float] | None:
    """(furniture, height share of the hit) that the ray meets before the floor, or None (floor first)."""
    t_floor = (floor_z - origin[2]) / direction[2] if direction[2] < -1e-9 else math.inf
    best, best_t = None, t_floor
    for solid in furniture:
        hit = ray_hits_box(origin, direction, solid, floor_z)
        if hit is not None and hit[0] < best_t:
            best, best_t = (solid, hit[1]), hit[0]
    return best


def resting_on(box: Box, k: Intrinsics, pose: CameraPose, furniture: Iterable[Solid],
               floor_z: float = 0.0, robot: tuple[float, float, float] | None = None) -> str | None:
    """Name of the bed/sofa/armchair that most rays through the box's bottom edge meet first, else None.

    pose is the camera in the robot's base frame (head joints included); furniture is in
    the frame that robot (x, y, yaw) is given in (the map), or in the base frame when
    robot is None. floor_z is the floor's height in that frame."""
    furniture = list(furniture)
    if not furniture or box.height <= 0:
        return None
    origin = np.array([pose.x, pose.y, pose.z])
    rot = None
    if robot is not None:
        c, s = math.cos(robot[2]), math.sin(robot[2])
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        origin = rot @ origin + np.array([robot[0], robot[1], 0.0])
    votes: dict[str, int] = {}
    v = box.y2 - BOTTOM_INSET * box.height
    for share in BOTTOM_SAMPLES:
        direction = pixel_ray(box.x1 + share * box.width, v, k, pose)
        if rot is not None:
            direction = rot @ direction
        hit = first_hit(origin, direction, furniture, floor_z)
        if hit is not None and hit[1] >= SUPPORT_HEIGHT_SHARE and is_rest_furniture(hit[0].name):
            votes[hit[0].name] = votes.get(hit[0].name, 0) + 1
    if not votes:
        return None
    name, count = max(votes.items(), key=lambda kv: kv[1])
    return name if count * 2 > len(BOTTOM_SAMPLES) else None
