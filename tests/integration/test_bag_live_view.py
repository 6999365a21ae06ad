"""The live view: `carebot up --live-view`'s node answering a real Foxglove WebSocket client.

The node (carebot.bag.live_view_node, its own process, the site file's parameters with a
free port) relays a talker's topics. A WebSocket client speaking Foxglove's protocol
(foxglove.sdk.v1, the `websockets` library) must be told the expected channels,
with full ROS 2 definitions for the relayed ones and no camera (the site does not allow
it), and must receive a relayed carebot Alert and a map it can decode.
"""
from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path

import pytest
import yaml

rclpy = pytest.importorskip("rclpy", reason="ROS 2 wheels not installed")
websockets_sync = pytest.importorskip("websockets.sync.client", reason="websockets not installed")

from rclpy.serialization import deserialize_message  # noqa: E402

from bringup_support import free_port, is_ros_own, node_parameters  # noqa: E402
from carebot import bringup  # noqa: E402
from carebot.bag import live_view  # noqa: E402
from carebot.config_check import table_of  # noqa: E402
from carebot.launcher.cli import node_command  # noqa: E402
from carebot.scenarios import ros_env  # noqa: E402

pytestmark = [pytest.mark.ros]

ROOT = Path(__file__).resolve().parents[2]
SUBPROTOCOL = "foxglove.sdk.v1"          # foxglove-sdk 0.30 (it refuses the older foxglove.websocket.v1)
MESSAGE_DATA = 0x01        # binary opcode of a message on a subscribed channel
CONNECT_TIMEOUT_S = 60.0


def _params(tmp: Path, port: int) -> Path:
    data = yaml.safe_load(bringup.site_config("care_home").read_text(encoding="utf-8"))
    data["live_view"] = {"ros__parameters": {"port": port}}
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _connect(port: int):
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            return websockets_sync.connect(f"ws://127.0.0.1:{port}", subprotocols=[SUBPROTOCOL], open_timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _receive_json(ws, op: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(frame, str):
            data = json.loads(frame)
            if data.get("op") == op:
                return data
    raise AssertionError(f"no {op} from the server")


def test_live_view_answers_a_foxglove_client(tmp_path):
    from carebot_interfaces.msg import Alert
    from nav_msgs.msg import OccupancyGrid

    port = free_port()
    env = ros_env.isolated_env()
    plan = bringup.launch_plan(site="care_home", config=_params(tmp_path, port), only=["dashboard"])
    launch = plan[0].__class__(bringup.LIVE_VIEW, plan[0].params_file, "", False)
    view = ros_env.start(node_command(launch), env, tmp_path / "live_view.log")
    talker = ros_env.start([sys.executable, str(ROOT / "tests" / "integration" / "bag_support.py"), "10"], env,
                           tmp_path / "talker.log")
    try:
        with _connect(port) as ws:
            assert ws.subprotocol == SUBPROTOCOL
            info = _receive_json(ws, "serverInfo")
            assert info["name"] == "carebot"
            channels = {}
            deadline = time.monotonic() + 20
            expected = set(live_view.channel_plan(camera=False))
            while not expected <= set(channels) and time.monotonic() < deadline:
                for channel in _receive_json(ws, "advertise")["channels"]:
                    channels[channel["topic"]] = channel
            assert expected <= set(channels), expected - set(channels)
            # Privacy: the site file does not allow the camera, so it is not offered at all.
            assert "/camera/image_raw" not in channels and "/perception/debug_image" not in channels
            alerts = channels["/alerts"]
            assert (alerts["encoding"], alerts["schemaName"], alerts["schemaEncoding"]) == \
                ("cdr", "carebot_interfaces/msg/Alert", "ros2msg")
            assert "MSG: geometry_msgs/Point" in alerts["schema"]          # the full definition travels along
            assert channels["/tf"]["schemaName"] == "foxglove.FrameTransforms"
            ids = {1: "/alerts", 2: "/map"}
            ws.send(json.dumps({"op": "subscribe", "subscriptions": [
                {"id": sub, "channelId": channels[topic]["id"]} for sub, topic in ids.items()]}))
            got: dict[str, bytes] = {}
            deadline = time.monotonic() + 30
            while set(got) != set(ids.values()) and time.monotonic() < deadline:
                frame = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
                if isinstance(frame, bytes) and frame[0] == MESSAGE_DATA:
                    sub, _stamp = struct.unpack_from("<IQ", frame, 1)
                    got.setdefault(ids[sub], frame[13:])
            assert set(got) == set(ids.values()), f"no data on {set(ids.values()) - set(got)}"
        alert = deserialize_message(got["/alerts"], Alert)
        assert alert.id.startswith("alert-") and alert.room == "lounge"
        grid = deserialize_message(got["/map"], OccupancyGrid)
        assert grid.header.frame_id == "map" and grid.info.width * grid.info.height == len(grid.data) > 1000
        assert 100 in grid.data and 0 in grid.data                           # walls and free floor
        # The running node declares its table (the node contract test's stack runs without it).
        declared = node_parameters(env, "/live_view")
        assert {k for k in declared if not is_ros_own(k)} == set(table_of(bringup.LIVE_VIEW).names)
        assert declared["port"].value == port
    finally:
        ros_env.stop(talker)
        code = ros_env.stop(view)
    assert code == 0, (tmp_path / "live_view.log").read_text()


def test_up_starts_the_live_view_only_when_asked(tmp_path):
    import subprocess

    config = tmp_path / "site.yaml"      # only the view's section: every node takes its defaults
    config.write_text(yaml.safe_dump({"live_view": {"ros__parameters": {"port": 9001, "camera": False}}}))

    def dry(*extra):
        result = subprocess.run([sys.executable, "-m", "carebot.cli", "up", "--sim", "--dry-run", "--config",
                                 str(config), *extra], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        return result.stdout
    with_view = dry("--live-view")
    assert "live_view:" in with_view and "carebot.bag.live_view_node" in with_view
    assert f"-r __node:=live_view --params-file {config}" in with_view and "use_sim_time:=true" in with_view
    assert "live_view:" not in dry()
