"""2D lidar geometry without ROS: scan to points, beam health, clusters, clearance along a path of travel.

Beams are read as REP 117 says: NaN is an erroneous measurement (a fault, never free
space), -inf is an object closer than ``range_min``, +inf is nothing within range. The
safety layer uses ``read_scan`` (faults and too-close beams kept); the navigator only needs
``scan_to_points`` (valid returns).
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from carebot.frames import PlanarPose
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


class Beam(enum.IntEnum):
    """What one lidar beam says (REP 117)."""

    RETURN = 0          # a finite range in [range_min, range_max]
    NO_RETURN = 1       # +inf or beyond range_max: nothing within range (free)
    TOO_CLOSE = 2       # -inf or below range_min: an object closer than the lidar can measure
    FAULT = 3           # NaN, or a scan whose geometry cannot be read: no information


@dataclass(frozen=True)
class Beams:
    """Every beam of one scan: its direction in the base frame and what it says.

    ``problem`` is non-empty when the scan as a whole cannot be used (empty, angles not
    finite, range limits not usable); then every beam is a FAULT.
    """

    angles: np.ndarray                      # rad, beam direction in the base frame
    state: np.ndarray                       # Beam per beam (int8)
    increment: float                        # rad between neighbouring beams (> 0)
    problem: str = ""

    @property
    def count(self) -> int:
        return int(self.state.size)

    def counts(self) -> dict[Beam, int]:
        return {b: int(np.count_nonzero(self.state == b)) for b in Beam}

    def health(self, min_valid_fraction: float) -> str:
        """Empty when enough beams of the whole scan measure something, else why not."""
        if self.problem:
            return self.problem
        n = self.count
        faults = int(np.count_nonzero(self.state == Beam.FAULT))
        if n == 0:
            return "empty scan"
        if (n - faults) < min_valid_fraction * n:
            return f"{faults} of {n} beams NaN (at most {1 - min_valid_fraction:.0%} allowed)"
        return ""

    def sector(self, centre: float, half_width: float) -> "SectorView":
        """The beams within ``half_width`` rad of the direction ``centre`` (rad, base frame)."""
        if self.problem or self.count == 0 or not (math.isfinite(centre) and self.increment > 0):
            expected = max(int(round(2 * half_width / self.increment)), 1) if self.increment > 0 else 1
            return SectorView(expected, 0, 0, 0, 2 * half_width)
        offset = (self.angles - centre + math.pi) % (2 * math.pi) - math.pi
        inside = np.abs(offset) <= half_width
        state = self.state[inside]
        # A full sector holds about 2*half_width/increment beams; beams a lidar does not
        # have (a 270-degree scanner looking backwards) count as missing.
        expected = max(int(round(2 * half_width / self.increment)), 1)
        seen = np.sort(offset[inside][state != Beam.FAULT])
        edges = np.concatenate(([-half_width], seen, [half_width]))
        gap = float(np.max(np.diff(edges))) if edges.size > 1 else 2 * half_width
        return SectorView(expected, int(np.count_nonzero(state != Beam.FAULT)),
                          int(np.count_nonzero(state == Beam.TOO_CLOSE)),
                          int(np.count_nonzero(state == Beam.FAULT)), gap)


@dataclass(frozen=True)
class SectorView:
    """Beams in one direction: how many a full scan would have, how many measure something."""

    expected: int               # beams a full scan has in this sector
    valid: int                  # beams that measured something (a return, nothing in range, too close)
    too_close: int              # of those, objects closer than range_min
    faults: int                 # NaN beams in the sector
    largest_gap: float          # rad: widest stretch of the sector no valid beam looks into

    def blind(self, min_valid_fraction: float, max_gap: float) -> str:
        """Empty when the sector is seen well enough to drive into it, else why not."""
        if self.valid < min_valid_fraction * self.expected:
            return f"{self.valid} of {self.expected} beams valid ({self.faults} NaN)"
        if self.largest_gap > max_gap + 1e-9:
            return f"{math.degrees(self.largest_gap):.0f} deg unseen ({self.faults} NaN beams)"
        return ""


@dataclass(frozen=True)
class ScanReading:
    """A LaserScan read for the safety layer."""

    points: np.ndarray                      # (N, 2) base frame: returns and too-close objects
    index: np.ndarray                       # (N,) beam index of each point
    too_close: np.ndarray                   # (N,) bool: placed at range_min, not a measured range
    beams: Beams = field(repr=False)


def read_beams(ranges, angle_min: float, angle_increment: float, range_min: float, range_max: float,
               sensor_yaw: float = 0.0) -> Beams:
    """Classify every beam (REP 117). Unusable scan geometry makes every beam a FAULT."""
    r = np.asarray(ranges, dtype=float).ravel()
    n = r.size
    problem = ""
    if n == 0:
        problem = "empty scan"
    elif not (math.isfinite(angle_min) and math.isfinite(angle_increment) and math.isfinite(sensor_yaw)):
        problem = f"scan angles not finite (angle_min {angle_min}, increment {angle_increment})"
    elif n > 1 and angle_increment == 0.0:
        problem = "scan angle_increment is 0"
    elif not (math.isfinite(range_min) and range_min >= 0.0):
        problem = f"scan range_min {range_min} unusable"
    elif math.isnan(range_max) or range_max <= range_min:
        problem = f"scan range_max {range_max} unusable (range_min {range_min})"
    increment = abs(angle_increment) if math.isfinite(angle_increment) and angle_increment != 0 else 2 * math.pi / max(n, 1)
    if problem:
        return Beams(np.zeros(n), np.full(n, Beam.FAULT, dtype=np.int8), increment, problem)
    with np.errstate(over="ignore", invalid="ignore"):
        angles = angle_min + np.arange(n) * angle_increment + sensor_yaw
    if not np.all(np.isfinite(angles)):
        return Beams(np.zeros(n), np.full(n, Beam.FAULT, dtype=np.int8), increment,
                     f"scan angles overflow (angle_min {angle_min}, increment {angle_increment})")
    state = np.full(n, Beam.RETURN, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        state[(r > range_max) | (r == np.inf)] = Beam.NO_RETURN
        state[r < range_min] = Beam.TOO_CLOSE          # -inf, 0, negative, below range_min
    state[np.isnan(r)] = Beam.FAULT
    return Beams(angles, state, increment)


def read_scan(ranges, angle_min: float, angle_increment: float, range_min: float, range_max: float,
              sensor_xy: tuple[float, float] = (0.0, 0.0), sensor_yaw: float = 0.0,
              self_radius: float = 0.0) -> ScanReading:
    """A LaserScan as the safety layer needs it: points of the returns (without the robot's own
    body) and of the too-close objects, placed at ``range_min`` along their beam, plus every
    beam's state. Too-close points are never taken for the robot's own body: the lidar cannot
    tell how close they are, so they may be anywhere between the lens and ``range_min``.
    """
    beams = read_beams(ranges, angle_min, angle_increment, range_min, range_max, sensor_yaw)
    r = np.asarray(ranges, dtype=float).ravel()
    keep = (beams.state == Beam.RETURN) | (beams.state == Beam.TOO_CLOSE)
    index = np.nonzero(keep)[0]
    too_close = beams.state[index] == Beam.TOO_CLOSE
    dist = np.where(too_close, max(range_min, 0.0) if math.isfinite(range_min) else 0.0, r[index])
    angles = beams.angles[index]
    points = np.column_stack((sensor_xy[0] + dist * np.cos(angles), sensor_xy[1] + dist * np.sin(angles)))
    if self_radius > 0 and len(points):
        outside = (np.hypot(points[:, 0], points[:, 1]) > self_radius) | too_close
        points, index, too_close = points[outside], index[outside], too_close[outside]
    return ScanReading(points.reshape(-1, 2), index, too_close, beams)


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
    return PlanarPose(*pose).points_to_map(points)


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
