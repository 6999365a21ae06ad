"""2D lidar geometry without ROS: scan to points, clusters, clearance along a path of travel."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from carebot.world import World, occupancy_grid

# A break between two consecutive returns farther apart than this starts a new cluster.
CLUSTER_GAP = 0.15          # m
# Extent of a cluster that may be a person (one leg ~0.1 m, a body or walker ~0.8 m).
PERSON_MIN_WIDTH = 0.03     # m
PERSON_MAX_WIDTH = 0.9      # m
# A return this close to the site's static map is a wall or furniture, not a person.
STATIC_DISTANCE = 0.2       # m


def scan_to_points(ranges, angle_min: float, angle_increment: float, range_min: float, range_max: float,
                   sensor_xy: tuple[float, float] = (0.0, 0.0), sensor_yaw: float = 0.0,
                   self_radius: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Valid returns of a LaserScan as (N, 2) points in the base frame, in scan order.

    Also returns each point's beam index, so that callers can tell neighbouring beams
    from returns separated by invalid ones. NaN, inf and out-of-range returns are dropped,
    and so are returns within ``self_radius`` of the base origin: the robot's own body
    (the torso column behind the lidar).
    """
    r = np.asarray(ranges, dtype=float).ravel()
    if r.size == 0 or not (math.isfinite(angle_min) and math.isfinite(angle_increment)):
        return np.zeros((0, 2)), np.zeros(0, dtype=int)
    index = np.arange(r.size)
    lo = max(range_min, 0.0) if math.isfinite(range_min) else 0.0
    hi = range_max if math.isfinite(range_max) and range_max > 0 else np.inf
    valid = np.isfinite(r) & (r >= lo) & (r <= hi) & (r > 0)
    r, index = r[valid], index[valid]
    angles = angle_min + index * angle_increment + sensor_yaw
    points = np.column_stack((sensor_xy[0] + r * np.cos(angles), sensor_xy[1] + r * np.sin(angles)))
    if self_radius > 0:
        outside = np.hypot(points[:, 0], points[:, 1]) > self_radius
        points, index = points[outside], index[outside]
    return points, index


@dataclass(frozen=True)
class Cluster:
    centroid: tuple[float, float]
    width: float                # largest distance between two of its points, m (approx.: end to end)
    count: int


def clusters(points: np.ndarray, beam_index: np.ndarray | None = None, gap: float = CLUSTER_GAP) -> list[Cluster]:
    """Split scan-ordered points where neighbours are more than ``gap`` apart (or beams are missing)."""
    n = len(points)
    if n == 0:
        return []
    steps = np.hypot(*np.diff(points, axis=0).T) if n > 1 else np.zeros(0)
    breaks = steps > gap
    if beam_index is not None and n > 1:
        breaks |= np.diff(beam_index) > 1
    starts = np.concatenate(([0], np.nonzero(breaks)[0] + 1))
    ends = np.concatenate((starts[1:], [n]))
    out = []
    for s, e in zip(starts, ends):
        part = points[s:e]
        width = float(np.hypot(*(part[-1] - part[0]))) if len(part) > 1 else 0.0
        # A cluster can curve (a body seen from the side): take the span of its bounding box too.
        width = max(width, float(np.max(np.ptp(part, axis=0)))) if len(part) > 1 else 0.0
        out.append(Cluster((float(part[:, 0].mean()), float(part[:, 1].mean())), width, int(e - s)))
    return out


def person_like(cluster: Cluster, min_width: float = PERSON_MIN_WIDTH, max_width: float = PERSON_MAX_WIDTH) -> bool:
    """A cluster of the size of a person's legs or body (walls and long furniture are wider)."""
    return cluster.count >= 2 and min_width <= cluster.width <= max_width


def travel_clearance(points: np.ndarray, radii: np.ndarray | None, half_width: float, direction: float,
                     heading_change: float = 0.0) -> float:
    """Free distance (m) the round robot can travel before touching a point.

    ``points`` are (N, 2) in the base frame, each a disc of ``radii`` (0 for lidar returns).
    ``half_width`` is the robot radius plus a side margin; ``direction`` +1 forward, -1 back.
    ``heading_change`` (rad) turns the corridor by half the expected turn so that arcs are
    approximated by their chord. Points behind the direction of travel do not count.
    """
    if len(points) == 0:
        return math.inf
    pts = np.asarray(points, dtype=float)
    if heading_change:
        c, s = math.cos(-heading_change / 2), math.sin(-heading_change / 2)
        pts = pts @ np.array([[c, s], [-s, c]])
    x = pts[:, 0] * direction
    y = pts[:, 1]
    reach = half_width + (np.zeros(len(pts)) if radii is None else np.asarray(radii, dtype=float))
    inside = np.abs(y) < reach
    ahead = inside & (x > 0)          # moving away from a point beside the centre is fine
    if not ahead.any():
        return math.inf
    clearance = x[ahead] - np.sqrt(reach[ahead] ** 2 - y[ahead] ** 2)
    return float(max(np.min(clearance), 0.0))


def to_map(points: np.ndarray, pose: tuple[float, float, float]) -> np.ndarray:
    """Base-frame points (N, 2) into the map frame for the base pose (x, y, yaw)."""
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    return np.column_stack((x + c * pts[:, 0] - s * pts[:, 1], y + s * pts[:, 0] + c * pts[:, 1]))


class StaticMap:
    """Distance to the nearest wall or furniture of a site, to tell people from walls."""

    def __init__(self, world: World, resolution: float = 0.05):
        grid = occupancy_grid(world, resolution)
        self.resolution = resolution
        self.distance = ndimage.distance_transform_edt(grid.data < 50) * resolution

    def near_static(self, points_map: np.ndarray, distance: float = STATIC_DISTANCE) -> np.ndarray:
        """Per point: True when within ``distance`` of the static map (or off the map)."""
        rows = np.floor(points_map[:, 1] / self.resolution).astype(int)
        cols = np.floor(points_map[:, 0] / self.resolution).astype(int)
        inside = (rows >= 0) & (rows < self.distance.shape[0]) & (cols >= 0) & (cols < self.distance.shape[1])
        out = np.ones(len(points_map), dtype=bool)
        out[inside] = self.distance[rows[inside], cols[inside]] <= distance
        return out
