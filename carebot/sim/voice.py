"""Scripted speech for the simulated microphone: text -> 16 kHz PCM blocks.

People in a scenario "speak" through espeak-ng (a different voice from the
robot's own Piper/espeak TTS). The stream is continuous, like a real
microphone: silence between utterances, speech when one is queued, cut into
blocks that the node publishes on ``speech/audio_in`` paced by sim time.
"""
from __future__ import annotations

import collections
import threading

import numpy as np

from carebot.speech.audio import drain_chunks
from carebot.speech.tts import espeak_synthesize

SAMPLE_RATE = 16000
BLOCK_S = 0.1                 # one AudioChunk every 100 ms of sim time
LEAD_SILENCE_S = 0.3          # a breath before the words
VOICES = {"en": "en-us", "zh": "cmn", "yue": "yue"}


def synthesize_pcm(text: str, language: str = "en", rate_wpm: float = 130.0) -> np.ndarray:
    """int16 mono PCM at 16 kHz of the text spoken by espeak-ng."""
    voice = VOICES.get(language.split("-")[0], language)
    clip = espeak_synthesize(text, voice, rate_wpm).at(SAMPLE_RATE)
    peak = float(np.max(np.abs(clip.samples))) if clip.samples.size else 0.0
    samples = clip.samples * (0.7 / peak) if peak > 0 else clip.samples   # a clear, not clipping, voice
    lead = np.zeros(int(LEAD_SILENCE_S * SAMPLE_RATE), dtype=np.float32)
    return (np.concatenate([lead, samples]) * 32767).astype(np.int16)


class MicrophoneStream:
    """Queued utterances played out block by block; silence when nothing is queued."""

    def __init__(self, block_s: float = BLOCK_S, rate: int = SAMPLE_RATE):
        self.block = int(block_s * rate)
        self.block_s = block_s
        self.rate = rate
        self._pending: collections.deque[np.ndarray] = collections.deque()
        self._lock = threading.Lock()
        self.next_time = 0.0      # sim time of the next block's first sample

    def queue(self, pcm: np.ndarray) -> float:
        """Queue speech; returns its duration in s."""
        with self._lock:
            self._pending.append(np.asarray(pcm, dtype=np.int16))
        return len(pcm) / self.rate

    @property
    def speaking(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def blocks_until(self, now: float) -> list[tuple[float, np.ndarray]]:
        """(start time, int16 block) for every block whose time has come by ``now``."""
        out = []
        while self.next_time + self.block_s <= now + 1e-9:
            out.append((self.next_time, self._take()))
            self.next_time += self.block_s
        return out

    def _take(self) -> np.ndarray:
        block = np.zeros(self.block, dtype=np.int16)
        with self._lock:
            drain_chunks(self._pending, self.block, block)
        return block
