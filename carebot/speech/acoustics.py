"""Synthetic sounds and room acoustics for tests and the benchmark (no ROS, no files).

Screams, hums and clicks for the shout detector; noise, reverberation and mixing
at a given signal-to-noise ratio for the noisy corpus (``room_corpus``). Every
function takes a seed, so a corpus is the same on every machine.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from carebot.speech.audio import SAMPLE_RATE


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def scream(seconds: float = 1.2, drive: float = 4.0, seed: int = 0) -> np.ndarray:
    """A scream-like vowel: f0 gliding 520 -> 760 Hz with vibrato, formant-weighted
    harmonics and breath noise, overdriven ``drive`` times and clipped at full scale."""
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    f0 = 520 + 240 * t / seconds + 25 * np.sin(2 * np.pi * 6 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voice = sum(np.exp(-((k * 640 - 1100) / 900) ** 2) * np.sin(k * phase) for k in range(1, 8))
    voice = voice / np.max(np.abs(voice)) + 0.05 * rng.normal(size=t.size)
    envelope = np.minimum(1.0, np.minimum(t / 0.08, (seconds - t) / 0.15))
    return np.clip(drive * voice * envelope, -1.0, 1.0).astype(np.float32)


def hum(seconds: float = 1.5, f0: float = 100.0, amplitude: float = 0.9) -> np.ndarray:
    """Mains/motor hum: a low fundamental with falling harmonics."""
    t = _t(seconds)
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return (amplitude * x / np.max(np.abs(x))).astype(np.float32)


# --------------------------------------------------------------------------- noise and rooms
def pink_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """1/f noise (Voss-McCartney-like, by spectral shaping), unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(rng.normal(size=n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    x = np.fft.irfft(spectrum, n)
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def room_impulse_response(rt60_s: float = 0.6, direct_to_reverb_db: float = 0.0, predelay_s: float = 0.004,
                          seed: int = 0) -> np.ndarray:
    """A synthetic room: a direct path, then exponentially decaying diffuse noise with the
    given reverberation time (60 dB decay), darker as it decays (wall absorption)."""
    rng = np.random.default_rng(seed)
    n = int((rt60_s * 1.2 + predelay_s) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.normal(size=n) * np.exp(-6.91 * t / rt60_s)          # 6.91 = ln(1000): -60 dB at rt60
    tail[: int(predelay_s * SAMPLE_RATE) + 1] = 0.0
    # High frequencies die faster: a one-pole low-pass whose corner falls with time, in 4 pieces.
    out = np.zeros(n)
    pieces = np.array_split(np.arange(n), 4)
    for i, idx in enumerate(pieces):
        alpha = 0.15 + 0.2 * i
        out[idx] = signal.lfilter([1 - alpha], [1, -alpha], tail[idx])
    energy = np.sqrt(np.sum(out ** 2)) + 1e-12
    out *= 10 ** (-direct_to_reverb_db / 20.0) / energy
    out[0] = 1.0
    return out.astype(np.float32)


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with a room impulse response; same length and active level as the input."""
    x = np.asarray(x, np.float32)
    y = signal.fftconvolve(x, rir)[: len(x)]
    return (y * (_rms(x) / (_rms(y) + 1e-12))).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def active_rms(x: np.ndarray) -> float:
    """RMS over the frames within 20 dB of the loudest (the speech, not its pauses)."""
    from carebot.speech.frontend import active_level_dbfs

    return float(10 ** (active_level_dbfs(x) / 20.0))


def fit(noise: np.ndarray, n: int) -> np.ndarray:
    """Noise of exactly n samples (looped when short)."""
    noise = np.asarray(noise, np.float32)
    reps = int(np.ceil(n / max(1, len(noise))))
    return np.tile(noise, reps)[:n]


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """speech + noise scaled so the speech's active level is snr_db above the noise RMS."""
    noise = fit(noise, len(speech))
    scale = active_rms(speech) / (_rms(noise) + 1e-12) / 10 ** (snr_db / 20.0)
    return (np.asarray(speech, np.float32) + scale * noise).astype(np.float32)


def babble(talkers: list[np.ndarray], seconds: float, seed: int = 0) -> np.ndarray:
    """Other people talking: several voices laid over each other at random offsets, each
    looped to fill the time and at a level within +-3 dB of the others."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    out = np.zeros(n, np.float32)
    for voice in talkers:
        voice = np.asarray(voice, np.float32)
        offset = int(rng.integers(0, max(1, len(voice))))
        looped = fit(np.roll(voice, -offset), n)
        out += looped * (10 ** (rng.uniform(-3, 3) / 20.0) / (active_rms(voice) + 1e-12))
    return out / (_rms(out) + 1e-12)


def music_bed(seconds: float, seed: int = 0) -> np.ndarray:
    """Programme music: chords of decaying harmonic notes with a soft beat, unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    out = np.zeros(n)
    beat = int(0.5 * SAMPLE_RATE)
    roots = [196.0, 220.0, 174.6, 261.6]
    t = np.arange(beat * 4) / SAMPLE_RATE
    for i, start in enumerate(range(0, n, beat * 4)):
        root = roots[(i + int(rng.integers(0, 4))) % 4]
        chord = sum(np.sin(2 * np.pi * root * r * t) * np.exp(-1.2 * t) for r in (1.0, 1.26, 1.5, 2.0))
        seg = chord[: n - start]
        out[start:start + len(seg)] += seg
    for start in range(0, n, beat):   # a soft drum: a low thump
        m = min(int(0.12 * SAMPLE_RATE), n - start)
        out[start:start + m] += 1.5 * np.sin(2 * np.pi * 70 * np.arange(m) / SAMPLE_RATE) * np.exp(-np.arange(m) / 400)
    return (out / (_rms(out) + 1e-12)).astype(np.float32)


def television(presenter: np.ndarray, seconds: float, seed: int = 0) -> np.ndarray:
    """A television in the room: a presenter talking over a music bed, through a small
    loudspeaker (band 150-6000 Hz) with broadcast compression, unit RMS."""
    n = int(seconds * SAMPLE_RATE)
    voice = fit(presenter, n)
    voice = voice / (active_rms(voice) + 1e-12)
    mix = voice + 0.35 * music_bed(seconds, seed)
    b, a = signal.butter(2, [150.0, 6000.0], btype="bandpass", fs=SAMPLE_RATE)
    mix = signal.lfilter(b, a, mix)
    mix = np.tanh(1.5 * mix / (np.max(np.abs(mix)) + 1e-12))     # broadcast compression
    return (mix / (_rms(mix) + 1e-12)).astype(np.float32)


def loudspeaker_echo(robot_voice: np.ndarray, rir: np.ndarray, delay_s: float = 0.03,
                     drive: float = 1.5) -> np.ndarray:
    """What the microphone hears of the robot's own loudspeaker: a small speaker driven
    slightly into saturation (non-linear), a delay and the room."""
    x = np.tanh(drive * np.asarray(robot_voice, np.float32)) / np.tanh(drive)
    x = np.concatenate([np.zeros(int(delay_s * SAMPLE_RATE), np.float32), x])[: len(robot_voice)]
    return signal.fftconvolve(x, rir)[: len(robot_voice)].astype(np.float32)
