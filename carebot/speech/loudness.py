"""How loud an utterance is, and whether it is a shout or a scream.

A resident who screams or shouts may be in distress even when Whisper cannot
make out a word, so loud audio is never thrown away: it is measured here and
the transcript says ``shout`` (the brain then checks in, "Are you all right?").

* **Level** (``level_dbfs``) is the *active* speech level: the RMS of the 30 ms
  frames within ``ACTIVE_RANGE_DB`` of the loudest frame, so pauses and the VAD's
  pre-roll do not dilute it (a simplified ITU-T P.56 active level).
* **Shout**: loud (active level at or above ``shout_level_dbfs``) *or* clipping
  (at least ``shout_clipped_fraction`` of the raw microphone samples at full
  scale, with a level that is not quiet), *and* shaped like a voice: enough voiced
  frames (a periodic pitch, as the VAD measures it) and most of the energy in the
  voice band. A slammed door or a dropped tray (unvoiced bursts), a mains hum
  (energy below the voice band) and quiet room noise are not shouts.

Pure numpy, no ROS. The thresholds are parameters of the speech node.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.vad import FRAME, frame_features

FULL_SCALE = 0.99                  # |sample| at or above this counts as clipped (of 1.0)
ACTIVE_RANGE_DB = 20.0             # dB below the loudest frame that still counts as active speech
SILENT_DBFS = -120.0               # level reported for empty or silent audio
SHOUT_LEVEL_DBFS = -12.0           # active level of a shout at the microphone (talk at 1 m: about -35..-20 dBFS)
SHOUT_CLIPPED_FRACTION = 0.002     # 0.2 % of samples at full scale: the input was overdriven
SHOUT_CLIPPED_MIN_LEVEL_DBFS = -30.0  # a few clipped clicks in quiet audio are not a shout
SHOUT_MIN_VOICED_FRACTION = 0.3    # of the active frames: a voice, not a bang or hiss
SHOUT_MIN_VOICE_BAND = 0.5         # share of energy at 250..4000 Hz: a hum is below, hiss spread out
SHOUT_MIN_ACTIVE_S = 0.2           # shorter than this: a click or a knock
VOICING_THRESHOLD = 0.45           # as the VAD (vad.VadConfig.voicing_threshold)
_VOICE_BAND_HZ = (250.0, 4000.0)


@dataclass(frozen=True)
class ShoutConfig:
    """When an utterance counts as a shout; levels in dBFS, fractions 0..1, times in s."""

    shout_level_dbfs: float = SHOUT_LEVEL_DBFS
    shout_clipped_fraction: float = SHOUT_CLIPPED_FRACTION
    clipped_min_level_dbfs: float = SHOUT_CLIPPED_MIN_LEVEL_DBFS
    min_voiced_fraction: float = SHOUT_MIN_VOICED_FRACTION
    min_voice_band: float = SHOUT_MIN_VOICE_BAND
    min_active_s: float = SHOUT_MIN_ACTIVE_S

    def validate(self) -> "ShoutConfig":
        if not -60.0 <= self.shout_level_dbfs <= 0.0:
            raise ValueError(f"shout_level_dbfs must be -60..0 dBFS (got {self.shout_level_dbfs})")
        if not 0.0 < self.shout_clipped_fraction <= 1.0:
            raise ValueError(f"shout_clipped_fraction must be in (0, 1] (got {self.shout_clipped_fraction})")
        return self


@dataclass(frozen=True)
class Loudness:
    """Measured on one utterance."""

    level_dbfs: float          # active speech level (RMS of the active frames)
    peak: float                # largest |sample| of the raw input, 0..1
    clipped_fraction: float    # raw samples at full scale, 0..1
    active_s: float            # duration of the active frames
    voiced_fraction: float     # of the active frames, 0..1
    voice_band: float          # share of the active frames' energy at 250..4000 Hz, 0..1

    @property
    def clipped(self) -> bool:
        return self.clipped_fraction > 0.0


def _frames(audio: np.ndarray) -> np.ndarray:
    usable = len(audio) - len(audio) % FRAME
    return audio[:usable].reshape(-1, FRAME) if usable else np.zeros((0, FRAME), np.float32)


def _band_share(frames: np.ndarray) -> float:
    if frames.size == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(FRAME, 1.0 / SAMPLE_RATE)
    total = float(spectrum[:, freqs > 20.0].sum())
    band = float(spectrum[:, (freqs >= _VOICE_BAND_HZ[0]) & (freqs <= _VOICE_BAND_HZ[1])].sum())
    return band / total if total > 0 else 0.0


def measure(audio: np.ndarray, raw: np.ndarray | None = None) -> Loudness:
    """Loudness of one utterance (16 kHz float32).

    ``audio`` is what recognition hears (after any echo canceller or noise
    suppressor); ``raw`` the same stretch as the microphone delivered it, for
    clipping (a filter smears full-scale samples). Without ``raw``, ``audio`` is used.
    """
    audio = np.asarray(audio, np.float32)
    raw = audio if raw is None else np.asarray(raw, np.float32)
    finite = raw[np.isfinite(raw)]
    peak = float(np.max(np.abs(finite))) if finite.size else 0.0
    clipped = float(np.mean(np.abs(finite) >= FULL_SCALE)) if finite.size else 0.0
    frames = _frames(np.nan_to_num(audio))
    if frames.size == 0:
        return Loudness(SILENT_DBFS, peak, clipped, 0.0, 0.0, 0.0)
    energy = np.mean(frames.astype(np.float64) ** 2, axis=1)
    levels = 10.0 * np.log10(np.maximum(energy, 1e-12))
    active = levels >= levels.max() - ACTIVE_RANGE_DB
    level = float(10.0 * np.log10(max(float(np.mean(energy[active])), 1e-12)))
    active_frames = frames[active]
    voiced = sum(1 for f in active_frames if frame_features(f).voicing >= VOICING_THRESHOLD)
    return Loudness(max(level, SILENT_DBFS), peak, clipped, len(active_frames) * FRAME / SAMPLE_RATE,
                    voiced / len(active_frames), _band_share(active_frames))


def is_shout(loudness: Loudness, config: ShoutConfig | None = None) -> bool:
    """Loud or overdriven, long enough, and voice-like (see the module docstring)."""
    cfg = config or ShoutConfig()
    loud = loudness.level_dbfs >= cfg.shout_level_dbfs
    overdriven = (loudness.clipped_fraction >= cfg.shout_clipped_fraction
                  and loudness.level_dbfs >= cfg.clipped_min_level_dbfs)
    return ((loud or overdriven)
            and loudness.active_s >= cfg.min_active_s
            and loudness.voiced_fraction >= cfg.min_voiced_fraction
            and loudness.voice_band >= cfg.min_voice_band)


RECOGNITION_PEAK = 0.5             # loud input is scaled to this peak before Whisper (headroom)


def tame(audio: np.ndarray, loudness: Loudness, config: ShoutConfig | None = None) -> np.ndarray:
    """Loud or clipped audio scaled down to ``RECOGNITION_PEAK`` before recognition.

    Clipping cannot be undone, but a saturated, full-scale signal is far from what
    Whisper was trained on; scaled down, a shouted "help" is still recognised.
    Other audio is returned unchanged.
    """
    cfg = config or ShoutConfig()
    audio = np.asarray(audio, np.float32)
    if loudness.level_dbfs < cfg.shout_level_dbfs and not loudness.clipped:
        return audio
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= RECOGNITION_PEAK:
        return audio
    return (audio * (RECOGNITION_PEAK / peak)).astype(np.float32)
