"""Playing synthesised speech in short blocks, so it can be cut off at once
(barge-in, a cancelled goal) and its progress reported."""
from __future__ import annotations

import time
from typing import Callable, Protocol

import numpy as np

from carebot.speech.audio import Clip, float_to_pcm16

BLOCK_S = 0.05   # s of audio per write: the longest a cancel waits


class Player(Protocol):
    name: str

    def play(self, clip: Clip, should_stop: Callable[[], bool],
             on_progress: Callable[[float], None] | None = None,
             on_block: Callable[[np.ndarray, int], None] | None = None) -> bool:
        """Play clip; returns False when should_stop() cut it short. ``on_block(samples, rate)``
        gets each block as it is written to the loudspeaker (the echo canceller's reference)."""

    def release(self) -> None:
        """Close the output after the last clip of a run (the next play opens it again)."""


def _blocks(clip: Clip):
    step = max(1, int(clip.sample_rate * BLOCK_S))
    total = len(clip.samples)
    for start in range(0, total, step):
        yield clip.samples[start:start + step], min(1.0, (start + step) / max(total, 1))


class PacedPlayer:
    """No loudspeaker (simulation, tests): takes the clip's real duration, plays nothing."""

    name = "none"

    def play(self, clip: Clip, should_stop, on_progress=None, on_block=None) -> bool:
        started = time.monotonic()
        played = 0.0
        for block, progress in _blocks(clip):
            if should_stop():
                return False
            played += len(block) / clip.sample_rate
            delay = started + played - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if on_progress:
                on_progress(progress)
        return True

    def release(self) -> None:
        """Nothing to let go."""


class DevicePlayer:
    """A loudspeaker through pyaudio; the device by name substring or index ("" = default).

    The output stream stays open from one clip to the next (the sentences of a reply, and
    the replies queued behind it, follow without reopening the device) until ``release()``.
    """

    def __init__(self, device: str = ""):
        self.name = f"device:{device or 'default'}"
        self._device = device
        self._pa = None
        self._stream = None
        self._rate = 0

    def _output_index(self, pa) -> int | None:
        if not self._device:
            return None
        if self._device.isdigit():
            return int(self._device)
        for i in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(i)
            if info["maxOutputChannels"] > 0 and self._device.lower() in str(info["name"]).lower():
                return i
        raise OSError(f"no output device named {self._device!r}")

    def _open(self, rate: int):
        import pyaudio

        if self._stream is not None and self._rate == rate:
            return self._stream
        self.release()
        self._pa = pyaudio.PyAudio()
        try:
            self._stream = self._pa.open(format=pyaudio.paInt16, channels=1, rate=rate, output=True,
                                         output_device_index=self._output_index(self._pa))
        except Exception:
            self.release()
            raise
        self._rate = rate
        return self._stream

    def play(self, clip: Clip, should_stop, on_progress=None, on_block=None) -> bool:
        try:
            stream = self._open(int(clip.sample_rate))
            for block, progress in _blocks(clip):
                if should_stop():
                    return False
                if on_block:
                    on_block(block, int(clip.sample_rate))
                stream.write(float_to_pcm16(block).tobytes())
                if on_progress:
                    on_progress(progress)
        except OSError:
            self.release()
            raise
        return True

    def release(self) -> None:
        """Let the device go (after the last queued sentence): what was written plays out first."""
        stream, pa = self._stream, self._pa
        self._stream, self._pa, self._rate = None, None, 0
        try:
            if stream is not None:
                stream.stop_stream()
                stream.close()
        finally:
            if pa is not None:
                pa.terminate()


def make_player(kind: str, device: str = "") -> Player:
    """``device`` plays on a loudspeaker, ``none`` only takes the time (simulation)."""
    if kind == "device":
        return DevicePlayer(device)
    if kind == "none":
        return PacedPlayer()
    raise ValueError(f"unknown playback {kind!r}: use 'device' or 'none'")


def silence(seconds: float, rate: int) -> Clip:
    return Clip(np.zeros(int(seconds * rate), np.float32), rate)
