"""Incident replay: the resident_fall recording played into a fresh perception and brain.

tests/data/bags/resident_fall_clip is 5.6 s of sim time cut from a real `carebot demo
--scenario resident_fall --bag-include camera/image_raw` run (carebot.bag.incident): the
camera, camera_info, odometry and joint states from 1 s before the fall to 0.4 s after the
FALL alert, with that alert and perception's output as the reference. Camera frames are in
it for this test only (a demo records none by default).

`carebot bag play --clock --sync camera/image_raw=perception/persons` publishes the sensor
topics into new perception and brain processes (use_sim_time), waiting for perception's
answer to each frame as the scenario's lockstep did. Perception must raise the same FALL
alert at the same place and sim time, and the brain must take it up (with no navigator in
this stack it cannot drive there and escalates the incident to staff, as its fall response
says for an unreachable person).
"""
from __future__ import annotations

import copy
import math
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

rclpy = pytest.importorskip("rclpy", reason="ROS 2 wheels not installed")

from carebot import bringup  # noqa: E402
from carebot.bag.incident import find_fall  # noqa: E402
from carebot.bag.store import read_info  # noqa: E402
from carebot.launcher.cli import node_command  # noqa: E402
from carebot.paths import ROOT  # noqa: E402
from carebot.scenarios import ros_env  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CLIP = ROOT / "tests" / "data" / "bags" / "resident_fall_clip"
READY_TIMEOUT_S = 240.0         # models load on a loaded 2-core machine
PLAY_TIMEOUT_S = 600.0
ESCALATION_TIMEOUT_S = 90.0
SAME_PLACE_M = 0.25             # the recorded alert vs the replayed one (same frames, same odometry)
SAME_TIME_S = 0.5               # s: the frame the alert was decided on, recorded vs replayed (frames 0.2 s apart)
FALL, RAISED, ESCALATED = 0, 0, 2
READY_LINES = {"perception": "model ready", "brain": "brain ready"}


class Watcher:
    """Test-side node: alerts, as the brain listens to them (live)."""

    def __init__(self, env: dict[str, str]):
        from carebot_interfaces.msg import Alert

        from carebot.alert_delivery import ALERTS_LIVE_QOS

        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node(f"replay_test_{uuid.uuid4().hex[:6]}", context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.alerts: list = []
        self.node.create_subscription(Alert, "alerts", self.alerts.append, ALERTS_LIVE_QOS)

    def spin_until(self, predicate, timeout: float, processes=()) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
            if predicate():
                return True
            dead = [p for p in processes if p.poll() is not None]
            if dead:
                raise AssertionError(f"a node exited early: {[p.args for p in dead]}")
        return bool(predicate())

    def close(self) -> None:
        self.node.destroy_node()
        self.context.try_shutdown()


def _alerts(watcher: Watcher) -> list[tuple]:
    return [(a.id[:8], a.kind, a.state, a.header.stamp.sec + a.header.stamp.nanosec * 1e-9, a.message[:60])
            for a in watcher.alerts]


def _params(tmp: Path) -> Path:
    """The care home's parameters as the scenario ran them, the brain without an LLM (not needed
    for a fall, and the embedded llama.cpp server would take the CPU the replay needs)."""
    data = copy.deepcopy(yaml.safe_load(bringup.site_config("care_home").read_text(encoding="utf-8")))
    data.setdefault("brain", {}).setdefault("ros__parameters", {})["llm_enabled"] = False
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_replayed_fall_gives_the_same_alert_at_the_same_place(tmp_path):
    reference = find_fall(CLIP)
    info = read_info(CLIP)
    assert info.complete and info.topic("/camera/image_raw").count > 20
    env = ros_env.isolated_env(HF_HUB_OFFLINE="1")
    plan = bringup.launch_plan(site="care_home", config=_params(tmp_path), use_sim_time=True,
                               only=["perception", "brain"])
    procs = [ros_env.start(node_command(launch), env, tmp_path / f"{launch.spec.name}.log") for launch in plan]
    watcher = Watcher(env)
    try:
        # Under use_sim_time and before any /clock the nodes' timers (their diagnostics) do not run:
        # readiness is read from their logs.
        logs = {name: tmp_path / f"{name}.log" for name in READY_LINES}
        ready = watcher.spin_until(lambda: all(READY_LINES[n] in logs[n].read_text(errors="replace")
                                               for n in READY_LINES), READY_TIMEOUT_S, procs)
        assert ready, {n: logs[n].read_text(errors="replace")[-500:] for n in READY_LINES}
        started = time.monotonic()
        player = subprocess.Popen(
            [sys.executable, "-m", "carebot.cli", "bag", "play", str(CLIP), "--clock",
             "--topics", "camera/image_raw", "camera/camera_info", "odom", "joint_states",
             "--sync", "camera/image_raw=perception/persons", "--sync-timeout", "60"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        watcher.spin_until(lambda: player.poll() is not None, PLAY_TIMEOUT_S)
        output = player.communicate(timeout=10)[0]
        play_s = time.monotonic() - started
        assert player.returncode == 0, output
        assert "played" in output and "/alerts" not in output.split("played")[-1], output

        def in_clip(alert) -> bool:
            # On the recording's clock: an alert of a test in another process that drew the same random
            # DDS domain (wall-clock stamps) is not this replay's.
            stamp = alert.header.stamp.sec * 10 ** 9 + alert.header.stamp.nanosec
            return info.start_ns - 10 ** 9 <= stamp <= info.end_ns

        def raised():
            return next((a for a in watcher.alerts if a.kind == FALL and a.state == RAISED and in_clip(a)), None)
        assert watcher.spin_until(raised, 10.0), f"no FALL alert from the replay; player said:\n{output}"
        alert = raised()
        # Same place: the map point perception computed from the same frames and odometry.
        assert alert.header.frame_id == "map" and alert.position_known
        error = math.hypot(alert.position.x - reference.position[0], alert.position.y - reference.position[1])
        assert error < SAME_PLACE_M, (alert.position, reference.position)
        assert alert.room == reference.room
        # Same time on the recording's clock: decided on the same camera frame, or one next to it.
        replay_s = (alert.header.stamp.sec + alert.header.stamp.nanosec * 1e-9) - reference.fall_ns / 1e9
        recorded_s = (reference.alert_stamp_ns - reference.fall_ns) / 1e9
        assert abs(replay_s - recorded_s) < SAME_TIME_S, (replay_s, recorded_s, _alerts(watcher))
        # The brain takes the incident up: nobody can drive there in this stack, so it escalates it.
        escalated = watcher.spin_until(lambda: any(a.id == alert.id and a.state == ESCALATED for a in watcher.alerts),
                                       ESCALATION_TIMEOUT_S, procs)
        assert escalated, _alerts(watcher)
        print(f"replay: {play_s:.0f} s wall for {info.duration_s:.1f} s of recording; alert {error:.2f} m and "
              f"{replay_s - recorded_s:+.2f} s from the recorded one")
    finally:
        watcher.close()
        for proc in procs:
            ros_env.stop(proc)
