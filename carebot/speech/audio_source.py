"""Where the speech node's audio comes from: a real device through pyaudio, a
WAV file, or blocks pushed from a ROS topic (the simulation). Every source
delivers mono float32 blocks at 16 kHz with the time of their first sample.
"""
from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from carebot.speech.audio import SAMPLE_RATE, StreamResampler, pcm16_to_float, read_wav, to_mono

log = logging.getLogger(__name__)

DEFAULT_BLOCK_MS = 30            # ms per block read from a device
DEFAULT_REOPEN_INTERVAL_S = 2.0  # s between attempts to reopen a lost device
TOPIC_QUEUE_BLOCKS = 500         # ~15 s of 30 ms blocks before the oldest are dropped


@dataclass
class AudioBlock:
    """Mono float32 samples at 16 kHz; t0 = time of the first sample (s, source clock)."""

    samples: np.ndarray
    t0: float


class SourceState(enum.Enum):
    STARTING = "starting"
    OPEN = "open"
    LOST = "lost"          # the device went away; reopening is being tried
    FINISHED = "finished"  # a file was read to the end
    CLOSED = "closed"


class AudioSource(Protocol):
    name: str
    state: SourceState

    def read(self, timeout: float) -> AudioBlock | None:
        """The next block, or None when nothing arrived within timeout (or the source ended)."""

    def close(self) -> None: ...


# --------------------------------------------------------------------------- WAV file
class WavFileSource:
    """A WAV file read in blocks; optionally paced in real time like a microphone.

    After the file, ``tail_s`` of silence follows so a VAD can see the speech end.
    """

    def __init__(self, path: str | Path, block_ms: int = DEFAULT_BLOCK_MS, realtime: bool = False,
                 tail_s: float = 1.0, clock: Callable[[], float] = time.time):
        clip = read_wav(path).at(SAMPLE_RATE)
        self.name = f"file:{path}"
        self.state = SourceState.OPEN
        self._samples = np.concatenate([clip.samples, np.zeros(int(tail_s * SAMPLE_RATE), np.float32)])
        self._block = max(1, int(SAMPLE_RATE * block_ms / 1000))
        self._pos = 0
        self._realtime = realtime
        self._clock = clock
        self._t_start = clock()

    def read(self, timeout: float = 0.0) -> AudioBlock | None:
        if self._pos >= len(self._samples):
            self.state = SourceState.FINISHED
            return None
        t0 = self._t_start + self._pos / SAMPLE_RATE
        if self._realtime:
            # Like a microphone: a block is there once its last sample has "happened".
            delay = t0 + self._block / SAMPLE_RATE - self._clock()
            if delay > 0:
                if timeout and delay > timeout:
                    time.sleep(timeout)
                    return None
                time.sleep(delay)
        block = self._samples[self._pos:self._pos + self._block]
        self._pos += len(block)
        return AudioBlock(block, t0)

    def close(self) -> None:
        self.state = SourceState.CLOSED


# --------------------------------------------------------------------------- topic
class PushSource:
    """Blocks pushed by another thread (the node's AudioChunk subscription).

    Converts int16 PCM of any rate and channel count to 16 kHz mono. Bounded:
    when the reader falls behind, the oldest blocks are dropped and counted.
    """

    def __init__(self, name: str = "topic:speech/audio_in", max_blocks: int = TOPIC_QUEUE_BLOCKS):
        self.name = name
        self.state = SourceState.OPEN
        self.dropped_blocks = 0
        self._queue: queue.Queue[AudioBlock] = queue.Queue(maxsize=max_blocks)
        self._resamplers: dict[int, StreamResampler] = {}
        self._lock = threading.Lock()

    def push(self, data: Sequence[int] | np.ndarray | bytes, sample_rate: int, channels: int, t0: float) -> None:
        """Queue one block of interleaved int16 PCM; raises ValueError on a bad header."""
        if sample_rate <= 0 or channels <= 0:
            raise ValueError(f"bad audio block: sample_rate={sample_rate}, channels={channels}")
        samples = to_mono(pcm16_to_float(data if isinstance(data, bytes) else np.asarray(data, np.int16)),
                          channels)
        with self._lock:
            resampler = self._resamplers.get(sample_rate)
            if resampler is None:
                # A rate change starts a new stream: a resampler per rate keeps no stale state.
                resampler = self._resamplers[sample_rate] = StreamResampler(sample_rate, SAMPLE_RATE)
            block = AudioBlock(resampler.process(samples), t0)
        while True:
            try:
                self._queue.put_nowait(block)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped_blocks += 1
                except queue.Empty:
                    pass

    def read(self, timeout: float = 0.1) -> AudioBlock | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.state = SourceState.CLOSED


# --------------------------------------------------------------------------- pyaudio device
class DeviceNotFound(LookupError):
    """No input device matches the configured name or index."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    max_input_channels: int
    default_rate: int


def select_device(devices: Sequence[DeviceInfo], wanted: str | int | None,
                  default_index: int | None = None) -> DeviceInfo:
    """Pick an input device: by index, by exact name, or by a case-insensitive substring.

    ``wanted`` empty/None means the system default input. A numeric string is an index.
    """
    inputs = [d for d in devices if d.max_input_channels > 0]
    if not inputs:
        raise DeviceNotFound("no audio input device is present")
    if wanted is None or (isinstance(wanted, str) and not wanted.strip()):
        for d in inputs:
            if d.index == default_index:
                return d
        return inputs[0]
    if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.strip().isdigit()):
        index = int(wanted)
        for d in inputs:
            if d.index == index:
                return d
        raise DeviceNotFound(f"no input device with index {index}; inputs: "
                             + ", ".join(f"{d.index}={d.name!r}" for d in inputs))
    name = wanted.strip()
    exact = [d for d in inputs if d.name == name]
    if exact:
        return exact[0]
    partial = [d for d in inputs if name.lower() in d.name.lower()]
    if partial:
        return partial[0]
    raise DeviceNotFound(f"no input device named {name!r}; inputs: "
                         + ", ".join(f"{d.index}={d.name!r}" for d in inputs))


class PyAudioSource:
    """A real input device read through pyaudio (PortAudio).

    The device's own rate is used when it cannot record 16 kHz; blocks are
    resampled. A read error (device unplugged, server gone) closes the stream,
    sets state LOST and retries opening every ``reopen_interval_s``;
    ``on_state`` is called on every state change so the node can report it.
    """

    def __init__(self, device: str | int | None = None, rate: int = 0, channels: int = 1,
                 block_ms: int = DEFAULT_BLOCK_MS, reopen_interval_s: float = DEFAULT_REOPEN_INTERVAL_S,
                 on_state: Callable[[SourceState, str], None] | None = None):
        self._wanted = device
        self._wanted_rate = int(rate)
        self._channels = max(1, int(channels))
        self._block_ms = block_ms
        self._reopen_interval_s = reopen_interval_s
        self._on_state = on_state
        self._pa = None
        self._stream = None
        self._resampler: StreamResampler | None = None
        self._frames_per_block = 0
        self._next_open = 0.0
        self.name = f"device:{device if device not in (None, '') else 'default'}"
        self.state = SourceState.STARTING
        self.reopen_count = 0          # successful reopenings after the first open
        self._opened_once = False
        self._channels_open = 1
        self.last_error = ""
        self.device_info: DeviceInfo | None = None
        self._open()  # a first failure is reported, not raised: the node keeps running

    # -- opening and closing
    def _devices(self) -> tuple[list[DeviceInfo], int | None]:
        pa = self._pa
        infos = []
        for i in range(pa.get_device_count()):
            raw = pa.get_device_info_by_index(i)
            infos.append(DeviceInfo(i, str(raw["name"]), int(raw["maxInputChannels"]),
                                    int(raw["defaultSampleRate"])))
        try:
            default = int(pa.get_default_input_device_info()["index"])
        except (IOError, OSError):
            default = None
        return infos, default

    def _choose_rate(self, info: DeviceInfo) -> int:
        import pyaudio

        candidates = [r for r in (self._wanted_rate, SAMPLE_RATE, info.default_rate) if r > 0]
        for rate in candidates:
            try:
                if self._pa.is_format_supported(rate, input_device=info.index,
                                                input_channels=self._channels, input_format=pyaudio.paInt16):
                    return rate
            except ValueError:
                continue
        return info.default_rate

    def _set_state(self, state: SourceState, detail: str) -> None:
        if state == SourceState.LOST:
            self.last_error = detail
        if state != self.state:
            self.state = state
            log.info("audio source %s: %s (%s)", self.name, state.value, detail)
            if self._on_state:
                self._on_state(state, detail)

    def _open(self) -> bool:
        import pyaudio

        self._next_open = time.monotonic() + self._reopen_interval_s
        self._release()
        try:
            # PortAudio lists devices once per initialisation: re-init to see a device that came back.
            self._pa = pyaudio.PyAudio()
            devices, default = self._devices()
            info = select_device(devices, self._wanted, default)
            rate = self._choose_rate(info)
            channels = min(self._channels, info.max_input_channels)
            frames = max(1, int(rate * self._block_ms / 1000))
            self._stream = self._pa.open(format=pyaudio.paInt16, channels=channels, rate=rate, input=True,
                                         input_device_index=info.index, frames_per_buffer=frames)
        except (DeviceNotFound, IOError, OSError, ValueError) as exc:
            self._release()
            # Name what was asked for: with no device at all, the cause alone does not say it.
            self._set_state(SourceState.LOST, f"cannot open input {self._wanted_label()}: {exc}")
            return False
        self.device_info = info
        self._channels_open = channels
        self._frames_per_block = frames
        self._resampler = StreamResampler(rate, SAMPLE_RATE)
        self.name = f"device:{info.name}"
        if self._opened_once:
            self.reopen_count += 1
        self._opened_once = True
        self._set_state(SourceState.OPEN, f"{info.name} (index {info.index}) at {rate} Hz")
        return True

    def _wanted_label(self) -> str:
        if self._wanted is None or (isinstance(self._wanted, str) and not self._wanted.strip()):
            return "(system default)"
        return repr(self._wanted)

    def _release(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop_stream()
                self._stream.close()
            except (IOError, OSError):
                pass
            self._stream = None
        if self._pa is not None:
            self._pa.terminate()
            self._pa = None

    @property
    def sample_rate(self) -> int:
        return self._resampler.src_rate if self._resampler else 0

    # -- reading
    def read(self, timeout: float = 0.5) -> AudioBlock | None:
        if self.state == SourceState.CLOSED:
            return None
        if self._stream is None:
            wait = self._next_open - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, timeout))
                return None
            if not self._open():
                return None
        try:
            raw = self._stream.read(self._frames_per_block, exception_on_overflow=False)
        except (IOError, OSError) as exc:
            self._release()
            self._next_open = time.monotonic() + self._reopen_interval_s
            self._set_state(SourceState.LOST, f"read failed: {exc}")
            return None
        t_end = time.time()
        try:
            # Frames still waiting in the device buffer were recorded after this block: a late
            # read must not make the block look younger than it is (the echo canceller aligns on it).
            t_end -= self._stream.get_read_available() / float(self._resampler.src_rate)
        except (IOError, OSError):
            pass
        samples = to_mono(pcm16_to_float(raw), self._channels_open)
        t0 = t_end - len(samples) / float(self._resampler.src_rate)
        return AudioBlock(self._resampler.process(samples), t0)

    def close(self) -> None:
        self._release()
        self.state = SourceState.CLOSED


class StreamClock:
    """Maps stream sample indices (16 kHz since the start) to source times."""

    def __init__(self, keep_blocks: int = 4000):
        self._marks: list[tuple[int, float]] = []
        self._keep = keep_blocks

    def mark(self, sample_index: int, t0: float) -> None:
        self._marks.append((sample_index, t0))
        if len(self._marks) > self._keep:
            del self._marks[: len(self._marks) - self._keep]

    def time_of(self, sample_index: int) -> float:
        """Time of a sample: from the last block that starts at or before it."""
        if not self._marks:
            return 0.0
        chosen = self._marks[0]
        for mark in reversed(self._marks):
            if mark[0] <= sample_index:
                chosen = mark
                break
        return chosen[1] + (sample_index - chosen[0]) / SAMPLE_RATE
