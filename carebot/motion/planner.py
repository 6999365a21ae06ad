"""Global path planning on an inflated occupancy grid of the site (no ROS).

``CostMap.from_world`` rasterises the site's static map (``carebot.world``), measures
every cell's clearance (distance to the nearest obstacle, m) with a Euclidean distance
transform, marks cells closer than the robot radius plus a margin as lethal, and adds a
soft cost near obstacles so that paths keep to the middle of corridors and doors.
``plan`` runs A* (8-connected, octile heuristic) over it.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from carebot.motion.description import FOOTPRINT_RADIUS
from carebot.world import OccupancyGrid, World, occupancy_grid

SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class PlannerConfig:
    """Units: m."""

    resolution: float = 0.1              # planning cell size
    map_resolution: float = 0.05         # rasterisation of the world before the distance transform
    robot_radius: float = FOOTPRINT_RADIUS
    inflation_margin: float = 0.06       # kept free beyond the robot radius
    preferred_clearance: float = 0.7     # paths prefer at least this much room
    clearance_weight: float = 3.0        # extra cost factor at the lethal boundary
    goal_search_radius: float = 0.5      # a blocked start or goal moves to a free cell this near
    obstacle_radius: float = 0.1         # size of one lidar return when marking dynamic obstacles
    path_spacing: float = 0.2            # waypoints of the returned path

    def validate(self) -> "PlannerConfig":
        for name in ("resolution", "map_resolution", "robot_radius", "preferred_clearance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"planner config {name} must be > 0, got {value!r}")
        if self.resolution < self.map_resolution:
            raise ValueError("planner resolution must not be finer than map_resolution")
        return self

    @property
    def lethal_clearance(self) -> float:
        return self.robot_radius + self.inflation_margin


@dataclass(frozen=True)
class PlanResult:
    path: list[tuple[float, float]] | None    # world points from start to goal; None when none exists
    reason: str = ""                          # why there is no path
    length: float = 0.0                       # m
    expanded: int = 0                         # cells A* expanded


class CostMap:
    """Clearance, lethal cells and traversal cost of a site at the planning resolution."""

    def __init__(self, clearance: np.ndarray, resolution: float, origin: tuple[float, float],
                 config: PlannerConfig):
        self.config = config
        self.resolution = resolution
        self.origin = origin
        self.clearance = clearance
        self.lethal = clearance < config.lethal_clearance
        span = max(config.preferred_clearance - config.lethal_clearance, 1e-6)
        shortfall = np.clip((config.preferred_clearance - clearance) / span, 0.0, 1.0)
        self.cost = np.where(self.lethal, np.inf, 1.0 + config.clearance_weight * shortfall)

    @classmethod
    def from_world(cls, world: World, config: PlannerConfig | None = None) -> "CostMap":
        config = (config or PlannerConfig()).validate()
        return cls.from_grid(occupancy_grid(world, config.map_resolution), config)

    @classmethod
    def from_grid(cls, grid: OccupancyGrid, config: PlannerConfig | None = None) -> "CostMap":
        """Clearance from a fine occupancy grid, pooled (minimum) to the planning resolution."""
        config = (config or PlannerConfig()).validate()
        occupied = np.asarray(grid.data) >= 50
        padded = np.pad(~occupied, 1, constant_values=False)      # outside the map is a wall
        # Distance between cell centres, less one cell so that it never overstates the room.
        dist = ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * grid.resolution - grid.resolution
        factor = max(int(round(config.resolution / grid.resolution)), 1)
        rows, cols = dist.shape[0] // factor, dist.shape[1] // factor
        pooled = dist[:rows * factor, :cols * factor].reshape(rows, factor, cols, factor).min(axis=(1, 3))
        return cls(np.maximum(pooled, 0.0), grid.resolution * factor, grid.origin, config)

    # --- cells and points -----------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.clearance.shape

    def to_cell(self, x: float, y: float) -> tuple[int, int]:
        return (int(math.floor((y - self.origin[1]) / self.resolution)),
                int(math.floor((x - self.origin[0]) / self.resolution)))

    def to_world(self, row: int, col: int) -> tuple[float, float]:
        return (self.origin[0] + (col + 0.5) * self.resolution, self.origin[1] + (row + 0.5) * self.resolution)

    def inside(self, row: int, col: int) -> bool:
        return 0 <= row < self.shape[0] and 0 <= col < self.shape[1]

    def free(self, x: float, y: float) -> bool:
        """Whether the robot's centre may be at (x, y)."""
        row, col = self.to_cell(x, y)
        return self.inside(row, col) and not self.lethal[row, col]

    def clearance_at(self, x: float, y: float) -> float:
        row, col = self.to_cell(x, y)
        return float(self.clearance[row, col]) if self.inside(row, col) else 0.0

    def with_obstacles(self, points: np.ndarray, radius: float | None = None) -> "CostMap":
        """A copy with dynamic obstacles (world points, e.g. lidar returns) added."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) == 0:
            return self
        radius = self.config.obstacle_radius if radius is None else radius
        marks = np.zeros(self.shape, dtype=bool)
        rows = np.floor((pts[:, 1] - self.origin[1]) / self.resolution).astype(int)
        cols = np.floor((pts[:, 0] - self.origin[0]) / self.resolution).astype(int)
        keep = (rows >= 0) & (rows < self.shape[0]) & (cols >= 0) & (cols < self.shape[1])
        marks[rows[keep], cols[keep]] = True
        if not marks.any():
            return self
        dist = ndimage.distance_transform_edt(~marks) * self.resolution - self.resolution / 2 - radius
        clearance = np.minimum(self.clearance, np.maximum(dist, 0.0))
        return CostMap(clearance, self.resolution, self.origin, self.config)

    def nearest_free(self, x: float, y: float, radius: float) -> tuple[int, int] | None:
        """The free cell nearest to (x, y) within ``radius`` m, preferring more clearance on ties."""
        row, col = self.to_cell(x, y)
        if self.inside(row, col) and not self.lethal[row, col]:
            return row, col
        reach = int(math.ceil(radius / self.resolution))
        best, best_d = None, math.inf
        for r in range(max(row - reach, 0), min(row + reach + 1, self.shape[0])):
            for c in range(max(col - reach, 0), min(col + reach + 1, self.shape[1])):
                if self.lethal[r, c]:
                    continue
                d = math.hypot(r - row, c - col)
                if d * self.resolution <= radius and d < best_d:
                    best, best_d = (r, c), d
        return best

    def nearest_reachable(self, goal: tuple[float, float], radius: float, start: tuple[float, float],
                          route_map: "CostMap | None" = None) -> tuple[float, float] | None:
        """The free cell of this map nearest to ``goal`` (within ``radius`` m) that the robot can
        reach from ``start`` on ``route_map`` (default: this map); None when there is none."""
        route = route_map or self
        start_cell = route.nearest_free(*start, route.config.goal_search_radius)
        if start_cell is None:
            return None
        labels, _ = ndimage.label(~route.lethal, structure=np.ones((3, 3), dtype=bool))
        reachable = labels == labels[start_cell]
        rows, cols = np.nonzero(reachable & ~self.lethal)
        if len(rows) == 0:
            return None
        xs = self.origin[0] + (cols + 0.5) * self.resolution
        ys = self.origin[1] + (rows + 0.5) * self.resolution
        dist = np.hypot(xs - goal[0], ys - goal[1])
        best = int(np.argmin(dist))
        return (float(xs[best]), float(ys[best])) if dist[best] <= radius else None

    def segment_free(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Whether the robot can drive the straight segment a-b (checked every half cell)."""
        steps = max(int(math.hypot(b[0] - a[0], b[1] - a[1]) / (self.resolution / 2)), 1)
        for i in range(steps + 1):
            t = i / steps
            if not self.free(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])):
                return False
        return True


def plan(costmap: CostMap, start: tuple[float, float], goal: tuple[float, float]) -> PlanResult:
    """A* from ``start`` to ``goal`` (world x, y); the path keeps the clearance of the costmap."""
    cfg = costmap.config
    start_cell = costmap.nearest_free(*start, cfg.goal_search_radius)
    if start_cell is None:
        return PlanResult(None, f"start ({start[0]:.2f}, {start[1]:.2f}) is inside an obstacle")
    goal_cell = costmap.nearest_free(*goal, cfg.goal_search_radius)
    if goal_cell is None:
        return PlanResult(None, f"goal ({goal[0]:.2f}, {goal[1]:.2f}) is inside an obstacle or off the map")
    rows, cols = costmap.shape
    cost = costmap.cost.ravel().tolist()            # python floats: much faster to index in the loop
    start_i = start_cell[0] * cols + start_cell[1]
    goal_i = goal_cell[0] * cols + goal_cell[1]
    gr, gc = goal_cell
    moves = [(-1, 0, 1.0), (1, 0, 1.0), (0, -1, 1.0), (0, 1, 1.0),
             (-1, -1, SQRT2), (-1, 1, SQRT2), (1, -1, SQRT2), (1, 1, SQRT2)]
    g = {start_i: 0.0}
    parent = {start_i: -1}
    closed = set()
    heap = [(0.0, 0.0, start_i)]
    expanded = 0
    while heap:
        _, g_here, index = heapq.heappop(heap)
        if index in closed:
            continue
        if index == goal_i:
            break
        closed.add(index)
        expanded += 1
        r, c = divmod(index, cols)
        here_cost = cost[index]
        for dr, dc, step in moves:
            nr, nc = r + dr, c + dc
            if nr < 0 or nr >= rows or nc < 0 or nc >= cols:
                continue
            n = nr * cols + nc
            n_cost = cost[n]
            if n_cost == math.inf or n in closed:
                continue
            if dr and dc and (cost[r * cols + nc] == math.inf or cost[nr * cols + c] == math.inf):
                continue                                   # no corner cutting past lethal cells
            new_g = g_here + step * 0.5 * (here_cost + n_cost)
            if new_g < g.get(n, math.inf):
                g[n] = new_g
                parent[n] = index
                dy, dx = abs(nr - gr), abs(nc - gc)
                h = (dx + dy) + (SQRT2 - 2) * min(dx, dy)
                heapq.heappush(heap, (new_g + h, new_g, n))
    if goal_i not in parent:
        return PlanResult(None, "no free path between start and goal", expanded=expanded)
    cells = []
    index = goal_i
    while index != -1:
        cells.append(divmod(index, cols))
        index = parent[index]
    cells.reverse()
    points = [costmap.to_world(r, c) for r, c in cells]
    # The exact start and goal when they are free; the nearest free cell otherwise.
    if costmap.free(*start):
        points[0] = (float(start[0]), float(start[1]))
    if costmap.free(*goal):
        points[-1] = (float(goal[0]), float(goal[1]))
    path = resample(points, cfg.path_spacing)
    return PlanResult(path, "", path_length(path), expanded)


def path_length(path) -> float:
    return float(sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(path, path[1:])))


def resample(points: list[tuple[float, float]], spacing: float) -> list[tuple[float, float]]:
    """Points along the polyline every ``spacing`` m, keeping both ends."""
    if len(points) < 2:
        return list(points)
    out = [points[0]]
    carried = 0.0
    for a, b in zip(points, points[1:]):
        seg = math.hypot(b[0] - a[0], b[1] - a[1])
        pos = spacing - carried
        while pos <= seg:
            t = pos / seg
            out.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
            pos += spacing
        carried = (carried + seg) % spacing if seg else carried
    if math.hypot(out[-1][0] - points[-1][0], out[-1][1] - points[-1][1]) > 1e-6:
        out.append(points[-1])
    return out
