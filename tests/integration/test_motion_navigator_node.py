"""The navigator and base_safety nodes over real DDS, driving a kinematic stand-in for the base.

The stand-in (the test process) integrates cmd_vel into map-frame odometry, as the simulation
does with ground truth; the full simulation checks (collisions, every pair of places) belong
to the simulation's scenario tests.
"""
from __future__ import annotations

import math
import time

import pytest

from carebot.bringup import site_config
from carebot.motion.navigation import NavError
from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for

from carebot.motion.gestures import ARM_UP

from motion_support import MotionPeer, serve_gestures

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("nav")
    env = isolated_env()                      # a private e-stop state folder (CAREBOT_STATE_DIR)
    params = str(site_config("care_home"))                # the site's own parameter file
    procs = [start(python_module("carebot.motion.base_safety_node", "--ros-args", "--params-file", params),
                   env, log_dir / "base_safety.log"),
             start(python_module("carebot.motion.navigator_node", "--ros-args", "--params-file", params),
                   env, log_dir / "navigator.log")]
    peer = MotionPeer(env)
    peer.pose = [10.0, 7.0, 0.0]              # the corridor, in front of room 103's door
    peer.gestures = serve_gestures(peer)      # arm_head's gesture action, for tucking the arm
    assert wait_for(lambda: peer.navigate.wait_for_server(timeout_sec=0.5), 40), \
        (log_dir / "navigator.log").read_text()
    peer.handshake()
    yield peer, log_dir
    peer.close()
    for proc in procs:
        assert stop(proc) == 0


def test_navigates_to_a_named_place_with_feedback_and_path(stack):
    peer, log_dir = stack
    peer.pose[:] = [10.0, 7.0, 0.0]
    peer.feedback.clear()
    handle, result = peer.send_goal("room 103")          # an alias
    assert handle.accepted
    assert wait_for(lambda: peer.status is not None and peer.status.current_task == "navigate:room_103", 10)
    res = peer.wait(result, 60)
    assert res is not None, (log_dir / "navigator.log").read_text()[-2000:]
    assert res.result.success and res.result.error_code == NavError.NONE, res.result.message
    assert math.hypot(peer.pose[0] - 10.0, peer.pose[1] - 10.0) < 0.2
    states = {fb.state for fb in peer.feedback}
    assert "driving" in states
    remaining = [fb.distance_remaining for fb in peer.feedback if fb.state == "driving"]
    assert remaining[0] > remaining[-1]
    assert wait_for(lambda: peer.status.current_task == "", 5)


def test_unknown_place_and_unreachable_pose(stack):
    peer, _ = stack
    _, result = peer.send_goal("swimming pool")
    res = peer.wait(result, 10)
    assert not res.result.success and res.result.error_code == NavError.UNKNOWN_PLACE
    assert "kitchen" in res.result.message                # lists the known places
    _, result = peer.send_goal(xy=(11.0, 3.0))            # inside the dining table
    res = peer.wait(result, 10)
    assert res.result.error_code == NavError.UNREACHABLE


def test_cancel_then_emergency_stop_aborts(stack):
    peer, _ = stack
    start_pose = list(peer.pose)
    handle, result = peer.send_goal("charging_dock")
    assert wait_for(lambda: math.hypot(peer.pose[0] - start_pose[0], peer.pose[1] - start_pose[1]) > 0.3, 20)
    handle.cancel_goal_async()
    res = peer.wait(result, 5)
    assert res.result.error_code == NavError.CANCELED
    time.sleep(0.6)
    here = list(peer.pose)
    time.sleep(0.5)
    assert math.hypot(peer.pose[0] - here[0], peer.pose[1] - here[1]) < 0.02     # it stopped

    handle, result = peer.send_goal("corridor")
    assert wait_for(lambda: peer.last_cmd() is not None
                    and abs(peer.last_cmd()[1]) + abs(peer.last_cmd()[2]) > 0.05, 20)
    peer.publish_estop(True)
    res = peer.wait(result, 5)
    assert res.result.error_code == NavError.EMERGENCY_STOP
    _, result = peer.send_goal("corridor")                # refused while the stop holds
    assert peer.wait(result, 5).result.error_code == NavError.EMERGENCY_STOP
    # The site file refuses an anonymous reset (allow_anonymous_reset: false): who and why.
    assert not peer.call(peer.reset).success
    assert peer.call(peer.reset_with_reason, request=peer.ResetEstop.Request(who="test:nurse", why="path clear")).success


def test_the_arm_is_tucked_before_the_base_turns(stack):
    """With the arm out (waving), a goal first asks arm_head for ``rest``; base_safety would hold
    any turn in place until the arm is in. Room 103 is a quarter turn left of the start."""
    peer, log_dir = stack
    peer.pose[:] = [10.0, 7.0, 0.0]
    peer.gestures.clear()
    peer.arm = dict(ARM_UP)
    time.sleep(0.3)
    started = time.monotonic()
    handle, result = peer.send_goal("room 103")
    res = peer.wait(result, 60)
    assert res is not None and res.result.success, (log_dir / "navigator.log").read_text()[-2000:]
    assert peer.gestures == ["rest"]
    tucked_log = (log_dir / "navigator.log").read_text()
    assert "asking arm_head to tuck it" in tucked_log
    # nothing turned in place before the arm was in (the stand-in folds it at once on "rest")
    assert math.hypot(peer.pose[0] - 10.0, peer.pose[1] - 10.0) < 0.2
    assert time.monotonic() - started < 60


def test_no_arm_to_tuck_it_ends_the_goal_with_a_reason(stack):
    peer, _ = stack
    peer.pose[:] = [10.0, 10.0, 0.0]
    peer.arm = None                                   # no joint_states: whether the arm is in is unknown
    try:
        time.sleep(1.2)
        _, result = peer.send_goal("corridor")
        res = peer.wait(result, 20)
        assert res.result.error_code == NavError.BLOCKED and "no joint_states" in res.result.message
    finally:
        from carebot.motion.gestures import REST_ARM
        peer.arm = dict(REST_ARM)
