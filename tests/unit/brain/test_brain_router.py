"""The transcript router, the effects vocabulary and the errand state machine (no ROS)."""
from datetime import datetime

import pytest

from carebot.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.brain import effects as fx
from carebot.brain.check_in import CheckInConfig, ShoutCheckIn
from carebot.brain.dialogue import Brain
from carebot.brain.errand import Errand, ErrandState
from carebot.brain.fall_response import FallConfig, FallResponder, FallState
from carebot.brain.own_voice import OwnVoice
from carebot.brain.router import Heard, Route, TranscriptRouter

NOW = datetime(2026, 11, 29, 10, 0)


@pytest.fixture(scope="module")
def brain():
    return Brain("care_home", use_embeddings=False, wall_clock=lambda: NOW)


class CountingNet:
    """Wraps the brain's safety net to count how often it is evaluated."""

    def __init__(self, net):
        self.net, self.calls = net, 0

    def evaluate(self, *args, **kwargs):
        self.calls += 1
        return self.net.evaluate(*args, **kwargs)


@pytest.fixture
def router(brain):
    brain.safety = CountingNet(brain.safety.net if isinstance(brain.safety, CountingNet) else brain.safety)
    clock = [100.0]
    return TranscriptRouter(brain, FallResponder(FallConfig(answer_timeout_s=5)), ShoutCheckIn(CheckInConfig()),
                            OwnVoice(clock=lambda: clock[0]))


def fall_alert(**kw):
    base = dict(id="fall-1", kind=AlertKind.FALL, severity=Severity.CRITICAL, state=AlertState.RAISED,
                place="lounge", position=(3.0, 2.0, 0.0))
    return AlertRecord(**{**base, **kw})


def test_a_call_for_help_is_decided_once_and_alerts_before_it_speaks(router):
    routed = router.route(Heard("Help! I fell and I can't get up", "room_101", "en"), 0.0)
    assert routed.route is Route.SAFETY and router.brain.safety.calls == 1
    kinds = [type(e) for e in routed.effects]
    assert kinds.index(fx.PublishAlert) < kinds.index(fx.Speak)
    alert = next(e.alert for e in routed.effects if isinstance(e, fx.PublishAlert))
    assert alert.kind is AlertKind.FALL and alert.person == "room_101" and alert.raised_at > 1e9


def test_a_stop_phrase_stops_first(router):
    routed = router.route(Heard("停下！", "", "zh"), 0.0)
    assert routed.route is Route.SAFETY and isinstance(routed.effects[0], fx.StopRobot)
    assert fx.Cancel("navigate_to") in routed.effects


def test_the_fall_response_hears_a_call_for_help_without_matching_it_again(router):
    router.on_alert(fall_alert(), 0.0)
    router.fall.on_arrived(True, 1.0)
    routed = router.route(Heard("我起不来，快来人", "", "zh"), 2.0)
    assert routed.route is Route.SAFETY and router.brain.safety.calls == 1
    escalated = [e.alert for e in routed.effects if isinstance(e, fx.PublishAlert) and e.alert.id == "fall-1"]
    assert escalated and escalated[0].state is AlertState.ESCALATED
    assert router.fall.state is FallState.ESCALATED


def test_an_answer_while_listening_goes_to_the_fall_response(router):
    router.on_alert(fall_alert(), 0.0)
    router.fall.on_arrived(True, 1.0)
    routed = router.route(Heard("I'm fine, thank you", "", "en"), 2.0)
    assert routed.route is Route.FALL_RESPONSE and router.fall.state is FallState.WAITING_STAFF


def test_shouts_own_voice_low_confidence_and_dialogue(router):
    assert router.route(Heard("", shout=False), 0.0).route is Route.EMPTY
    shout = router.route(Heard("", shout=True, level_dbfs=-8.0), 0.0)
    assert shout.route is Route.SHOUT and isinstance(shout.effects[0], fx.Speak)
    assert router.route(Heard("I'm fine", "", "en"), 1.0).route is Route.CHECK_IN
    router.own_voice.said("Please follow me to the lounge and take a seat there.")
    assert router.route(Heard("please follow me to the lounge and take a seat there"), 101.0).route is Route.OWN_VOICE
    assert router.route(Heard("what is for lunch", low_confidence=True), 2.0).route is Route.LOW_CONFIDENCE
    dialogue = router.route(Heard("What time is lunch?", "room_102", "xx"), 3.0)
    assert (dialogue.route, dialogue.language, dialogue.person) == (Route.DIALOGUE, "en", "room_102")


def test_incidents_this_brain_opened_are_not_answered_again(router):
    own = fall_alert(id="help-1")
    router.opened(own)
    assert router.on_alert(own, 0.0) == []
    assert router.on_alert(fall_alert(), 0.0)[0].reply_to == "fall"
    assert router.on_alert(fall_alert(state=AlertState.ACKNOWLEDGED), 1.0)[0] == fx.Speak(
        "A member of staff has seen the alert and is on the way.", "en")


def test_decision_effects_keep_the_plan_in_order(brain):
    decision = brain.decide("Please fetch me the newspaper", person="room_101")
    effects = fx.decision_effects(decision)
    assert any(isinstance(e, fx.StartErrand) and e.place == "lounge" for e in effects)
    guide = fx.decision_effects(brain.decide("Would you take me to the lounge please"))
    assert any(isinstance(e, fx.Navigate) and e.place == "lounge" and not e.reply_to for e in guide)


def test_a_reply_in_parts_is_one_reply_and_a_streamed_reply_is_not_said_twice(brain):
    from carebot.brain.dialogue import Decision, Source
    from carebot.brain.tools import ToolCall

    parts = [ToolCall("speak", {"text": f"Part {n}.", "language": "en"}) for n in range(3)]
    said = fx.decision_effects(Decision("Part 0. Part 1. Part 2.", parts, Source.RULE, "en"))
    # The first part starts a new reply (whatever was being said ends); the others queue behind
    # it - sent as three new replies, each would cut off the one before.
    assert said == [fx.Speak("Part 0.", "en", queue=False), fx.Speak("Part 1.", "en", queue=True),
                    fx.Speak("Part 2.", "en", queue=True)]
    streamed = Decision("Part 0.", parts[:1] + [ToolCall("gesture", {"name": "wave"})], Source.LLM, "en",
                        spoken_live=True)
    assert fx.decision_effects(streamed) == [fx.Gesture("wave")]      # its words went out as they streamed


def test_own_voice_of_a_queued_sentence_lasts_until_it_can_have_been_said():
    clock = [0.0]
    voice = OwnVoice(window_s=2.0, clock=lambda: clock[0])
    long = "Each drop of rain bends the light and splits it into all of its colours for us"
    voice.said("A rainbow appears when sunlight shines through the raindrops after a storm")
    voice.said(long, queued=True)        # plays after the first sentence, not now
    clock[0] = 12.0                      # past the second sentence's end had it started at 0
    assert voice.is_own(long)
    voice.said("Something new entirely now", queued=False)
    clock[0] = 40.0
    assert not voice.is_own(long)


def test_errand_goes_there_comes_back_and_hands_over():
    errand = Errand("tea", "kitchen", "en", home=(1.0, 2.0), leg_timeout_s=60)
    assert errand.start(0.0) == [fx.Navigate("kitchen", None, 0.0, reply_to="errand")]
    back = errand.on_navigated(True, 30.0)
    assert back == [fx.Navigate("", (1.0, 2.0, 0.0), 0.0, "map", reply_to="errand")]
    assert errand.state is ErrandState.RETURNING and errand.tick(89.0) == []
    done = errand.on_navigated(True, 70.0)
    assert done == [fx.Gesture("handover"), fx.Speak("Here is your tea.", "en")] and not errand.active
    assert errand.on_navigated(True, 71.0) == []


def test_errand_fails_on_a_failed_drive_a_timeout_or_a_replacement():
    failed = Errand("茶", "kitchen", "zh", home=None)
    failed.start(0.0)
    assert failed.on_navigated(False, 5.0) == [fx.Speak("对不起，我没能拿到茶，我会请工作人员帮忙。", "zh")]
    slow = Errand("tea", "kitchen", "en", home=(0.0, 0.0), leg_timeout_s=10)
    slow.start(0.0)
    assert slow.tick(10.0)[0] == fx.Cancel("navigate_to") and slow.state is ErrandState.FAILED
    replaced = Errand("tea", "kitchen", "en", home=None)
    replaced.start(0.0)
    assert len(replaced.abandon()) == 1 and replaced.abandon() == []
    direct = Errand("tea", "kitchen", "en", home=None)      # no pose when asked: hand over where it is
    direct.start(0.0)
    assert direct.on_navigated(True, 9.0)[0] == fx.Gesture("handover")
