"""The brain node over real DDS: safety phrases, brain/ask, fall response, missing servers.

The LLM is the scripted DeepSeek-format server over real HTTP (the node runs as
openai_compatible against it); the test process stands in for speech and
navigation (carebot's own nodes are tested in their roles' tests).
"""
from __future__ import annotations

import time

import pytest

from carebot.brain import scripted_llm as s
from carebot.alerts import AlertKind, AlertState
from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for

from brain_support import BrainPeer

pytestmark = pytest.mark.ros


def brain_args(**params):
    args = python_module("carebot.brain.brain_node", "--ros-args")
    for key, value in params.items():
        args += ["-p", f"{key}:={value}"]
    return args


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    log = tmp_path_factory.mktemp("brain") / "brain.log"
    env = isolated_env()
    llm = s.ScriptedLLMServer([s.tool_calls(("speak", {"text": "Let us go to the lounge."}),
                                            ("navigate_to", {"place": "lounge"}))]).start()
    proc = start(brain_args(site="care_home", llm_backend="openai_compatible", llm_base_url=llm.url,
                            use_embeddings="false", fall_answer_timeout_s=2.0, action_server_wait_s=2.0,
                            shout_answer_timeout_s=4.0), env, log)
    peer = BrainPeer(env)
    assert wait_for(lambda: peer.ask.wait_for_service(timeout_sec=0.5), 60), log.read_text()
    # The timed tests start once the brain's start-up work is done: while e5 loads in the
    # background (a few seconds), a clean-clone CI run on 2 loaded cores saw a stop phrase take
    # 3.1 s. The rules answer during that time too; docs/brain.md says how slowly.
    assert wait_for(lambda: "similarity check ready" in log.read_text()
                    or "similarity check unavailable" in log.read_text(), 90), log.read_text()[-2000:]
    yield peer, log, proc, llm
    peer.close()
    assert stop(proc) == 0, log.read_text()[-2000:]
    llm.stop()


def test_stop_phrase_publishes_estop_and_calls_the_trigger(stack):
    peer, log, _, _ = stack
    peer.estops.clear()
    peer.wait_until_heard()          # discovery is not the brain's time: the clock starts once matched
    t0 = time.monotonic()
    peer.say("停下！", language="zh")
    assert wait_for(lambda: True in peer.estops, 5), log.read_text()[-2000:]
    assert time.monotonic() - t0 < 3.0
    assert wait_for(lambda: peer.triggers >= 1, 5)


def test_call_for_help_raises_an_alert_and_reassures(stack):
    peer, log, _, _ = stack
    peer.say("Help! I fell and I can't get up", language="en", speaker="room_101")
    assert wait_for(lambda: any(a.person == "room_101" for a in peer.alerts), 5), log.read_text()[-2000:]
    alert = next(a for a in peer.alerts if a.person == "room_101")
    assert alert.kind == AlertKind.FALL and alert.severity == 2 and alert.state == AlertState.RAISED
    assert wait_for(lambda: any("help is on the way" in t for t in peer.spoken), 5)
    time.sleep(1.0)   # a fall said aloud is not a perception fall: the brain must not drive to it
    assert not any("Are you all right" in t for t in peer.spoken)


def test_chest_pain_is_a_critical_medical_alert_at_once(stack):
    """Issue 11: "my chest hurts" without any LLM, as Whisper writes it, alerts staff at once."""
    peer, log, _, llm = stack
    asked = len(llm.requests)
    peer.wait_until_heard()
    t0 = time.monotonic()
    peer.say("um my chest hurts", language="en", speaker="room_104")
    assert wait_for(lambda: any(a.person == "room_104" for a in peer.alerts), 5), log.read_text()[-2000:]
    elapsed = time.monotonic() - t0
    alert = next(a for a in peer.alerts if a.person == "room_104")
    assert alert.kind == AlertKind.MEDICAL and alert.severity == 2, alert
    assert elapsed < 2.0, elapsed
    assert wait_for(lambda: any("a nurse is coming" in t for t in peer.spoken), 5)
    assert len(llm.requests) == asked                   # the LLM was never asked


def test_a_shout_without_words_checks_in_then_alerts_when_nobody_answers(stack):
    peer, log, _, _ = stack
    known = {a.id for a in peer.alerts}      # (unstored alerts are re-sent: count incidents, not messages)
    peer.shout(-3.0)
    assert wait_for(lambda: any("heard a shout" in t for t in peer.spoken), 5), log.read_text()[-2000:]
    question = next(t for t in peer.spoken if "heard a shout" in t)
    # The robot hears its own question back: no alert for "Do you need help?", no answer either.
    peer.say(question.lower().replace(".", "").replace("?", ""), language="en")
    time.sleep(1.0)
    new = [a for a in peer.alerts if a.id not in known]
    assert not new, [a.message for a in new]
    assert "own voice" in log.read_text()
    assert wait_for(lambda: any("Loud shout" in a.message for a in peer.alerts), 10), log.read_text()[-2000:]
    alert = next(a for a in peer.alerts if "Loud shout" in a.message)
    assert alert.kind == AlertKind.HELP_REQUEST and "no answer" in alert.message


def test_fall_alert_no_answer_escalates_and_staff_ack_closes(stack):
    import math

    peer, log, _, _ = stack
    from geometry_msgs.msg import Point

    # Perception reports the person in base_link: 2 m ahead of a robot at (1, 1) facing +y.
    peer.publish_pose(1.0, 1.0, math.pi / 2)
    time.sleep(0.5)
    fall = peer.Alert(id="fall-test-1", kind=AlertKind.FALL, severity=2, state=AlertState.RAISED,
                      message="person down")
    fall.header.frame_id = "base_link"
    fall.position = Point(x=2.0, y=0.0, z=0.0)
    fall.position_known = True
    peer.alert_pub.publish(fall)

    def fall_goal():   # the person is at (1, 3) on the map; the robot stops 0.8 m short, facing them
        return next((g for g in peer.nav_goals if g.target.header.frame_id == "map"
                     and abs(g.target.pose.position.y - 2.2) < 1e-6), None)
    assert wait_for(lambda: fall_goal() is not None, 10), log.read_text()[-3000:]
    goal = fall_goal()
    assert abs(goal.target.pose.position.x - 1.0) < 1e-6
    assert abs(goal.target.pose.orientation.z - math.sin(math.pi / 4)) < 1e-6
    assert 0 < goal.max_speed <= 0.3                   # low speed near a person on the floor
    assert wait_for(lambda: any("Are you all right" in t for t in peer.spoken), 10)
    assert wait_for(lambda: any(a.id == "fall-test-1" and a.state == AlertState.ESCALATED for a in peer.alerts), 10)
    escalated = next(a for a in peer.alerts if a.id == "fall-test-1" and a.state == AlertState.ESCALATED)
    assert "no answer" in escalated.message
    ack = peer.Alert(id="fall-test-1", kind=AlertKind.FALL, severity=2, state=AlertState.ACKNOWLEDGED,
                     handled_by="nurse")
    peer.alert_pub.publish(ack)
    assert wait_for(lambda: any("staff has seen the alert" in t for t in peer.spoken), 10), log.read_text()[-2000:]


def test_errand_goes_to_the_kitchen_and_comes_back(stack):
    peer, log, _, _ = stack
    peer.publish_pose(5.0, 3.6, 3.14)
    time.sleep(0.5)
    before = len(peer.nav_goals)
    peer.say("Please bring me a glass of water.", language="en", speaker="room_102")
    assert wait_for(lambda: any("Here is your water" in t for t in peer.spoken), 20), log.read_text()[-3000:]
    goals = peer.nav_goals[before:]
    assert goals[0].place == "kitchen"
    assert goals[1].target.header.frame_id == "map"
    assert (goals[1].target.pose.position.x, goals[1].target.pose.position.y) == (5.0, 3.6)


def test_yes_please_after_an_offer_guides_there(stack):
    peer, log, _, _ = stack
    before = len(peer.nav_goals)
    peer.say("Where is the bathroom?", language="en", speaker="visitor_7")
    assert wait_for(lambda: any("take you there" in t for t in peer.spoken), 10), log.read_text()[-2000:]
    assert len(peer.nav_goals) == before                 # an answer, not a drive
    peer.say("Yes please, take me there.", language="en", speaker="visitor_7")
    assert wait_for(lambda: any(g.place == "bathroom" for g in peer.nav_goals[before:]), 10), log.read_text()[-2000:]


def test_missing_action_servers_are_survived(tmp_path):
    env = isolated_env()
    log = tmp_path / "brain.log"
    proc = start(brain_args(site="public_hall", llm_enabled="false", use_embeddings="false",
                            action_server_wait_s=0.2), env, log)
    peer = BrainPeer(env, serve_actions=False)
    try:
        assert wait_for(lambda: peer.ask.wait_for_service(timeout_sec=0.5), 60), log.read_text()
        peer.say("Please take me to counter 2")
        assert wait_for(lambda: "not available" in log.read_text(), 10), log.read_text()
        res = peer.call_ask("Tell me a story")            # LLM off: the companionship layer tells it
        assert res.source == "companion" and len(res.reply) > 40, res
        res = peer.call_ask("What is the capital of Peru?")   # nothing here knows: says so, offers staff
        assert res.source == "knowledge" and "staff" in res.reply, res
        assert proc.poll() is None
    finally:
        peer.close()
        assert stop(proc) == 0, log.read_text()[-2000:]


def test_bad_parameter_exits_with_a_clear_message(tmp_path):
    log = tmp_path / "brain.log"
    proc = start(brain_args(llm_backend="gpt-9"), isolated_env(), log)
    assert proc.wait(60) == 2
    assert "llm_backend" in log.read_text()
