"""Level and shout detection (pure, no model): screams and shouts are loud and
voice-like; quiet noise, hums, bangs and ordinary speech are not shouts."""
import numpy as np
import pytest

from carebot.speech.acoustics import hum, scream
from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.loudness import (RECOGNITION_PEAK, ShoutConfig, is_shout, measure, tame)

from conftest import room_noise, silence, speak


def test_a_clipped_scream_is_a_shout():
    loud = measure(scream())
    assert loud.clipped_fraction > 0.05 and loud.peak >= 0.99
    assert loud.level_dbfs > -6.0
    assert loud.voiced_fraction > 0.5 and loud.voice_band > 0.8
    assert is_shout(loud)


def test_a_loud_unclipped_shout_is_a_shout_by_level():
    words = speak("Help me", rate=140)
    shouted = np.clip(words * 4.0, -0.98, 0.98)      # hot and limited, just short of full scale
    loud = measure(shouted)
    assert loud.clipped_fraction == 0.0 and loud.level_dbfs >= ShoutConfig().shout_level_dbfs
    assert is_shout(loud)


def test_clipping_counts_on_the_raw_input_when_given():
    x = scream()
    filtered = 0.9 * x                                # e.g. a noise suppressor's output: no sample at full scale
    assert measure(filtered).clipped_fraction == 0.0
    assert measure(filtered, raw=x).clipped_fraction > 0.05


@pytest.mark.parametrize("name,audio", [
    ("ordinary speech at 0.7 peak", speak("Could you please bring me a glass of water")),
    ("quiet room noise", room_noise(2.0, 0.003)),
    ("loud mains hum", hum(f0=100.0)),
    ("loud low motor hum", hum(f0=60.0)),
    ("clipped white-noise bang", np.clip(np.random.default_rng(1).normal(0, 2.0, SAMPLE_RATE), -1, 1)
     .astype(np.float32)),
    ("a 60 ms clipped click", np.concatenate([silence(0.5), np.clip(5 * np.sin(2 * np.pi * 700 * np.arange(960)
                                                                         / SAMPLE_RATE), -1, 1), silence(0.5)])
     .astype(np.float32)),
    ("silence", silence(1.0)),
])
def test_not_shouts(name, audio):
    assert not is_shout(measure(audio)), measure(audio)


def test_the_robots_own_voice_at_full_volume_is_not_a_shout():
    # The TTS normalises to a 0.95 peak: the loudest the robot ever plays.
    voice = speak("Good morning, it is time for your tablets", rate=130)
    voice = voice * (0.95 / np.max(np.abs(voice)))
    loud = measure(voice)
    assert loud.clipped_fraction == 0.0
    assert not is_shout(loud), loud


def test_level_is_the_active_speech_level_not_diluted_by_silence():
    words = speak("Where are my glasses")
    padded = np.concatenate([silence(2.0), words, silence(2.0)])
    assert measure(padded).level_dbfs == pytest.approx(measure(words).level_dbfs, abs=1.0)
    # 20 dB quieter speech reads 20 dB lower.
    assert measure(words * 0.1).level_dbfs == pytest.approx(measure(words).level_dbfs - 20.0, abs=0.5)
    assert measure(np.zeros(0, np.float32)).level_dbfs == -120.0


def test_threshold_is_a_parameter():
    words = speak("Where are my glasses")               # about -20 dBFS active level
    level = measure(words).level_dbfs
    assert not is_shout(measure(words))
    assert is_shout(measure(words), ShoutConfig(shout_level_dbfs=level - 3.0))
    with pytest.raises(ValueError):
        ShoutConfig(shout_level_dbfs=6.0).validate()


def test_loud_audio_is_tamed_before_recognition_and_ordinary_audio_is_not():
    x = scream()
    tamed = tame(x, measure(x))
    assert np.max(np.abs(tamed)) == pytest.approx(RECOGNITION_PEAK, abs=1e-3)
    words = speak("Where are my glasses")
    assert tame(words, measure(words)) is not None
    np.testing.assert_array_equal(tame(words, measure(words)), words)
