"""Speech made at test time with espeak-ng (no recordings in the repository)."""
import numpy as np
import pytest

from carebot.speech.audio import SAMPLE_RATE, resample
from carebot.speech.tts import espeak_synthesize


def speak(text: str, voice: str = "en-us", rate: int = 150) -> np.ndarray:
    clip = espeak_synthesize(text, voice, rate)
    samples = resample(clip.samples, clip.sample_rate, SAMPLE_RATE)
    return (samples * (0.7 / max(1e-6, float(np.max(np.abs(samples)))))).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


def room_noise(seconds: float, level: float = 0.003, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, level, int(seconds * SAMPLE_RATE)).astype(np.float32)


@pytest.fixture(scope="session")
def speech_words():
    """Three phrases, spoken slowly, to assemble into sentences with pauses."""
    return [trim(speak(t, rate=120)) for t in ("I would like", "a cup of tea", "with some milk please")]


def trim(x: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Cut the synthesiser's own leading/trailing silence, so inserted pauses are exact."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    return x[loud[0]:loud[-1] + 1] if loud.size else x
