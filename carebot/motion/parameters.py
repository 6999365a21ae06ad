"""Parameter tables of the motion nodes: base_safety, navigator and arm_head (no ROS).

Each node declares its table with ``carebot.ros_common.declare_table`` and gets the
typed settings that ``build`` returns; ``carebot config-check`` runs the same table
on the site files (carebot/parameters.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from carebot.motion import description as desc
from carebot.motion.controller import PursuitConfig
from carebot.motion.navigation import NavConfig
from carebot.motion.planner import PlannerConfig
from carebot.motion.safety import SafetyConfig
from carebot.parameters import CrossRule, Param, ParamTable, ParamType, world_problem


def _float(name: str, default: float, unit: str, lo: float, hi: float, description: str) -> Param:
    return Param(name, ParamType.DOUBLE, float(default), description, unit, lo, hi)


def _state_dir(value: str) -> str | None:
    """Empty (the default folder) or an absolute path: a relative one would follow each node's cwd."""
    if value == "" or Path(value).expanduser().is_absolute():
        return None
    return f"{value!r} is relative: give an absolute path (or ~/...), or leave it empty for the default"


# ----------------------------------------------------------------------------- base_safety
_S = SafetyConfig()
_SAFETY_LIMITS = (
    _float("max_linear_speed", _S.max_linear_speed, "m/s", 0.05, 2.0, "forward speed limit"),
    _float("max_reverse_speed", _S.max_reverse_speed, "m/s", 0.0, 1.0, "reverse speed limit"),
    _float("max_angular_speed", _S.max_angular_speed, "rad/s", 0.1, 3.0, "turn rate limit"),
    _float("max_linear_accel", _S.max_linear_accel, "m/s^2", 0.05, 3.0, "speeding-up limit"),
    _float("max_linear_decel", _S.max_linear_decel, "m/s^2", 0.05, 5.0, "ordinary slow-down limit"),
    _float("max_angular_accel", _S.max_angular_accel, "rad/s^2", 0.1, 10.0, "turn-rate change limit"),
    _float("cmd_timeout", _S.cmd_timeout, "s", 0.05, 2.0,
           "without a command from the followed source this long the base stops"),
    _float("scan_timeout", _S.scan_timeout, "s", 0.05, 2.0, "without a lidar scan this long the base stops"),
    _float("persons_timeout", _S.persons_timeout, "s", 0.1, 5.0, "a person detection stays valid this long"),
    _float("person_slow_radius", _S.person_slow_radius, "m", 0.5, 5.0,
           "distance from the robot's edge where people slow it down"),
    _float("person_slow_speed", _S.person_slow_speed, "m/s", 0.0, 0.3, "speed limit near people (<= 0.3)"),
    _float("person_slow_angular", _S.person_slow_angular, "rad/s", 0.1, 3.0, "turn-rate limit near people"),
    _float("person_radius", _S.person_radius, "m", 0.05, 1.0, "a person as a disc around the reported position"),
    _float("person_stop_margin", _S.person_stop_margin, "m", 0.0, 1.5, "kept free around people beyond stop_margin"),
    _float("footprint_radius", _S.footprint_radius, "m", 0.1, 1.0, "robot radius (urdf/README.md)"),
    _float("side_margin", _S.side_margin, "m", 0.0, 0.5, "added to the radius for the travel corridor"),
    _float("stop_margin", _S.stop_margin, "m", 0.02, 1.0, "always kept between the robot and anything ahead"),
    _float("brake_decel", _S.brake_decel, "m/s^2", 0.1, 5.0, "deceleration the base surely brakes at"),
    _float("reaction_time", _S.reaction_time, "s", 0.0, 1.0, "from a scan to braking wheels"),
    _float("absurd_linear_speed", _S.absurd_linear_speed, "m/s", 0.5, 20.0, "a command above this is rejected"),
    _float("absurd_angular_speed", _S.absurd_angular_speed, "rad/s", 0.5, 50.0, "a command above this is rejected"),
    _float("min_valid_beam_fraction", _S.min_valid_beam_fraction, "", 0.3, 1.0,
           "share of lidar beams (whole scan, and the travel sector) that must not be NaN; "
           "fewer: lidar fault / no travel that way"),
    _float("max_beam_gap", _S.max_beam_gap, "rad", 0.01, 1.0, "widest stretch of the travel sector without a valid beam"),
    _float("travel_sector_half_angle", _S.travel_sector_half_angle, "rad", 0.2, 1.5707963,
           "each side of the direction of travel the lidar must see"),
    _float("arm_state_timeout", _S.arm_state_timeout, "s", 0.1, 5.0,
           "joint_states older than this cannot say the arm is tucked (then no turning in place)"),
)
_LIDAR_MOUNT = (
    _float("laser_x", desc.LASER_X, "m", -1.0, 1.0, "lidar x in the base frame"),
    _float("laser_y", 0.0, "m", -1.0, 1.0, "lidar y in the base frame"),
    _float("self_filter_radius", desc.FOOTPRINT_RADIUS - 0.02, "m",
           0.0, 1.0, "returns this close to the base centre are the robot itself"),
)


@dataclass(frozen=True)
class BaseSafetySettings:
    safety: SafetyConfig
    control_rate_hz: float
    status_rate_hz: float
    rest_rate_hz: float
    laser_xy: tuple[float, float]
    laser_yaw: float
    self_filter_radius: float
    site: str
    state_dir: str
    allow_anonymous_reset: bool


def _base_safety(v: Mapping[str, Any]) -> BaseSafetySettings:
    safety = SafetyConfig(**{f.name: v[f.name] for f in fields(SafetyConfig)}).validate()
    return BaseSafetySettings(safety, v["control_rate_hz"], v["status_rate_hz"], v["rest_rate_hz"],
                              (v["laser_x"], v["laser_y"]),
                              v["laser_yaw"], v["self_filter_radius"], v["site"], v["state_dir"],
                              v["allow_anonymous_reset"])


BASE_SAFETY = ParamTable("base_safety", _SAFETY_LIMITS + (
    _float("control_rate_hz", 20.0, "Hz", 5.0, 200.0, "cmd_vel output rate"),
    _float("status_rate_hz", 2.0, "Hz", 0.2, 20.0, "robot/status repeat rate (at a control tick; every change "
           "is published at once)"),
    _float("rest_rate_hz", 5.0, "Hz", 1.0, 200.0, "cmd_vel output rate once the base has stood still 1 s without "
           "a command (zeros for the base driver's watchdog; a command brings back the control rate at once)"),
    *_LIDAR_MOUNT,
    _float("laser_yaw", 0.0, "rad", -math.pi, math.pi, "lidar yaw in the base frame"),
    Param("site", ParamType.STRING, "", "site whose static map tells walls from people; empty: none",
          check=world_problem, constraint="empty or a site world (models/worlds)"),
    Param("state_dir", ParamType.STRING, "", "folder of the e-stop state file; empty: $CAREBOT_STATE_DIR, else "
          "$XDG_STATE_HOME/carebot, else ~/.local/state/carebot", check=_state_dir,
          constraint="empty or an absolute path"),
    Param("allow_anonymous_reset", ParamType.BOOL, True,
          "accept safety/reset_estop (std_srvs/Trigger, recorded as 'unknown'); false: only "
          "safety/reset_estop_with_reason, which says who and why"),
), rules=(
    CrossRule(("absurd_linear_speed", "max_linear_speed"), lambda a, m: a >= m,
              "the absurd-command threshold must be above the speed limit"),
    CrossRule(("absurd_angular_speed", "max_angular_speed"), lambda a, m: a >= m,
              "the absurd-command threshold must be above the turn-rate limit"),
    CrossRule(("max_beam_gap", "travel_sector_half_angle"), lambda g, h: g < 2 * h,
              "max_beam_gap must be narrower than the travel sector"),
    CrossRule(("rest_rate_hz", "control_rate_hz"), lambda r, c: r <= c,
              "the rest rate must not be above the control rate"),
    CrossRule(("status_rate_hz", "rest_rate_hz"), lambda s, r: s <= r,
              "robot/status repeats at a control tick: status_rate_hz must not be above rest_rate_hz"),
), build=_base_safety)


# ----------------------------------------------------------------------------- navigator
_P, _N, _PL = PursuitConfig(), NavConfig(), PlannerConfig()


@dataclass(frozen=True)
class NavigatorSettings:
    site: str
    pursuit: PursuitConfig
    navigation: NavConfig
    planner: PlannerConfig
    control_rate_hz: float
    odom_wait: float
    laser_xy: tuple[float, float]
    self_filter_radius: float
    tuck_timeout: float


def _navigator(v: Mapping[str, Any]) -> NavigatorSettings:
    pursuit = PursuitConfig(
        lookahead=v["lookahead"], max_linear=v["max_speed"], max_angular=v["max_angular_speed"],
        linear_accel=v["linear_accel"], rotate_threshold=_P.rotate_threshold, goal_tolerance=v["goal_tolerance"],
        yaw_tolerance=v["yaw_tolerance"], approach_distance=_P.approach_distance, min_linear=_P.min_linear,
        yaw_gain=_P.yaw_gain).validate()
    navigation = NavConfig(
        block_lookahead=v["block_lookahead"], block_clearance=v["block_clearance"],
        wait_before_replan=v["wait_before_replan"], blocked_timeout=v["blocked_timeout"],
        progress_distance=_N.progress_distance, progress_timeout=v["progress_timeout"],
        min_goal_timeout=v["min_goal_timeout"], time_factor=v["time_factor"],
        obstacle_range=_N.obstacle_range).validate()
    planner = PlannerConfig(resolution=v["plan_resolution"], robot_radius=v["robot_radius"],
                            inflation_margin=v["inflation_margin"],
                            preferred_clearance=v["preferred_clearance"]).validate()
    return NavigatorSettings(v["site"], pursuit, navigation, planner, v["control_rate_hz"], v["odom_wait"],
                             (v["laser_x"], v["laser_y"]), v["self_filter_radius"], v["tuck_timeout"])


NAVIGATOR = ParamTable("navigator", (
    Param("site", ParamType.STRING, "care_home", "site whose map and places are used",
          check=lambda value: world_problem(value, required=True), constraint="a site world (models/worlds)"),
    _float("lookahead", _P.lookahead, "m", 0.1, 3.0, "pure-pursuit look-ahead"),
    _float("max_speed", _P.max_linear, "m/s", 0.05, 1.5, "default top speed"),
    _float("max_angular_speed", _P.max_angular, "rad/s", 0.1, 3.0, "turn-rate limit"),
    _float("linear_accel", _P.linear_accel, "m/s^2", 0.05, 3.0, "speeding-up rate"),
    _float("goal_tolerance", _P.goal_tolerance, "m", 0.03, 1.0, "arrival distance"),
    _float("yaw_tolerance", _P.yaw_tolerance, "rad", 0.02, 3.2, "arrival heading error"),
    _float("block_lookahead", _N.block_lookahead, "m", 0.3, 5.0, "path ahead checked for obstacles"),
    _float("block_clearance", _N.block_clearance, "m", 0.05, 1.0, "beyond the robot radius that blocks the path"),
    _float("wait_before_replan", _N.wait_before_replan, "s", 0.1, 30.0,
           "wait this long for the way to clear before re-planning"),
    _float("blocked_timeout", _N.blocked_timeout, "s", 1.0, 600.0, "blocked with no way around this long: give up"),
    _float("progress_timeout", _N.progress_timeout, "s", 1.0, 300.0, "without progress this long: re-plan"),
    _float("min_goal_timeout", _N.min_goal_timeout, "s", 5.0, 3600.0, "added to every goal's time budget"),
    _float("time_factor", _N.time_factor, "", 1.0, 20.0, "goal time budget as a multiple of the planned drive time"),
    _float("plan_resolution", _PL.resolution, "m", 0.05, 0.5, "planning cell size"),
    _float("robot_radius", _PL.robot_radius, "m", 0.1, 1.0, "footprint radius"),
    _float("inflation_margin", _PL.inflation_margin, "m", 0.0, 0.5, "kept free beyond the robot radius"),
    _float("preferred_clearance", _PL.preferred_clearance, "m", 0.2, 3.0, "room the planner prefers"),
    _float("control_rate_hz", 20.0, "Hz", 2.0, 100.0, "control loop rate"),
    _float("odom_wait", 10.0, "s", 0.0, 120.0, "a goal waits this long for the first odometry (start-up)"),
    *_LIDAR_MOUNT,
    _float("tuck_timeout", 15.0, "s", 1.0, 120.0, "wait this long for arm_head to tuck the arm before driving "
           "or turning in place; then the goal ends BLOCKED"),
), rules=(
    CrossRule(("plan_resolution",), lambda r: r >= _PL.map_resolution,
              f"plan_resolution must not be finer than the map rasterisation ({_PL.map_resolution} m)"),
), build=_navigator)


# ----------------------------------------------------------------------------- arm_head
ARM_HEAD = ParamTable("arm_head", (
    _float("speed_scale", 0.9, "", 0.05, 1.0, "fraction of the URDF velocity limits used"),
    _float("joint_tolerance", 0.05, "rad", 0.005, 0.5, "a gesture has reached its target within this"),
    _float("settle_timeout", 3.0, "s", 0.5, 30.0, "allowed after a trajectory's end"),
    _float("look_tolerance", 0.05, "rad", 0.005, 0.5, "gaze on target within this"),
    _float("look_timeout", 6.0, "s", 1.0, 60.0, "for LookAt to reach its target"),
    _float("return_to_rest_after", 5.0, "s", 0.0, 600.0, "holding point / hand-over before folding the arm; 0 = hold"),
    _float("person_look_height", 1.5, "m", 0.5, 2.2, "where a standing person's face is"),
    _float("fallen_look_height", 0.2, "m", 0.0, 1.0, "where a fallen person is"),
    _float("persons_timeout", 1.0, "s", 0.1, 10.0, "a person detection stays valid this long"),
    _float("joint_states_wait", 10.0, "s", 0.0, 120.0,
           "a goal waits this long for the first joint_states and robot/status (start-up)"),
    Param("rest_on_start", ParamType.BOOL, True, "fold the arm and centre the head when joint_states first arrive "
          "(and robot/status says the e-stop is off)"),
    _float("gesture_person_distance", 1.0, "m", 0.5, 5.0,
           "from the robot's centre: no arm gesture (wave, point, handover) starts with a person this close"),
))
