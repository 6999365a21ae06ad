"""What the node does with speech heard while the robot talks (phrases from carebot.brain.phrases)."""
from carebot.speech.barge_in import HeardAction, SpeakingGate, decide, is_echo


def test_not_speaking_everything_is_published():
    assert decide("what time is lunch", during_speech=False) == HeardAction.PUBLISH


def test_stop_and_help_cut_the_speech_in_both_languages():
    for heard in ("Stop!", "stop talking", "停", "停下", "Help me, I fell!", "救命"):
        assert decide(heard, True, "Lunch today is chicken soup with bread.") == HeardAction.BARGE_IN, heard


def test_other_talk_and_own_voice_are_ignored_while_speaking():
    spoken = "Please stop at the desk on the left"
    assert decide("lunch is at noon", True, spoken) == HeardAction.IGNORE
    assert is_echo("please stop at the desk", spoken)
    assert decide("please stop at the desk", True, spoken) == HeardAction.IGNORE
    assert decide("stop", True, spoken) == HeardAction.BARGE_IN      # one word is never taken for echo


def test_a_stop_heard_again_after_the_robot_stopped_is_not_published_twice_but_help_is():
    # Pieces heard over the robot overlap, so one "stop" can be heard twice.
    spoken = "Lunch today is chicken soup with bread."
    assert decide("Stop, please stop!", True, spoken, stopped=True) == HeardAction.IGNORE
    assert decide("停下", True, spoken, stopped=True) == HeardAction.IGNORE
    assert decide("Help me, I fell!", True, spoken, stopped=True) == HeardAction.BARGE_IN
    assert decide("stop", False, spoken, stopped=True) == HeardAction.PUBLISH    # the robot is not talking


def test_the_robot_s_own_mandarin_is_echo_character_by_character():
    # Chinese has no spaces: compared word by word, the robot's own "请停一下" would be one
    # "word" not in its sentence and would stop the robot.
    spoken = "我们到电梯了，请停一下，等门开。"
    assert is_echo("请停一下", spoken)
    assert decide("请停一下", True, spoken) == HeardAction.IGNORE
    assert decide("停下", True, spoken) == HeardAction.BARGE_IN          # a bare stop is never echo
    assert decide("快停下来", True, "今天午饭是鸡汤。") == HeardAction.BARGE_IN


def test_barge_in_can_be_switched_off():
    assert decide("stop", True, "hello", barge_in=False) == HeardAction.IGNORE


def test_gate_has_an_echo_tail():
    now = [0.0]
    gate = SpeakingGate(echo_tail_s=0.5, clock=lambda: now[0])
    assert not gate.hearing_self()
    gate.begin("hello there")
    assert gate.speaking and gate.hearing_self() and gate.spoken_text() == "hello there"
    gate.interrupt()
    assert gate.interrupted
    now[0] = 1.0
    gate.end()
    now[0] = 1.3
    assert not gate.speaking and gate.hearing_self()
    now[0] = 1.6
    assert not gate.hearing_self()
    gate.begin("again")
    assert not gate.interrupted
