"""Hallucination guard decisions on recogniser outputs (no model needed)."""
import numpy as np
import pytest

from carebot.speech.hallucination_guard import GuardConfig, HallucinationGuard, Verdict, confidence_of
from carebot.speech.recognizer import Recognition, SegmentResult

from conftest import speak


def rec(text, logprob=-0.2, no_speech=0.05, cr=1.2, audio_s=2.0, language="en"):
    return Recognition(text, language, 1.0, [SegmentResult(text, 0.0, audio_s, logprob, no_speech, cr)], audio_s)


GUARD = HallucinationGuard()


def test_clear_speech_is_accepted_with_its_confidence():
    r = GUARD.judge(rec("Please call the nurse.", logprob=-0.1))
    assert r.accepted and r.text == "Please call the nurse." and not r.low_confidence
    assert r.confidence == pytest.approx(np.exp(-0.1))


def test_unsure_text_is_marked_low_confidence():
    r = GUARD.judge(rec("Please call the nurse.", logprob=-0.8))
    assert r.accepted and r.low_confidence


@pytest.mark.parametrize("text", ["Thanks for watching!", "Please subscribe to my channel.",
                                  "Subtitles by the Amara.org community", "字幕由Amara.org社区提供",
                                  "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目"])
def test_subtitle_phrases_are_never_transcripts(text):
    assert GUARD.judge(rec(text, logprob=-0.05)).verdict == Verdict.HALLUCINATION


@pytest.mark.parametrize("text", ["♪", "[Music]", "(coughing)", "...", "*applause*"])
def test_sound_marks_are_not_words(text):
    assert not GUARD.judge(rec(text)).accepted


def test_stock_phrases_need_strong_evidence():
    assert GUARD.judge(rec("Thank you.", logprob=-0.6, no_speech=0.3)).verdict == Verdict.HALLUCINATION
    assert GUARD.judge(rec("Thank you.", logprob=-0.05, no_speech=0.01)).accepted


def test_whisper_no_speech_and_repetition_and_unsure():
    assert GUARD.judge(rec("I see the sea.", logprob=-0.9, no_speech=0.8)).verdict == Verdict.NO_SPEECH
    assert GUARD.judge(rec("the the the the", cr=3.1)).verdict == Verdict.REPETITIVE
    assert GUARD.judge(rec("King free UFO war", logprob=-1.5)).verdict == Verdict.UNSURE


def test_more_words_than_the_audio_holds():
    long_text = "I would like to order a large pizza with cheese and tomato and mushrooms please"
    assert GUARD.judge(rec(long_text, audio_s=0.6)).verdict == Verdict.TOO_MANY_WORDS
    assert GUARD.judge(rec(long_text, audio_s=5.0)).accepted


def test_bad_segments_are_dropped_good_ones_kept():
    r = Recognition("x", "en", 1.0, [SegmentResult("Where is my room?", 0, 2, -0.2, 0.05, 1.1),
                                     SegmentResult("Thanks for watching", 2, 4, -1.5, 0.9, 1.0)], 4.0)
    out = GUARD.judge(r)
    assert out.accepted and out.text == "Where is my room?"


@pytest.mark.parametrize("audio,verdict", [
    (np.zeros(0, np.float32), Verdict.EMPTY_AUDIO),
    (np.zeros(1600, np.float32), Verdict.EMPTY_AUDIO),                  # 0.1 s
    (np.full(16000, np.nan, np.float32), Verdict.EMPTY_AUDIO),
    (np.zeros(16000, np.float32), Verdict.TOO_QUIET),
])
def test_audio_checks(audio, verdict):
    assert GUARD.check_audio(audio).verdict == verdict


def test_clipped_and_loud_audio_is_not_discarded_before_recognition():
    # A scream overdrives the microphone: it must reach Whisper and the shout check.
    full_scale = np.sign(np.random.default_rng(0).normal(size=16000)).astype(np.float32)
    assert GUARD.check_audio(full_scale) is None
    assert GUARD.check_audio(np.clip(speak("Help me") * 6.0, -1, 1)) is None


def test_real_speech_passes_the_audio_check():
    assert GUARD.check_audio(speak("Where are my glasses")) is None


def test_confidence_weights_segments_by_length():
    segs = [SegmentResult("a", 0, 1, -2.0, 0, 1), SegmentResult("a long sentence here", 1, 2, -0.1, 0, 1)]
    assert confidence_of(segs) > 0.7
    assert confidence_of([]) == 0.0
    assert GuardConfig().low_confidence_threshold < GuardConfig().stock_phrase_min_confidence


def test_stop_and_help_are_not_dropped_for_a_high_no_speech_estimate():
    # Short shouted words often score a high no-speech probability; a missed "stop" is worse
    # than a false one. Other text with the same scores is still dropped.
    assert GUARD.judge(rec("Stop!", logprob=-0.8, no_speech=0.8)).accepted
    assert GUARD.judge(rec("Help!", logprob=-0.8, no_speech=0.8)).accepted
    assert GUARD.judge(rec("停！", logprob=-0.8, no_speech=0.8, language="zh")).accepted
    assert GUARD.judge(rec("I see the sea.", logprob=-0.8, no_speech=0.8)).verdict == Verdict.NO_SPEECH
    assert GUARD.judge(rec("Stop!", logprob=-1.5)).verdict == Verdict.UNSURE      # unsure is unsure


def test_the_vocabulary_prompt_read_back_is_not_a_transcript():
    prompt = "Nurse Li, Dr Wang, Mr Zhang, Mrs Chen, Lounge, Dining Room. Help! Stop! Wait!"

    def prompted(text):
        r = rec(text)
        r.prompt = prompt
        return r

    assert GUARD.judge(prompted("Mr Zhang, Mrs Chen, Lounge.")).verdict == Verdict.PROMPT_ECHO
    assert GUARD.judge(prompted("Where is Mrs Chen?")).accepted         # prompt words in a request: fine
    assert GUARD.judge(prompted("Help!")).accepted                      # a distress word is never an echo
    assert GUARD.judge(rec("Mr Zhang, Mrs Chen, Lounge.")).accepted     # no prompt given: no echo check
