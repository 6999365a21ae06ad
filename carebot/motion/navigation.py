"""Navigation to a goal pose: plan, follow, stop for obstacles, re-plan, give up with a reason.

Pure logic (no ROS); ``carebot.motion.navigator_node`` adapts it to the NavigateTo action.
The robot pose comes from odometry; in the simulation odometry is the ground-truth pose
in the map frame, on a real robot a localiser must provide map-frame odometry.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from carebot.motion.controller import PurePursuit, PursuitConfig
from carebot.motion.planner import CostMap, plan
from carebot.motion.scan import StaticMap


class NavError(enum.IntEnum):
    """Same values as carebot_interfaces/action/NavigateTo ERROR_*."""

    NONE = 0
    UNKNOWN_PLACE = 1
    UNREACHABLE = 2
    BLOCKED = 3
    EMERGENCY_STOP = 4
    CANCELED = 5
    TIMEOUT = 6


class NavState(str, enum.Enum):
    IDLE = "idle"
    PLANNING = "planning"
    DRIVING = "driving"
    REPLANNING = "replanning"
    WAITING = "waiting"
    DONE = "done"


@dataclass(frozen=True)
class NavConfig:
    """Units: m, s."""

    block_lookahead: float = 1.2        # m of path ahead checked against lidar returns
    block_clearance: float = 0.30       # m beyond the robot radius: a return this close to the path ahead blocks it
    # m from the path to dynamic returns when re-planning around them (beyond the safety
    # layer's reach around people: 0.87 m)
    detour_clearance: float = 1.0
    wait_before_replan: float = 2.0     # s to wait for a person to step aside before re-planning
    blocked_timeout: float = 20.0       # s without a way past an obstacle -> BLOCKED
    progress_distance: float = 0.2      # m that counts as progress
    progress_timeout: float = 12.0      # s without progress -> re-plan (twice -> BLOCKED)
    min_goal_timeout: float = 30.0      # s; the goal timeout is this plus time_factor x drive time
    time_factor: float = 3.0
    obstacle_range: float = 3.0         # m: returns farther than this are not used for re-planning
    goal_relax_radius: float = 2.0      # m: an occupied goal may be replaced by a spot this near
    relax_extra_clearance: float = 0.1  # m more room kept from the obstacles around a replaced goal

    def validate(self) -> "NavConfig":
        for name, value in vars(self).items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"navigation config {name} must be > 0, got {value!r}")
        return self


@dataclass(frozen=True)
class NavStep:
    linear: float               # m/s for cmd_vel_nav
    angular: float              # rad/s
    state: NavState
    remaining: float            # m along the path
    finished: bool
    error: NavError = NavError.NONE
    message: str = ""


class Navigator:
    """One goal at a time: ``start`` it, then ``step`` at the control rate until ``finished``."""

    def __init__(self, costmap: CostMap, pursuit: PursuitConfig | None = None, config: NavConfig | None = None,
                 static_map: StaticMap | None = None):
        """``static_map``: returns near walls and furniture are left to the planned path's clearance;
        only the others (people, things moved in) block the path and are planned around."""
        self.costmap = costmap
        self.static_map = static_map
        self.pursuit_config = (pursuit or PursuitConfig()).validate()
        self.config = (config or NavConfig()).validate()
        self.state = NavState.IDLE
        self.path: list[tuple[float, float]] = []
        self._follower: PurePursuit | None = None
        self._goal: tuple[float, float, float | None] | None = None
        self._original_goal: tuple[float, float, float | None] | None = None
        self._max_speed = 0.0
        self._deadline = math.inf
        self._blocked_since: float | None = None
        self._last_replan = -math.inf
        self._progress_pose: tuple[float, float] | None = None
        self._progress_time = 0.0
        self._stalls = 0
        self._last_time: float | None = None

    # --- goal life cycle ------------------------------------------------------
    def start(self, goal: tuple[float, float, float | None], pose: tuple[float, float, float], now: float,
              max_speed: float = 0.0) -> NavStep:
        """Plan to ``goal`` (x, y, yaw or None) from ``pose``; a finished step if unreachable."""
        self.state = NavState.PLANNING
        self._goal = goal
        self._original_goal = None          # set when the goal spot is occupied and a nearby one is used
        self._max_speed = max_speed if math.isfinite(max_speed) and max_speed > 0 else self.pursuit_config.max_linear
        result = plan(self.costmap, pose[:2], goal[:2])
        if result.path is None:
            return self._finish(NavError.UNREACHABLE, f"no path: {result.reason}")
        self._set_path(result.path)
        speed = min(self._max_speed, self.pursuit_config.max_linear)
        self._deadline = now + self.config.min_goal_timeout + self.config.time_factor * result.length / speed
        self._blocked_since = None
        self._progress_pose, self._progress_time, self._stalls = pose[:2], now, 0
        self._last_time = now
        self.state = NavState.DRIVING
        return NavStep(0.0, 0.0, self.state, result.length, False)

    def cancel(self) -> NavStep:
        return self._finish(NavError.CANCELED, "canceled")

    def abort(self, error: NavError, message: str) -> NavStep:
        return self._finish(error, message)

    def _finish_near(self, pose) -> NavStep:
        goal = self._original_goal or self._goal
        off = math.hypot(goal[0] - pose[0], goal[1] - pose[1])
        self.state = NavState.DONE
        self._follower = None
        return NavStep(0.0, 0.0, NavState.DONE, 0.0, True, NavError.NONE,
                       f"arrived {off:.1f} m from the goal: people or obstacles occupy it")

    def _finish(self, error: NavError, message: str) -> NavStep:
        self.state = NavState.DONE
        self._follower = None
        return NavStep(0.0, 0.0, NavState.DONE, 0.0, True, error, message)

    def _set_path(self, path: list[tuple[float, float]]) -> None:
        self.path = path
        self._follower = PurePursuit(path, self._goal[2] if self._goal else None, self.pursuit_config)

    @property
    def active(self) -> bool:
        return self.state not in (NavState.IDLE, NavState.DONE)

    # --- control step -----------------------------------------------------------
    def step(self, pose: tuple[float, float, float], obstacles: np.ndarray, now: float) -> NavStep:
        """One control step. ``obstacles``: lidar returns (N, 2) in the map frame."""
        if not self.active or self._follower is None:
            return NavStep(0.0, 0.0, self.state, 0.0, True, NavError.NONE, "no goal")
        cfg = self.config
        dt = 0.0 if self._last_time is None else max(now - self._last_time, 0.0)
        self._last_time = now
        x, y, yaw = pose
        if now > self._deadline:
            return self._finish(NavError.TIMEOUT, "goal not reached in time")
        track = self._follower.step(x, y, yaw, dt, self._max_speed)
        if track.arrived:
            if self._original_goal is not None:
                return self._finish_near(pose)
            self.state = NavState.DONE
            return NavStep(0.0, 0.0, NavState.DONE, 0.0, True, NavError.NONE, "arrived")
        points = np.asarray(obstacles, dtype=float).reshape(-1, 2)
        points = points[np.all(np.isfinite(points), axis=1)]
        near = points[np.hypot(points[:, 0] - x, points[:, 1] - y) <= cfg.obstacle_range] if len(points) else points
        if self.static_map is not None and len(near):
            near = near[~self.static_map.near_static(near)]
        if track.linear > 0 and self._path_blocked(near, track.index, (x, y)):
            return self._wait_or_replan(pose, near, now, track.remaining)
        if self._progress_stalled(pose, now):
            return self._wait_or_replan(pose, near, now, track.remaining, stalled=True)
        self._blocked_since = None
        self.state = NavState.DRIVING
        return NavStep(track.linear, track.angular, self.state, track.remaining, False)

    @property
    def block_distance(self) -> float:
        """Distance (m) from the path ahead within which a return blocks it.

        With a static map only people and moved things are left, and they block within
        ``detour_clearance``, the room re-planned paths keep (beyond the safety layer's reach
        around people, so the two layers never disagree about a way past someone).
        """
        near = self.config.block_clearance + self.costmap.config.robot_radius
        return max(near, self.config.detour_clearance) if self.static_map is not None else near

    def _path_blocked(self, points: np.ndarray, index: int, position: tuple[float, float]) -> bool:
        """Whether a return lies within ``block_distance`` of the next stretch of path."""
        if len(points) == 0:
            return False
        ahead = [position]
        travelled = 0.0
        for p in self.path[index:]:
            travelled += math.hypot(p[0] - ahead[-1][0], p[1] - ahead[-1][1])
            ahead.append(p)
            if travelled >= self.config.block_lookahead:
                break
        samples = np.asarray(ahead[1:] or ahead, dtype=float)
        d = np.hypot(points[:, None, 0] - samples[None, :, 0], points[:, None, 1] - samples[None, :, 1])
        return bool(np.any(d < self.block_distance))

    def _progress_stalled(self, pose, now: float) -> bool:
        if self._progress_pose is None or math.hypot(pose[0] - self._progress_pose[0],
                                                     pose[1] - self._progress_pose[1]) >= self.config.progress_distance:
            self._progress_pose, self._progress_time = pose[:2], now
            return False
        # Turning in place toward the path or goal heading is progress too.
        return now - self._progress_time > self.config.progress_timeout

    def _wait_or_replan(self, pose, obstacles: np.ndarray, now: float, remaining: float,
                        stalled: bool = False) -> NavStep:
        cfg = self.config
        if self._blocked_since is None:
            self._blocked_since = now
        if stalled:
            self._stalls += 1
            self._progress_pose, self._progress_time = pose[:2], now
            if self._stalls >= 3:
                return self._finish(NavError.BLOCKED, "no progress: the way is blocked")
            # Held without a visible reason (the safety layer stops for someone): re-plan now.
            self._blocked_since = min(self._blocked_since, now - cfg.wait_before_replan)
            self._last_replan = -math.inf
        waited = now - self._blocked_since
        if waited >= cfg.blocked_timeout:
            return self._finish(NavError.BLOCKED, f"blocked for {waited:.0f} s with no way around")
        if waited >= cfg.wait_before_replan and now - self._last_replan >= cfg.wait_before_replan:
            self._last_replan = now
            self.state = NavState.REPLANNING
            # Mark returns so that the new path passes them farther than the block check looks.
            plan_cfg = self.costmap.config
            radius = self.block_distance - plan_cfg.lethal_clearance + plan_cfg.resolution / 2
            marked = self.costmap.with_obstacles(obstacles, radius)
            result = plan(marked, pose[:2], self._goal[:2])
            if result.path is None and self._original_goal is None:
                # People (or things) occupy the goal or the last stretch to it: settle for the
                # reachable free spot nearest to it, with extra room so that the safety layer's
                # margin around people does not stop the robot short, facing the goal.
                roomy = self.costmap.with_obstacles(obstacles, radius + cfg.relax_extra_clearance)
                here = roomy.nearest_reachable(self._goal[:2], cfg.goal_relax_radius, pose[:2], marked)
                if here is not None:
                    if math.hypot(here[0] - pose[0], here[1] - pose[1]) <= self.pursuit_config.goal_tolerance:
                        return self._finish_near(pose)
                    result = plan(marked, pose[:2], here)
                    if result.path is not None:
                        self._original_goal = self._goal
                        face = math.atan2(self._goal[1] - here[1], self._goal[0] - here[0])
                        self._goal = (here[0], here[1], face)
            if result.path is not None:
                self._set_path(result.path)
                self._blocked_since = None
                return NavStep(0.0, 0.0, NavState.REPLANNING, result.length, False, message="re-planned")
        self.state = NavState.WAITING
        return NavStep(0.0, 0.0, NavState.WAITING, remaining, False, message="waiting for the way to clear")
