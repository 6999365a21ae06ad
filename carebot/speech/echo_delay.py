"""Where the robot's own voice sits in the microphone stream, relative to its reference.

The echo canceller (AEC3) is given the loudspeaker samples sample for sample with the
microphone (``frontend.EchoReference``) and finds the delay of the echo after them itself,
but only a delay of zero or more: an echo that reaches the microphone stream *before* its
reference is hardly cancelled (offline: 31 dB at 0 ms, 7 dB at -5 ms, 1.5 dB at -13 ms).
How early or late it comes depends on the devices' buffering (the virtual room's null sink
renders ahead: -13 ms in one sentence, +18 ms in the next). ``EchoDelay`` measures it while
the robot talks: the generalised cross-correlation with phase transform (GCC-PHAT) of the
last ``window_s`` of microphone and reference, whose peak is the echo's direct path.
Pure numpy; a few ms of CPU every ``every_s`` of speech.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from carebot.speech.audio import SAMPLE_RATE

ACTIVE_RMS = 10 ** (-50 / 20)   # a reference block quieter than -50 dBFS is silence


def gcc_phat_lag(mic: np.ndarray, far: np.ndarray, max_lag: int) -> tuple[int, float]:
    """(lag in samples of ``mic`` after ``far``, within +-max_lag; peak over the median
    magnitude of the correlation: ~3-6 for unrelated signals, tens to thousands for an echo)."""
    n = 1 << int(np.ceil(np.log2(len(mic) + len(far))))
    cross = np.fft.rfft(mic, n) * np.conj(np.fft.rfft(far, n))
    cc = np.fft.irfft(cross / (np.abs(cross) + 1e-12), n)
    cc = np.concatenate([cc[-max_lag:], cc[:max_lag + 1]])
    best = int(np.argmax(cc))
    return best - max_lag, float(cc[best] / (np.median(np.abs(cc)) + 1e-12))


class EchoDelay:
    """Running estimate of the echo's lag behind its reference (not thread-safe: the capture thread)."""

    def __init__(self, window_s: float = 1.5, every_s: float = 0.5, max_lag_s: float = 0.3,
                 min_sharpness: float = 20.0, min_active: float = 0.5):
        self._keep = int(window_s * SAMPLE_RATE)
        self._every = int(every_s * SAMPLE_RATE)
        self._max_lag = int(max_lag_s * SAMPLE_RATE)
        self._min_sharpness = min_sharpness
        self._min_active = min_active
        self._mic: deque[np.ndarray] = deque()
        self._far: deque[np.ndarray] = deque()
        self._active: deque[tuple[int, bool]] = deque()
        self._held = 0
        self._since = 0
        self.lag_samples: int | None = None    # the last confident estimate
        self.sharpness = 0.0
        self.estimates = 0

    def reset(self) -> None:
        """Forget the window (the alignment changed): the next estimate uses new samples only."""
        self._mic.clear()
        self._far.clear()
        self._active.clear()
        self._held = self._since = 0

    @property
    def lag_ms(self) -> float | None:
        return None if self.lag_samples is None else 1000.0 * self.lag_samples / SAMPLE_RATE

    def push(self, mic: np.ndarray, far: np.ndarray) -> int | None:
        """The same stretch of microphone and reference; a new estimate (samples) or None."""
        if len(mic) == 0:
            return None
        self._mic.append(np.asarray(mic, np.float32))
        self._far.append(np.asarray(far, np.float32))
        self._active.append((len(far), float(np.sqrt(np.mean(np.square(far)))) > ACTIVE_RMS))
        self._held += len(mic)
        while self._held - len(self._mic[0]) >= self._keep:
            self._held -= len(self._mic.popleft())
            self._far.popleft()
            self._active.popleft()
        self._since += len(mic)
        if self._since < self._every or self._held < self._keep:
            return None
        self._since = 0
        active = sum(n for n, on in self._active if on) / self._held
        if active < self._min_active:
            return None
        lag, sharpness = gcc_phat_lag(np.concatenate(self._mic), np.concatenate(self._far), self._max_lag)
        if sharpness < self._min_sharpness:
            return None
        self.lag_samples, self.sharpness = lag, sharpness
        self.estimates += 1
        return lag
