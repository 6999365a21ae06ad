"""Audio sample helpers shared by the speech modules: format conversion,
a streaming resampler to Whisper's 16 kHz, and WAV reading/writing."""
from __future__ import annotations

import collections
import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

SAMPLE_RATE = 16_000          # Hz: what Whisper and the VAD work at
INT16_FULL_SCALE = 32768.0


def pcm16_to_float(data: bytes | np.ndarray) -> np.ndarray:
    """int16 PCM (bytes or array) -> float32 in [-1, 1)."""
    samples = np.frombuffer(data, dtype="<i2") if isinstance(data, (bytes, bytearray, memoryview)) \
        else np.asarray(data, dtype=np.int16)
    return samples.astype(np.float32) / INT16_FULL_SCALE


def float_to_pcm16(samples: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> int16, clipping instead of wrapping around."""
    return np.clip(np.round(np.asarray(samples, dtype=np.float32) * 32767.0), -32768, 32767).astype(np.int16)


def to_mono(samples: np.ndarray, channels: int) -> np.ndarray:
    """Average interleaved channels into one (a trailing partial frame is dropped)."""
    if channels <= 1:
        return samples
    usable = len(samples) - len(samples) % channels
    return samples[:usable].reshape(-1, channels).mean(axis=1).astype(np.float32)


class StreamResampler:
    """Resamples a stream block by block without clicks at block edges.

    A linear-phase FIR low-pass (state kept between blocks) removes what the
    target rate cannot carry, then linear interpolation at a carried fractional
    phase picks the output samples. Good enough for speech recognition; exact
    pass-through when the rates are equal.
    """

    _TAPS = 63

    def __init__(self, src_rate: int, dst_rate: int = SAMPLE_RATE):
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"sample rates must be positive (got {src_rate}, {dst_rate})")
        self.src_rate = int(src_rate)
        self.dst_rate = int(dst_rate)
        self._step = self.src_rate / self.dst_rate      # input samples per output sample
        cutoff = 0.45 * min(self.src_rate, self.dst_rate)  # Hz, below the lower Nyquist
        self._fir = signal.firwin(self._TAPS, cutoff, fs=self.src_rate).astype(np.float64)
        self._zi = np.zeros(self._TAPS - 1)
        self._pos = 0.0                 # next output position, in input samples from block start
        self._last = 0.0                # last filtered input sample of the previous block

    def process(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float64)
        if self.src_rate == self.dst_rate:
            return block.astype(np.float32)
        if block.size == 0:
            return np.zeros(0, np.float32)
        filtered, self._zi = signal.lfilter(self._fir, 1.0, block, zi=self._zi)
        # Index -1 is the previous block's last sample, so positions in [-1, n-1] interpolate.
        extended = np.concatenate(([self._last], filtered))
        n = len(filtered)
        positions = np.arange(self._pos, n - 1 + 1e-9, self._step)
        out = np.interp(positions + 1.0, np.arange(n + 1), extended)
        self._pos = (positions[-1] + self._step - n) if positions.size else self._pos - n
        self._last = filtered[-1]
        return out.astype(np.float32)


def drain_chunks(chunks: "collections.deque[np.ndarray]", n: int, into: np.ndarray | None = None) -> int:
    """Take up to n samples off the front of a queue of sample chunks (a part-used chunk keeps
    its rest at the front), copying them into ``into`` when given; returns how many were taken.
    The caller holds whatever lock guards the queue."""
    done = 0
    while done < n and chunks:
        chunk = chunks[0]
        used = min(n - done, len(chunk))
        if into is not None:
            into[done:done + used] = chunk[:used]
        done += used
        if used == len(chunk):
            chunks.popleft()
        else:
            chunks[0] = chunk[used:]
    return done


def resample(samples: np.ndarray, src_rate: int, dst_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Whole-signal resampling (polyphase), for files and synthesized speech."""
    if src_rate == dst_rate:
        return np.asarray(samples, dtype=np.float32)
    g = np.gcd(int(src_rate), int(dst_rate))
    return signal.resample_poly(samples, dst_rate // g, src_rate // g).astype(np.float32)


@dataclass
class Clip:
    """Mono float32 audio with its sample rate."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate) if self.sample_rate else 0.0

    def at(self, rate: int = SAMPLE_RATE) -> "Clip":
        return Clip(resample(self.samples, self.sample_rate, rate), rate)


class AudioFormatError(ValueError):
    """A file or buffer that is not audio carebot can read."""


def _decode_wav(handle: wave.Wave_read) -> Clip:
    width, channels, rate = handle.getsampwidth(), handle.getnchannels(), handle.getframerate()
    raw = handle.readframes(handle.getnframes())
    if width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / INT16_FULL_SCALE
    elif width == 1:  # unsigned 8-bit
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    elif width == 3:
        b = np.frombuffer(raw[: len(raw) - len(raw) % 3], dtype=np.uint8).reshape(-1, 3)
        ints = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = ints.astype(np.float32) / float(1 << 23)
    else:
        raise AudioFormatError(f"unsupported WAV sample width {width} bytes")
    return Clip(to_mono(samples, channels), rate)


def read_wav(path: str | Path) -> Clip:
    """Read a PCM WAV file (8/16/24/32-bit, any rate and channel count) as mono float32."""
    try:
        with wave.open(str(path), "rb") as handle:
            return _decode_wav(handle)
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path}: not a PCM WAV file ({exc})") from exc


def read_wav_bytes(data: bytes) -> Clip:
    """Decode WAV bytes; tolerates the unset length fields of streamed WAV (espeak-ng --stdout)."""
    if len(data) < 44 or data[:4] != b"RIFF":
        raise AudioFormatError("not a WAV stream")
    fixed = bytearray(data)
    fixed[4:8] = (len(data) - 8).to_bytes(4, "little")
    index = fixed.find(b"data", 12)
    if index < 0:
        raise AudioFormatError("WAV stream has no data chunk")
    fixed[index + 4:index + 8] = (len(data) - index - 8).to_bytes(4, "little")
    try:
        with wave.open(io.BytesIO(bytes(fixed)), "rb") as handle:
            return _decode_wav(handle)
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"bad WAV stream ({exc})") from exc


def write_wav(path: str | Path, clip: Clip) -> None:
    """Write mono 16-bit PCM."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(int(clip.sample_rate))
        handle.writeframes(float_to_pcm16(clip.samples).tobytes())


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (-120 for silence/empty)."""
    if len(samples) == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * np.log10(max(rms, 1e-6))
