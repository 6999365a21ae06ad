"""The e-stop survives a restart: base_safety SIGKILLed under `carebot up` comes back latched,
and only a reset that says who and why releases it; an unreadable state file starts latched."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from bringup_support import CAREBOT, started_pids
from carebot.motion.estop_store import FILE_NAME
from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for

from motion_support import MotionPeer

pytestmark = pytest.mark.ros

CONFIG = """base_safety:
  ros__parameters:
    site: care_home
    max_linear_speed: 0.5
"""


def test_estop_survives_sigkill_of_base_safety_under_carebot_up(tmp_path):
    state_dir = tmp_path / "state"
    config = tmp_path / "site.yaml"
    config.write_text(CONFIG)
    env = isolated_env(CAREBOT_STATE_DIR=str(state_dir))
    log = tmp_path / "up.log"
    up = start(CAREBOT + ["up", "--only", "base_safety", "--config", str(config)], env, log)
    peer = MotionPeer(env)
    try:
        peer.twists["cmd_vel_nav"] = (0.4, 0.0)          # the navigator keeps asking to drive
        assert wait_for(lambda: peer.last_cmd() is not None and peer.last_cmd()[1] > 0.3, 60), log.read_text()
        peer.publish_estop(True)
        assert wait_for(lambda: peer.status is not None and peer.status.emergency_stop, 5)
        assert json.loads((state_dir / FILE_NAME).read_text())["latched"] is True

        first = started_pids(log, "base_safety")
        assert len(first) == 1
        os.kill(first[0], signal.SIGKILL)                 # no goodbye: nothing more is written
        killed = time.monotonic()
        assert wait_for(lambda: len(started_pids(log, "base_safety")) == 2, 30), log.read_text()
        assert wait_for(lambda: "starting LATCHED" in log.read_text(), 60), log.read_text()
        # the new process's commands: all zero while the navigator still asks for 0.4 m/s
        assert wait_for(lambda: "latched before this start" in peer.status.stop_reason, 30), peer.status
        back = time.monotonic()
        time.sleep(2.0)
        after = peer.cmds_since(back)
        assert len(after) > 20, "the restarted base_safety publishes cmd_vel"
        assert all(lin == 0.0 and ang == 0.0 for _, lin, ang in peer.cmds_since(killed))
        assert peer.status.emergency_stop and peer.status.mode == 4
        print(f"restarted latched {back - killed:.1f} s after the SIGKILL")

        # safety/estop false is no reset; an anonymous-free reset names who and why
        peer.publish_estop(False)
        refused = peer.call(peer.reset_with_reason, 10, peer.ResetEstop.Request(who="nurse:ben", why=""))
        assert not refused.success and refused.was_engaged
        time.sleep(1.0)
        assert peer.last_cmd()[1] == 0.0
        answer = peer.call(peer.reset_with_reason, 10,
                           peer.ResetEstop.Request(who="nurse:ben", why="checked the corridor"))
        assert answer.success, answer.message
        assert wait_for(lambda: peer.last_cmd()[1] > 0.3, 10)
        data = json.loads((state_dir / FILE_NAME).read_text())
        assert data["latched"] is False and data["last_reset"]["who"] == "nurse:ben"
        assert data["last_reset"]["why"] == "checked the corridor"
        assert "EMERGENCY STOP RESET: emergency stop reset by nurse:ben: checked the corridor" in log.read_text()
    finally:
        peer.twists.clear()
        peer.close()
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(30)
        except subprocess.TimeoutExpired:
            stop(up)


def test_a_corrupt_state_file_starts_latched_and_says_why(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / FILE_NAME).write_text('{"version": 1, "latched": fal')       # cut off mid-write by hand
    env = isolated_env(CAREBOT_STATE_DIR=str(state_dir))
    node = start(python_module("carebot.motion.base_safety_node", "--ros-args", "-p", "site:=care_home"),
                 env, tmp_path / "base_safety.log")
    peer = MotionPeer(env)
    try:
        peer.twists["cmd_vel_nav"] = (0.4, 0.0)
        assert wait_for(lambda: peer.status is not None, 60), (tmp_path / "base_safety.log").read_text()
        assert peer.status.emergency_stop and "is not a valid e-stop state" in peer.status.stop_reason
        time.sleep(1.0)
        assert peer.cmd and all(lin == 0.0 for _, lin, _ in peer.cmd)
        assert wait_for(lambda: peer.diagnostic() is not None and "not a valid e-stop state" in
                        peer.diagnostic()[2].get("reason", ""), 5), peer.diagnostic()
        kept = [p.name for p in state_dir.iterdir() if p.name.startswith(f"{FILE_NAME}.bad-")]
        assert len(kept) == 1                                                  # kept for a person to look at
        assert json.loads((state_dir / FILE_NAME).read_text())["latched"] is True
        assert peer.call(peer.reset, 10).success                               # anonymous, recorded as such
        assert wait_for(lambda: peer.last_cmd()[1] > 0.3, 10)
        assert json.loads((state_dir / FILE_NAME).read_text())["last_reset"]["who"].startswith("unknown")
    finally:
        peer.twists.clear()
        peer.close()
        assert stop(node) == 0
