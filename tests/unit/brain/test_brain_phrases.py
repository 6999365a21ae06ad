"""Deterministic stop / emergency phrase spotting (no model, no ROS)."""
import pytest

from carebot.brain.phrases import (PhraseKind, classify, is_emergency_phrase, is_stop_phrase,
                                   normalize)

EMERGENCY = [
    "Help!", "HELP ME", "help me please", "Somebody help!", "I need help", "I need some help",
    "I fell", "I've fallen and I can't get up", "I have fallen", "I can't get up",
    "Call the nurse, please.", "please call a doctor", "get a nurse", "my husband fell",
    "She collapsed", "I'm bleeding", "chest pain", "Help, I fell down",
    "救命！", "救命啊", "我摔倒了", "我摔倒了，起不来", "快叫护士", "叫护士", "帮帮我",
    "我站不起来了", "快叫救护车", "我胸口疼", "来人啊",
    "ＨＥＬＰ！", "救 命",  # full-width letters, ASR spacing
]
STOP = [
    "stop", "Stop!", "STOP.", "ＳＴＯＰ！", "um, stop please", "stop stop", "stop moving",
    "Robot, stop!", "please stop", "emergency stop", "halt", "don't move",
    "停", "停下", "停下！", "请停下来", "快停下", "停止", "别动", "站住", "停！", "紧急停止",
]
NEITHER = [
    "", "   ", "Can you help me find the dining room?", "where is the help desk",
    "I need help with my ID card form", "could you help me", "that doesn't help",
    "which bus stop is nearest", "What time is lunch?", "I want to go to the lounge",
    "I didn't fall, I'm fine", "停车场在哪里", "我没摔倒", "不用叫护士", "你好",
    "身份证怎么办理", "我想去餐厅", "the bus doesn't stop here anymore, does it",
]


@pytest.mark.parametrize("text", EMERGENCY)
def test_emergency_phrases(text):
    assert is_emergency_phrase(text), text
    assert classify(text) is PhraseKind.EMERGENCY


@pytest.mark.parametrize("text", STOP)
def test_stop_phrases(text):
    assert is_stop_phrase(text), text
    assert classify(text) is PhraseKind.STOP
    assert not is_emergency_phrase(text)


@pytest.mark.parametrize("text", NEITHER)
def test_ordinary_requests_are_neither(text):
    assert classify(text) is PhraseKind.NONE, text
    assert not is_stop_phrase(text)
    assert not is_emergency_phrase(text)


def test_emergency_wins_over_stop():
    assert classify("stop, I fell") is PhraseKind.EMERGENCY
    assert is_stop_phrase("stop stop, I fell")  # barge-in still silences the robot


def test_negation_does_not_hide_a_real_emergency():
    assert is_emergency_phrase("I'm fine but my husband fell")
    assert is_emergency_phrase("我没事，但是我妈妈摔倒了")


def test_normalize_folds_width_case_and_punctuation():
    assert normalize("  ＨＥＬＬＯ，　World!! ") == "hello world"
    assert normalize("I'm") == "i m"
    assert normalize(None) == ""
