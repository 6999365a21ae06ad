#!/usr/bin/env python3
"""Draw what the live view serves, as a WebSocket client receives it (the picture in docs/bag.md).

    .venv/bin/python scripts/live_view_picture.py BAG [--at S] [--out docs/images/live_view.png]

Starts the live view node (as ``carebot up --live-view`` does), plays a recording into it
(``carebot bag play``, e.g. a demo's out/demo/resident_fall/bag), connects to it with the
Foxglove WebSocket protocol, keeps the newest message of each channel, and at bag time
``--at`` draws them top-down: the site map, the planned path, the robot, the lidar, people
by state and open alerts. Foxglove's own app cannot be reached from this machine, so this
is the live view's data drawn with matplotlib, not Foxglove's rendering of it.
"""
from __future__ import annotations

import argparse
import json
import math
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SUBPROTOCOL = "foxglove.sdk.v1"
CHANNELS = {"/map": "nav_msgs/msg/OccupancyGrid", "/odom": "nav_msgs/msg/Odometry",
            "/scan": "sensor_msgs/msg/LaserScan", "/navigator/path": "nav_msgs/msg/Path",
            "/perception/persons": "carebot_interfaces/msg/PersonArray", "/alerts": "carebot_interfaces/msg/Alert",
            "/robot/status": "carebot_interfaces/msg/RobotStatus"}
PLAYED = ["scan", "odom", "navigator/path", "perception/persons", "alerts", "robot/status", "joint_states"]


def collect(bag: Path, at_s: float) -> dict[str, object]:
    """The newest message of each channel when the bag's clock passes ``at_s``."""
    from rclpy.serialization import deserialize_message
    from websockets.sync.client import connect

    from carebot import bringup
    from carebot.bag.recorder_node import message_class
    from carebot.launcher.cli import node_command
    from carebot.scenarios.ros_env import isolated_env, start, stop

    tmp = Path(tempfile.mkdtemp(prefix="carebot-live-view-picture-"))
    port = 28765
    params = tmp / "params.yaml"
    params.write_text(yaml.safe_dump({"live_view": {"ros__parameters": {"port": port}}}))
    env = isolated_env()
    plan = bringup.launch_plan(site="care_home", config=params, only=["dashboard"])
    view = start(node_command(plan[0].__class__(bringup.LIVE_VIEW, params, "", True)), env, tmp / "view.log")
    player = None
    latest: dict[str, bytes] = {}
    alerts: dict[str, bytes] = {}
    odoms: list = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ws = connect(f"ws://127.0.0.1:{port}", subprotocols=[SUBPROTOCOL], open_timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with ws:
            channels: dict[str, int] = {}
            while not set(CHANNELS) <= set(channels):
                frame = ws.recv(timeout=20)
                if isinstance(frame, str) and json.loads(frame).get("op") == "advertise":
                    channels.update({c["topic"]: c["id"] for c in json.loads(frame)["channels"]})
            subs = {i: topic for i, topic in enumerate(CHANNELS, 1)}
            ws.send(json.dumps({"op": "subscribe", "subscriptions": [
                {"id": i, "channelId": channels[t]} for i, t in subs.items()]}))
            player = subprocess.Popen([sys.executable, "-m", "carebot.cli", "bag", "play", str(bag), "--clock",
                                       "--topics", *PLAYED], env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
            odom_cls = message_class(CHANNELS["/odom"])
            while player.poll() is None:
                frame = ws.recv(timeout=30)
                if not isinstance(frame, bytes) or frame[0] != 1:
                    continue
                sub, _stamp = struct.unpack_from("<IQ", frame, 1)
                topic = subs[sub]
                if topic == "/alerts":
                    alerts[deserialize_message(frame[13:], message_class(CHANNELS["/alerts"])).id] = frame[13:]
                latest[topic] = frame[13:]
                if topic == "/odom":
                    odom = deserialize_message(frame[13:], odom_cls)
                    odoms.append(odom)
                    if odom.header.stamp.sec + odom.header.stamp.nanosec * 1e-9 >= at_s and "/map" in latest:
                        break
    finally:
        if player is not None and player.poll() is None:
            player.terminate()
            player.wait(10)
        stop(view)
    out = {t: deserialize_message(d, message_class(CHANNELS[t])) for t, d in latest.items()}
    out["alerts"] = [deserialize_message(d, message_class(CHANNELS["/alerts"])) for d in alerts.values()]
    out["odom_history"] = odoms
    return out


def draw(data: dict[str, object], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from carebot.bag import live_view
    from carebot.frames import yaw_of

    grid = data["/map"]
    h, w = grid.info.height, grid.info.width
    cells = np.array(grid.data, dtype=np.int16).reshape(h, w)
    res, ox, oy = grid.info.resolution, grid.info.origin.position.x, grid.info.origin.position.y
    fig, ax = plt.subplots(figsize=(10, 8), dpi=110)
    ax.imshow(np.where(cells >= 50, 0.15, 0.95), cmap="gray", vmin=0, vmax=1, origin="lower",
              extent=(ox, ox + w * res, oy, oy + h * res))
    odom = data["/odom"]
    rx, ry = odom.pose.pose.position.x, odom.pose.pose.position.y
    yaw = yaw_of(odom.pose.pose.orientation)
    cos, sin = math.cos(yaw), math.sin(yaw)

    def to_map(x: float, y: float) -> tuple[float, float]:
        return rx + cos * x - sin * y, ry + sin * x + cos * y
    if "/navigator/path" in data:
        path = [(p.pose.position.x, p.pose.position.y) for p in data["/navigator/path"].poses]
        if path:
            ax.plot(*zip(*path), color="tab:blue", lw=2, label="navigator/path")
    if "/scan" in data:
        scan = data["/scan"]
        laser = next(t for t in live_view.fixed_joints() if t.child == "laser").translation
        points = [to_map(laser[0] + r * math.cos(scan.angle_min + i * scan.angle_increment),
                         laser[1] + r * math.sin(scan.angle_min + i * scan.angle_increment))
                  for i, r in enumerate(scan.ranges) if scan.range_min < r < scan.range_max]
        if points:
            ax.scatter(*zip(*points), s=3, color="tab:red", label="scan")
    ax.add_patch(plt.Circle((rx, ry), 0.27, color="tab:blue", alpha=0.6))
    ax.arrow(rx, ry, 0.5 * cos, 0.5 * sin, width=0.04, color="navy")
    ax.annotate("robot", (rx, ry), textcoords="offset points", xytext=(8, -14), color="navy")
    persons = data.get("/perception/persons")
    if persons is not None:      # base_link at the camera frame's time: the robot's pose then, not now
        seen = persons.header.stamp.sec + persons.header.stamp.nanosec * 1e-9
        then = min(data["odom_history"], key=lambda o: abs(o.header.stamp.sec + o.header.stamp.nanosec * 1e-9 - seen))
        tx, ty, tyaw = then.pose.pose.position.x, then.pose.pose.position.y, yaw_of(then.pose.pose.orientation)
    for person in live_view.person_markers(persons) if persons is not None else []:
        px = tx + math.cos(tyaw) * person.position[0] - math.sin(tyaw) * person.position[1]
        py = ty + math.sin(tyaw) * person.position[0] + math.cos(tyaw) * person.position[1]
        ax.add_patch(plt.Rectangle((px - 0.2, py - 0.2), 0.4, 0.4, color=person.colour[:3]))
        ax.annotate(person.label, (px, py), textcoords="offset points", xytext=(8, 6), color=person.colour[:3],
                    weight="bold")
    for alert in data["alerts"]:
        marker = live_view.alert_marker(alert)
        if marker is not None:
            ax.add_patch(plt.Circle(marker.position[:2], live_view.ALERT_RADIUS_M, color="orange", alpha=0.45))
            ax.annotate(marker.label, marker.position[:2], textcoords="offset points", xytext=(10, -22),
                        color="darkorange", weight="bold")
    status = data.get("/robot/status")
    stamp = odom.header.stamp.sec + odom.header.stamp.nanosec * 1e-9
    ax.set_title(f"carebot live view channels at t = {stamp:.1f} s (sim)"
                 + (f": task {status.current_task or 'idle'}" if status is not None else ""))
    ax.set_xlabel("map x (m)")
    ax.set_ylabel("map y (m)")
    ax.legend(loc="upper right")
    ax.set_aspect("equal")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", type=Path, help="a recording of the stack (e.g. out/demo/resident_fall/bag)")
    parser.add_argument("--at", type=float, default=12.0, help="bag time (s) of the picture")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "live_view.png")
    args = parser.parse_args()
    draw(collect(args.bag, args.at), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
