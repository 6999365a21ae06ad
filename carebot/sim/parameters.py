"""The sim node's parameter table (no ROS); see carebot/parameters.py."""
from __future__ import annotations

import math
from typing import Any, Mapping

from carebot.parameters import CrossRule, Param, ParamTable, ParamType, SettingError, refusal_of

S, I, D, B = ParamType.STRING, ParamType.INTEGER, ParamType.DOUBLE, ParamType.BOOL


def robot_start(text: str) -> tuple[float, float, float] | None:
    """'x y yaw_deg' (commas allowed) -> (x, y, yaw in rad); None for ''; ValueError otherwise."""
    parts = text.replace(",", " ").split()
    if not parts:
        return None
    if len(parts) != 3:
        raise ValueError(f"{text!r}: expected 'x y yaw_deg'")
    try:
        x, y, yaw_deg = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r}: expected numbers") from None
    if not all(math.isfinite(v) for v in (x, y, yaw_deg)):
        raise ValueError(f"{text!r}: expected finite numbers")
    return x, y, math.radians(yaw_deg)


def _build(v: Mapping[str, Any]) -> dict[str, Any]:
    """The values, with robot_start parsed to (x, y, yaw rad) or None."""
    try:
        return {**v, "robot_start": robot_start(v["robot_start"])}
    except ValueError as exc:
        raise SettingError("robot_start", str(exc)) from None


SIM = ParamTable("sim", (
    Param("site", S, "care_home", "site world in models/worlds (care_home, public_hall)"),
    Param("world_file", S, "", "path of a world YAML; overrides site"),
    Param("actors_file", S, "", "people YAML; empty = models/actors/<world>.yaml"),
    Param("robot_start", S, "", "'x y yaw_deg' start pose in the map frame; empty = the world's robot_start",
          check=refusal_of(robot_start), constraint="empty or 'x y yaw_deg'"),
    Param("real_time_factor", D, 1.0, "sim seconds per wall second to aim for; 0 = as fast as possible", "",
          0.0, 100.0),
    Param("timestep_s", D, 0.01, "sim step", "s", 0.001, 0.05),
    # Every node under use_sim_time wakes for each /clock message (~1 ms of Python in rclpy 7.1): at
    # 100 Hz that was ~9 % of a core per node, at 20 Hz ~2 % (docs/budget.md). 10 Hz is also what
    # gazebo_ros published /clock at by default. No timer in the stack runs faster than 1 s on sim time
    # (the safety watchdog and control ticks run on the steady clock; odom/scan/image/audio stamps are exact).
    Param("clock_rate_hz", D, 10.0, "/clock messages per sim second (at most one per step): the resolution "
          "of sim time for the other nodes; each message wakes every node", "Hz", 1.0, 1000.0),
    Param("camera_enabled", B, True, "render and publish the camera"),
    Param("camera_rate_hz", D, 5.0, "camera frames per sim second; 0 = the URDF's update_rate", "Hz", 0.0, 60.0),
    Param("camera_width", I, 0, "image width; 0 = the URDF's", "px", 0, 1280),
    Param("camera_height", I, 0, "image height; 0 = the URDF's", "px", 0, 960),
    Param("lidar_rate_hz", D, 0.0, "scans per sim second; 0 = the URDF's update_rate", "Hz", 0.0, 50.0),
    Param("lidar_noise_m", D, 0.005, "standard deviation of range noise", "m", 0.0, 0.5),
    Param("odom_rate_hz", D, 50.0, "odometry messages per sim second", "Hz", 1.0, 200.0),
    Param("joint_states_rate_hz", D, 50.0, "joint_states per sim second", "Hz", 1.0, 200.0),
    Param("audio_enabled", B, True, "publish the simulated microphone on speech/audio_in"),
    Param("sync_topic", S, "", "lockstep with a camera consumer: a PersonArray topic (e.g. perception/persons) whose "
          "header stamp says which frame it has processed; the next frame waits until the last one is answered; "
          "empty = off"),
    Param("sync_timeout_s", D, 5.0, "wall time to wait for the consumer before going on", "s", 0.1, 60.0),
    Param("seed", I, 0, "random seed of sensor noise", min=0, max=2 ** 31 - 1),
    Param("map_frame", S, "map", "frame of odom poses (ground truth)"),
    Param("base_frame", S, "base_link", "robot base frame (odom child frame)"),
    Param("laser_frame", S, "laser", "frame of scan"),
    Param("camera_frame", S, "camera_optical_frame", "frame of image and camera_info"),
), rules=(
    CrossRule(("camera_width", "camera_height"), lambda w, h: (w == 0) == (h == 0), "set both or neither"),
), build=_build)
