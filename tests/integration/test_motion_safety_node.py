"""The base safety node over real DDS: killed command source, e-stop latch, people, stale lidar, bad input,
fail-closed lidar readings (REP 117), the arm and turning in place, resets with who and why."""
from __future__ import annotations

import json
import math
import os
import signal
import time

import pytest

from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for

from carebot.motion.estop_store import FILE_NAME
from carebot.motion.gestures import ARM_UP, REST_ARM

from motion_support import MotionPeer, cmd_source_args

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("safety")
    env = isolated_env(CAREBOT_STATE_DIR=str(log_dir / "state"))       # never the machine's own e-stop file
    node = start(python_module("carebot.motion.base_safety_node", "--ros-args", "-p", "max_linear_speed:=0.6"),
                 env, log_dir / "base_safety.log")
    peer = MotionPeer(env)
    assert wait_for(lambda: peer.last_cmd() is not None, 30), (log_dir / "base_safety.log").read_text()
    yield env, peer, node, log_dir
    peer.close()
    code = stop(node)
    assert code == 0, f"base_safety exited with {code}: {(log_dir / 'base_safety.log').read_text()}"


def moving(peer, above=0.2):
    last = peer.last_cmd()
    return last is not None and last[1] > above


def test_killed_command_source_stops_the_base_within_half_a_second(stack):
    env, peer, _, log_dir = stack
    source = start(cmd_source_args("cmd_vel_nav", 0.5), env, log_dir / "source.log")
    try:
        assert wait_for(lambda: moving(peer, 0.4), 20), peer.last_cmd()
        assert wait_for(lambda: peer.status is not None and peer.status.mode == 1, 5)   # NAVIGATING
        assert wait_for(lambda: peer.nav_seen, 5)        # the measurement needs the source's last command
        os.killpg(source.pid, signal.SIGKILL)                                          # no goodbye message
        killed = time.monotonic()
        assert wait_for(lambda: peer.last_cmd()[1] == 0.0 and peer.last_cmd()[0] > killed, 3)
        last_nav = max(peer.nav_seen)
        first_zero = next(t for t, lin, ang in peer.cmds_since(killed) if lin == 0.0 and ang == 0.0)
        print(f"zero cmd_vel {first_zero - last_nav:.3f} s after the last command, {first_zero - killed:.3f} s "
              f"after the kill")
        # Nominally 0.41-0.45 s (the watchdog stops the tick before the deadline); the margin is
        # for process scheduling on a loaded 2-core CI machine, where delays of 0.1-0.2 s occur.
        assert first_zero - last_nav <= 0.5 + 0.2, f"stopped {first_zero - last_nav:.3f} s after the last command"
        assert first_zero - killed <= 0.5 + 0.2
        time.sleep(0.5)
        assert all(lin == 0.0 for _, lin, _ in peer.cmds_since(first_zero))
    finally:
        source.wait(5)


def test_estop_topic_latches_until_the_reset_service(stack):
    _, peer, _, _ = stack
    peer.twists["cmd_vel_nav"] = (0.4, 0.0)
    try:
        assert wait_for(lambda: moving(peer), 10)
        peer.publish_estop(True)
        t = time.monotonic()
        assert wait_for(lambda: peer.status.emergency_stop and peer.status.mode == 4, 3)
        assert wait_for(lambda: peer.last_cmd()[1] == 0.0, 1)
        peer.publish_estop(False)                         # not a reset
        time.sleep(1.5)
        assert all(lin == 0.0 for _, lin, _ in peer.cmds_since(t + 0.3))
        assert peer.status.emergency_stop and "emergency stop" in peer.status.stop_reason
        assert peer.call(peer.reset).success
        assert wait_for(lambda: not peer.status.emergency_stop, 3)
        assert wait_for(lambda: moving(peer), 10)
    finally:
        peer.twists.clear()


def test_estop_service_and_teleop_priority(stack):
    _, peer, _, _ = stack
    peer.twists["cmd_vel_nav"] = (0.4, 0.0)
    peer.twists["cmd_vel_teleop"] = (0.0, 0.5)
    try:
        assert wait_for(lambda: peer.last_cmd()[2] > 0.4 and peer.last_cmd()[1] == 0.0, 10), peer.last_cmd()
        assert wait_for(lambda: peer.status.mode == 3, 3)                    # TELEOP
        response = peer.call(peer.trigger)
        assert response.success
        assert wait_for(lambda: peer.last_cmd()[1:] == (0.0, 0.0) and peer.status.emergency_stop, 3)
        time.sleep(0.5)
        assert peer.last_cmd()[1:] == (0.0, 0.0)
        assert peer.call(peer.reset).success
    finally:
        peer.twists.clear()


def test_people_slow_and_stop_the_base(stack):
    _, peer, _, _ = stack
    peer.twists["cmd_vel_nav"] = (0.6, 0.0)
    try:
        assert wait_for(lambda: peer.last_cmd()[1] > 0.55, 10)
        peer.persons = [(0.8, 1.4)]                       # beside, within 1.5 m of the robot's edge
        assert wait_for(lambda: peer.last_cmd()[1] <= 0.3 and peer.status.speed_limit <= 0.3 + 1e-6, 3), \
            (peer.last_cmd(), peer.status)                # speed_limit is a float32
        time.sleep(0.5)
        assert max(lin for _, lin, _ in peer.cmds_since(time.monotonic() - 0.4)) <= 0.3
        peer.persons = [(0.75, 0.0)]                      # steps in front
        assert wait_for(lambda: peer.last_cmd()[1] == 0.0, 2)
        assert wait_for(lambda: peer.status.stop_reason.startswith("person"), 2), peer.status.stop_reason
        peer.persons = []
        assert wait_for(lambda: peer.last_cmd()[1] > 0.5, 10)
    finally:
        peer.twists.clear()
        peer.persons = []


def test_stale_lidar_and_malformed_commands_stop(stack):
    _, peer, _, _ = stack
    peer.twists["cmd_vel_nav"] = (0.4, 0.0)
    try:
        assert wait_for(lambda: moving(peer), 10)
        peer.scan_range = None
        assert wait_for(lambda: peer.last_cmd()[1] == 0.0 and peer.status.mode == 5, 3)   # FAULT
        assert "lidar" in peer.status.stop_reason
        peer.scan_range = 6.0
        assert wait_for(lambda: moving(peer), 10)
        peer.twists["cmd_vel_nav"] = (math.nan, 0.0)
        assert wait_for(lambda: peer.last_cmd()[1] == 0.0 and "invalid" in peer.status.stop_reason, 3)
        peer.twists["cmd_vel_nav"] = (40.0, 0.0)
        time.sleep(0.5)
        assert peer.last_cmd()[1] == 0.0
        peer.twists["cmd_vel_nav"] = (0.4, 0.0)
        assert wait_for(lambda: moving(peer), 10)
    finally:
        peer.twists.clear()


def front(value: float, half_width_deg: int) -> list[float]:
    """A 6 m ring whose beams within half_width_deg of straight ahead (beam 180) read value."""
    return [value if abs(i - 180) <= half_width_deg else 6.0 for i in range(360)]


# (what the lidar reports, stop_reason it must give, diagnostics level at least)
FAIL_CLOSED = {
    "all NaN": ([math.nan] * 360, "lidar fault: 360 of 360 beams NaN", 2),
    "all -inf": ([-math.inf] * 360, "object closer than the lidar's range_min", 1),
    "all below range_min": ([0.05] * 360, "object closer than the lidar's range_min", 1),
    "too few valid beams ahead": (front(math.nan, 30), "too few valid lidar beams ahead: 60 of 120", 1),
}


@pytest.mark.parametrize("case", list(FAIL_CLOSED))
def test_lidar_fails_closed(stack, case):
    """Each reading that used to let 0.4 m/s through now stops the base and says why on
    robot/status and /diagnostics; a good scan lets it drive again."""
    _, peer, _, _ = stack
    ranges, reason, level = FAIL_CLOSED[case]
    peer.twists["cmd_vel_nav"] = (0.4, 0.0)
    try:
        assert wait_for(lambda: moving(peer), 10)
        peer.scan_ranges = ranges
        changed = time.monotonic()
        assert wait_for(lambda: peer.last_cmd()[1] == 0.0 and peer.status.stop_reason.startswith(reason), 3), \
            (peer.last_cmd(), peer.status.stop_reason)
        time.sleep(0.5)
        assert max(lin for _, lin, _ in peer.cmds_since(changed + 0.3)) == 0.0
        # /diagnostics says it too (published once a second)
        assert wait_for(lambda: (d := peer.diagnostic()) is not None and d[0] >= level and reason in d[1], 4), \
            peer.diagnostic()
        if case == "too few valid beams ahead":
            peer.twists["cmd_vel_nav"] = (-0.1, 0.0)   # behind is seen: backing away is allowed
            assert wait_for(lambda: peer.last_cmd()[1] < -0.05, 5), peer.status.stop_reason
            peer.twists["cmd_vel_nav"] = (0.4, 0.0)
    finally:
        peer.scan_ranges = None
    try:
        assert wait_for(lambda: moving(peer), 10)
        assert wait_for(lambda: peer.diagnostic()[0] == 0, 4), peer.diagnostic()
    finally:
        peer.twists.clear()


def test_status_is_stamped_with_the_odometry_time(stack):
    # The node keeps its own clock under use_sim_time (no /clock wake-ups): robot/status carries
    # the stamp of the newest odometry, the robot's (or the simulation's) time of that pose.
    _, peer, _, _ = stack
    peer.odom_stamp = (4242, 500)
    peer.pose = [0.0, 0.0, 0.0]
    try:
        assert wait_for(lambda: (peer.status.header.stamp.sec, peer.status.header.stamp.nanosec) == (4242, 500), 5), \
            peer.status.header.stamp
    finally:
        peer.pose, peer.odom_stamp = None, None


def test_no_turning_in_place_with_the_arm_out(stack):
    _, peer, _, _ = stack
    peer.twists["cmd_vel_teleop"] = (0.0, 0.5)
    try:
        assert wait_for(lambda: peer.last_cmd()[2] > 0.4, 10)
        peer.arm = dict(ARM_UP)                       # waving
        assert wait_for(lambda: peer.last_cmd()[2] == 0.0 and "arm not tucked" in peer.status.stop_reason, 3), \
            (peer.last_cmd(), peer.status.stop_reason)
        peer.arm = None                               # no joint_states at all: unknown is not tucked
        time.sleep(1.5)
        assert peer.last_cmd()[2] == 0.0
        peer.arm = dict(REST_ARM)
        assert wait_for(lambda: peer.last_cmd()[2] > 0.4, 5)
    finally:
        peer.twists.clear()
        peer.arm = dict(REST_ARM)


def test_reset_with_reason_is_recorded(stack):
    _, peer, _, log_dir = stack
    state = log_dir / "state" / FILE_NAME
    assert peer.call(peer.trigger).success
    assert wait_for(lambda: peer.status.emergency_stop, 3)
    assert json.loads(state.read_text())["latched"] is True                 # on disk before anything else
    refused = peer.call(peer.reset_with_reason, request=peer.ResetEstop.Request(who="", why="looks fine"))
    assert not refused.success and refused.was_engaged and "say who" in refused.message
    time.sleep(0.3)
    assert peer.status.emergency_stop
    answer = peer.call(peer.reset_with_reason,
                       request=peer.ResetEstop.Request(who="nurse:anna", why="path clear, resident seated"))
    assert answer.success and answer.was_engaged and "nurse:anna" in answer.message
    assert wait_for(lambda: not peer.status.emergency_stop, 3)
    data = json.loads(state.read_text())
    assert data["latched"] is False
    assert (data["last_reset"]["who"], data["last_reset"]["why"]) == ("nurse:anna", "path clear, resident seated")
    assert data["last_reset"]["cleared"] == "safety/trigger_estop service"
    assert wait_for(lambda: "nurse:anna" in peer.diagnostic()[2].get("last_reset", ""), 4), peer.diagnostic()
    log = (log_dir / "base_safety.log").read_text()
    assert "EMERGENCY STOP RESET: emergency stop reset by nurse:anna: path clear, resident seated" in log


BAD_PARAMETERS = [("base_safety_node", "max_sped:=3.0"), ("base_safety_node", "person_slow_speed:=0.5"),
                  ("navigator_node", "site:=moon_base"), ("arm_head_node", "speed_scale:=2.0")]


def test_bad_parameters_refuse_to_start(tmp_path):
    """A misspelt or out-of-range limit stops the start (rclpy alone would ignore a misspelt one)."""
    procs = []
    for i, (module, bad) in enumerate(BAD_PARAMETERS):                  # all at once: start-up dominates
        log = tmp_path / f"node{i}.log"
        procs.append((start(python_module(f"carebot.motion.{module}", "--ros-args", "-p", bad), isolated_env(), log),
                      log, bad))
    for proc, log, bad in procs:
        assert proc.wait(90) == 2, log.read_text()
        name, value = bad.split(":=")
        assert name in log.read_text() or value in log.read_text(), log.read_text()


def _median_interval(peer, since: float) -> float:
    stamps = [t for t, _, _ in peer.cmds_since(since)]
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
    return gaps[len(gaps) // 2] if gaps else math.inf


def test_the_tick_runs_at_the_rest_rate_standing_and_at_the_control_rate_when_commanded(stack):
    """Issue 18: a base standing without a command gets zeros at rest_rate_hz (5), a command brings
    control_rate_hz (20) back at once; /diagnostics says which (tick_hz)."""
    _, peer, _, _ = stack
    peer.twists.clear()
    assert wait_for(lambda: (d := peer.diagnostic()) is not None and d[2].get("tick_hz") == "5", 8), peer.diagnostic()
    rest_from = time.monotonic()
    time.sleep(2.0)
    assert 0.15 <= _median_interval(peer, rest_from) <= 0.3
    assert all(lin == 0.0 and ang == 0.0 for _, lin, ang in peer.cmds_since(rest_from))
    peer.twists["cmd_vel_nav"] = (0.3, 0.0)
    try:
        sent = time.monotonic()
        assert wait_for(lambda: moving(peer, 0.05), 3)
        # The first command is acted on when it arrives, not at the next rest tick.
        first_move = next(t for t, lin, _ in peer.cmds_since(sent) if lin > 0.0)
        assert first_move - sent < 0.5
        active_from = time.monotonic()
        time.sleep(2.0)
        assert 0.035 <= _median_interval(peer, active_from) <= 0.07
        assert wait_for(lambda: peer.diagnostic()[2].get("tick_hz") == "20", 3), peer.diagnostic()
    finally:
        peer.twists.clear()
