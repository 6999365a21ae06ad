"""Speech output: espeak-ng and the Piper voice, elderly-friendly settings."""
import numpy as np
import pytest

from carebot.speech.tts import Synthesizer, TtsConfig, TtsEngine, TtsError


@pytest.fixture(scope="module")
def synth():
    return Synthesizer()


def test_english_uses_the_piper_voice_and_mandarin_espeak(synth):
    assert synth.engine_for("en") == TtsEngine.PIPER
    assert synth.engine_for("zh") == TtsEngine.ESPEAK
    clip = synth.synthesize("Good morning. It is time for breakfast.", "en")
    assert 1.0 < clip.duration_s < 8.0
    zh = synth.synthesize("你好,我是护理机器人。", "zh")
    assert zh.duration_s > 1.0


@pytest.mark.parametrize("engine", [TtsEngine.ESPEAK, TtsEngine.PIPER])
def test_slower_rate_is_longer_and_volume_scales(engine):
    s = Synthesizer(TtsConfig(engine=engine))
    text = "Your daughter is coming to visit this afternoon."
    slow, fast = s.synthesize(text, "en", rate_wpm=100), s.synthesize(text, "en", rate_wpm=200)
    assert slow.duration_s > 1.4 * fast.duration_s
    loud, quiet = s.synthesize(text, "en", volume=1.0), s.synthesize(text, "en", volume=0.3)
    assert np.max(np.abs(loud.samples)) == pytest.approx(0.95, abs=0.01)
    assert np.max(np.abs(quiet.samples)) == pytest.approx(0.285, abs=0.01)


def test_default_rate_is_slow_for_elderly_listeners():
    s = Synthesizer(TtsConfig(engine=TtsEngine.ESPEAK))
    text = "The doctor will see you at ten o'clock in the morning."
    assert s.synthesize(text).duration_s > 1.2 * s.synthesize(text, rate_wpm=175).duration_s


@pytest.mark.parametrize("text", ["", "   ", "x" * 5000])
def test_bad_text_is_a_clear_error(synth, text):
    with pytest.raises(TtsError):
        synth.synthesize(text)


def test_text_that_looks_like_an_option_is_spoken_not_parsed():
    s = Synthesizer(TtsConfig(engine=TtsEngine.ESPEAK))
    assert s.synthesize("--help me").duration_s > 0.3
