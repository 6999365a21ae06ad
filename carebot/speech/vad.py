"""Voice activity detection and utterance cutting, tuned for slow speakers.

Each 30 ms frame gets three features: level (dBFS), voicing (normalised
autocorrelation peak at a speaking pitch of 70-400 Hz) and spectral flatness.
An adaptive noise floor (the quietest frame of the last 3 s) sets the level thresholds.

* An utterance **starts** when most of the last few frames are loud *and*
  voiced: steady noise (fans, hiss) is loud but not voiced.
* Inside an utterance, a **lower** level threshold (hysteresis) keeps soft word
  endings, fricatives and breaths, so the short pauses of an elderly speaker
  do not split a sentence.
* It **ends** after ``end_silence_ms`` (default 500 ms) without speech, or is
  cut at ``max_utterance_s``. Too little voiced speech (a click, a knock) is
  dropped.
* **Adaptive end** (``max_pause_ms`` > ``end_silence_ms``): after ``end_silence_ms``
  the detector hands out a *tentative* utterance (everything so far) but keeps
  listening; speech that starts again within ``max_pause_ms`` continues the same
  utterance (another tentative one follows at its next pause). After ``max_pause_ms``
  of silence the *final* utterance follows, with ``new_speech`` saying whether
  anything was said after the last tentative one. ``endpoint.EndOfSpeech`` decides
  from the words whether a tentative utterance is a complete command (published at
  once) or an unfinished one (wait for the rest): a slow speaker's pause of up to
  about a second stays inside one sentence.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from carebot.speech.audio import SAMPLE_RATE

FRAME_MS = 30
FRAME = SAMPLE_RATE * FRAME_MS // 1000
_PITCH_LAG_MIN = SAMPLE_RATE // 400   # samples: 400 Hz, a high voice
_PITCH_LAG_MAX = SAMPLE_RATE // 70    # samples: 70 Hz, a low voice
_FLOOR_MIN_DB = -100.0
# An utterance keeps 150 ms after its last speech frame: an early one taken this long into the
# pause holds exactly the samples the tentative or final one will hold, if no speech comes.
EARLY_MIN_MS = 150
PIECE_OVERLAP_MS = 450             # a piece (``UtteranceDetector.piece_s``) starts this long before the last ended


@dataclass(frozen=True)
class VadConfig:
    """Thresholds of the detector; times in ms/s, levels in dB."""

    end_silence_ms: int = 500        # silence that ends an utterance
    max_utterance_s: float = 15.0    # longer speech is cut into pieces of this length
    min_voiced_ms: int = 120         # less voiced speech than this is not an utterance
    preroll_ms: int = 240            # audio kept before the detected start (soft onsets)
    start_frames: int = 3            # of the last start_window frames, this many loud+voiced start speech
    start_window: int = 5
    start_margin_db: float = 12.0    # above the noise floor, to start
    continue_margin_db: float = 6.0  # above the noise floor, to stay in speech (hysteresis)
    min_level_dbfs: float = -55.0    # absolute minimum level of speech
    voicing_threshold: float = 0.45  # normalised autocorrelation peak of voiced frames
    floor_window_s: float = 3.0      # noise floor = quietest frame level in this window
    max_pause_ms: int = 0            # adaptive end: wait this long in all when unfinished (0 = off)
    early_ms: int = 0                # after this much silence an *early* utterance goes out (0 = off):
    #                                  recognised ahead, its result is used if the end comes with no more speech

    def validate(self) -> "VadConfig":
        if not 90 <= self.end_silence_ms <= 3000:
            raise ValueError(f"end_silence_ms must be 90..3000 ms (got {self.end_silence_ms})")
        if not 1.0 <= self.max_utterance_s <= 30.0:
            raise ValueError(f"max_utterance_s must be 1..30 s: Whisper hears at most 30 s (got {self.max_utterance_s})")
        if not 0 < self.start_frames <= self.start_window:
            raise ValueError("need 0 < start_frames <= start_window")
        if self.continue_margin_db > self.start_margin_db:
            raise ValueError("continue_margin_db must not exceed start_margin_db")
        if not 0.0 < self.voicing_threshold < 1.0:
            raise ValueError("voicing_threshold must be in (0, 1)")
        if self.early_ms and not EARLY_MIN_MS <= self.early_ms < self.end_silence_ms:
            raise ValueError(f"early_ms must be 0 (off) or {EARLY_MIN_MS}..end_silence_ms (got {self.early_ms})")
        if self.max_pause_ms and not self.end_silence_ms <= self.max_pause_ms <= 3000:
            raise ValueError(f"max_pause_ms must be 0 (off) or end_silence_ms..3000 ms (got {self.max_pause_ms})")
        return self

    @property
    def adaptive(self) -> bool:
        return self.max_pause_ms > self.end_silence_ms


@dataclass(frozen=True)
class FrameFeatures:
    level_dbfs: float
    voicing: float      # 0..1
    flatness: float     # 0 (tonal) .. 1 (white noise)


def frame_features(frame: np.ndarray) -> FrameFeatures:
    """Level, voicing and spectral flatness of one frame (float32 at 16 kHz)."""
    x = frame.astype(np.float64)
    energy = float(np.mean(x * x))
    level = 10.0 * np.log10(max(energy, 1e-12))
    x = x - x.mean()
    n = len(x)
    spec = np.fft.rfft(x * np.hanning(n), 2 * n)
    power = np.abs(spec) ** 2
    # Autocorrelation through the spectrum; normalised by the lag-0 value.
    ac = np.fft.irfft(power)[:n]
    voicing = 0.0
    if ac[0] > 1e-10 and n > _PITCH_LAG_MAX:
        # Correct the window's taper so a perfectly periodic frame scores near 1.
        taper = np.correlate(np.hanning(n), np.hanning(n), "full")[n - 1:]
        lags = slice(_PITCH_LAG_MIN, _PITCH_LAG_MAX + 1)
        norm = ac[lags] / ac[0] * (taper[0] / np.maximum(taper[lags], 1e-9))
        # Only a true peak (a period) counts: a low hum's correlation just slopes down.
        peaks = (norm[1:-1] > norm[:-2]) & (norm[1:-1] >= norm[2:])
        if peaks.any():
            voicing = float(np.clip(norm[1:-1][peaks].max(), 0.0, 1.0))
    band = power[int(100 * 2 * n / SAMPLE_RATE):int(4000 * 2 * n / SAMPLE_RATE)] + 1e-12
    flatness = float(np.exp(np.mean(np.log(band))) / np.mean(band))
    return FrameFeatures(level, voicing, flatness)


@dataclass
class Utterance:
    """One stretch of speech. Sample indices count from the start of the stream (16 kHz)."""

    audio: np.ndarray
    start_sample: int          # first sample of speech (after the pre-roll)
    end_sample: int            # one past the last speech frame
    detected_sample: int       # stream position when the end was decided (latency = detected - end)
    voiced_ms: int
    truncated: bool = False    # cut at max_utterance_s; speech goes on in the next one
    tentative: bool = False    # adaptive end: a pause, not yet the end (the same segment may go on)
    segment: int = 0           # utterances of one segment (tentative ones, then the final) share it
    new_speech: bool = True    # final: speech after the last tentative utterance of the segment
    raw: np.ndarray | None = None  # the same stretch before the front end (for clipping), if kept
    audio_start_sample: int = -1   # stream index of audio[0] (the pre-roll starts before start_sample)
    floor_dbfs: float | None = None  # the room's level in the second before the utterance (None: no history)
    continues: bool = False        # a piece (``UtteranceDetector.piece_s``) that goes on from the last one
    early: bool = False            # ``early_ms`` into a pause: to recognise ahead, never to publish (also tentative)

    @property
    def start_s(self) -> float:
        return self.start_sample / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        return self.end_sample / SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass
class _Open:
    frames: list = field(default_factory=list)
    first_sample: int = 0     # stream index of frames[0]
    start_sample: int = 0
    last_speech_end: int = 0
    voiced_frames: int = 0
    silent_frames: int = 0
    tentative_sent: bool = False   # a tentative utterance went out in this pause
    early_sent: bool = False       # an early one went out in this pause
    any_tentative: bool = False    # ... at any pause of this segment
    speech_since_tentative: bool = True
    floor_dbfs: float | None = None    # mean level of the room in the second before the start
    continues: bool = False            # opened by a piece cut: the same stretch of speech goes on


class UtteranceDetector:
    """Streaming VAD: feed blocks with ``process``; finished utterances come back."""

    def __init__(self, config: VadConfig | None = None):
        self.config = (config or VadConfig()).validate()
        self._pending = np.zeros(0, np.float32)
        self._position = 0                       # stream index of the next frame
        self._floor_db: float | None = None
        self._levels: deque[float] = deque(maxlen=max(1, int(self.config.floor_window_s * 1000 / FRAME_MS)))
        self._recent: deque[bool] = deque(maxlen=self.config.start_window)
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, self.config.preroll_ms // FRAME_MS))
        self._open: _Open | None = None
        self._segment = 0
        self.last_features: FrameFeatures | None = None
        # Set by the caller while the robot talks (the speech node): utterances are cut
        # into pieces of this length, each starting PIECE_OVERLAP_MS before the last one ended.
        self.piece_s: float | None = None

    @property
    def end_wait_s(self) -> float:
        """Longest silence before an utterance is final (s)."""
        return max(self.config.end_silence_ms, self.config.max_pause_ms) / 1000.0

    @property
    def in_speech(self) -> bool:
        return self._open is not None

    @property
    def noise_floor_dbfs(self) -> float:
        # Before any quiet frame, assume a quiet room: a recording that opens with speech
        # must not take that speech for the noise floor.
        return self._floor_db if self._floor_db is not None else self.config.min_level_dbfs

    def reset(self) -> None:
        """Forget the utterance in progress (e.g. the robot's own voice); keep the noise floor."""
        self._open = None
        self._recent.clear()
        self._preroll.clear()

    def process(self, samples: np.ndarray) -> list[Utterance]:
        data = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        done: list[Utterance] = []
        usable = len(data) - len(data) % FRAME
        for offset in range(0, usable, FRAME):
            utterance = self._frame(data[offset:offset + FRAME])
            if utterance is not None:
                done.append(utterance)
        self._pending = data[usable:]
        return done

    def flush(self) -> list[Utterance]:
        """End of stream: close an utterance in progress."""
        if self._open is None:
            return []
        utterance = self._close(self._open.last_speech_end if self._open.silent_frames else self._position,
                                truncated=False)
        return [utterance] if utterance else []

    # -- internals
    def _update_floor(self, level: float) -> None:
        # Minimum statistics: the quietest frame of the last few seconds is the room.
        # Speech always has gaps within that window, noise has none.
        self._levels.append(max(level, _FLOOR_MIN_DB))
        floor = min(self._levels)
        if len(self._levels) < self._levels.maxlen:
            # Too little history: a recording that opens with speech must not take
            # that speech for the room.
            floor = min(floor, self.config.min_level_dbfs)
        self._floor_db = floor

    def _room_level(self) -> float | None:
        """Mean power of the second before now (dBFS), without the frames that start speech;
        None when the stream is younger than that."""
        frames = int(1000 / FRAME_MS)
        history = list(self._levels)[:-self.config.start_window]
        if len(history) < frames:
            return None
        return float(10.0 * np.log10(np.mean(10.0 ** (np.array(history[-frames:]) / 10.0))))

    def _frame(self, frame: np.ndarray) -> Utterance | None:
        cfg = self.config
        feats = frame_features(frame)
        self.last_features = feats
        floor = self.noise_floor_dbfs
        loud_start = feats.level_dbfs > max(floor + cfg.start_margin_db, cfg.min_level_dbfs)
        loud_keep = feats.level_dbfs > max(floor + cfg.continue_margin_db, cfg.min_level_dbfs - 6.0)
        voiced = feats.voicing >= cfg.voicing_threshold
        start_like = loud_start and voiced
        frame_start = self._position
        self._position += FRAME
        self._update_floor(feats.level_dbfs)
        result = None

        if self._open is None:
            self._recent.append(start_like)
            if sum(self._recent) >= cfg.start_frames:
                # Start at the first loud+voiced frame of the window, keep the pre-roll before it.
                first = len(self._recent) - list(self._recent).index(True)
                start_sample = frame_start + FRAME - first * FRAME
                pre = list(self._preroll)
                self._segment += 1
                self._open = _Open(frames=pre + [frame], first_sample=frame_start - len(pre) * FRAME,
                                   start_sample=start_sample, last_speech_end=frame_start + FRAME,
                                   voiced_frames=sum(self._recent), floor_dbfs=self._room_level())
                self._recent.clear()
                self._preroll.clear()
            else:
                self._preroll.append(frame)
            return None

        utt = self._open
        utt.frames.append(frame)
        if utt.tentative_sent:
            # In a long pause, only a real new start (loud and voiced, as at the start of an
            # utterance) continues the sentence: a noise bump must not keep it open.
            self._recent.append(start_like)
            resumed = sum(self._recent) >= min(2, cfg.start_frames)
        else:
            resumed = loud_keep
        if resumed:
            utt.silent_frames = 0
            utt.early_sent = False
            utt.last_speech_end = frame_start + FRAME
            if utt.tentative_sent:
                utt.tentative_sent = False
                utt.speech_since_tentative = True
                self._recent.clear()
            if voiced:
                utt.voiced_frames += 1
        else:
            utt.silent_frames += 1
        silence_ms = utt.silent_frames * FRAME_MS
        if cfg.early_ms and cfg.early_ms <= silence_ms < cfg.end_silence_ms and not (utt.early_sent or utt.tentative_sent):
            utt.early_sent = True
            result = self._snapshot(utt.last_speech_end, early=True)
        elif cfg.adaptive and silence_ms >= cfg.end_silence_ms and not utt.tentative_sent and silence_ms < cfg.max_pause_ms:
            utt.tentative_sent = utt.any_tentative = True
            utt.speech_since_tentative = False
            self._recent.clear()
            result = self._snapshot(utt.last_speech_end)
        elif silence_ms >= max(cfg.end_silence_ms, cfg.max_pause_ms):
            result = self._close(utt.last_speech_end, truncated=False)
        elif (self._position - utt.start_sample) / SAMPLE_RATE >= self._longest_s:
            piece = self._longest_s < cfg.max_utterance_s
            result = self._close(self._position, truncated=True)
            # Speech goes on: a new utterance continues right here. A piece cut inside a word
            # starts with the end of the last one, so the word is whole in one of them; one cut
            # in a pause keeps only the pause (a word's tail in front of a "Stop!" can turn it
            # into an unsure transcript).
            overlap = PIECE_OVERLAP_MS // FRAME_MS
            if utt.silent_frames:
                overlap = min(overlap, utt.silent_frames)
            kept = utt.frames[-overlap:] if piece else []
            start = self._position - len(kept) * FRAME
            self._segment += 1
            self._open = _Open(frames=list(kept), first_sample=start, start_sample=start,
                               last_speech_end=self._position, floor_dbfs=self._room_level(), continues=piece)
        return result

    @property
    def _longest_s(self) -> float:
        return self.config.max_utterance_s if self.piece_s is None else min(self.piece_s, self.config.max_utterance_s)

    def _snapshot(self, end_sample: int, early: bool = False) -> Utterance | None:
        """A tentative (or early) utterance: everything so far; the segment stays open."""
        utt = self._open
        audio = np.concatenate(utt.frames)
        keep = min(len(audio), end_sample - utt.first_sample + int(0.15 * SAMPLE_RATE))
        voiced_ms = utt.voiced_frames * FRAME_MS
        if voiced_ms < self.config.min_voiced_ms:
            return None
        return Utterance(audio[:keep].copy(), utt.start_sample, end_sample, self._position, voiced_ms,
                         tentative=True, segment=self._segment, audio_start_sample=utt.first_sample,
                         floor_dbfs=utt.floor_dbfs, early=early)

    def _close(self, end_sample: int, truncated: bool) -> Utterance | None:
        utt = self._open
        self._open = None
        if utt is None:
            return None
        # The pause just heard is the pre-roll of whatever comes next: speech that starts right
        # after a long pause closed the segment must not lose its onset ("Stop!" -> "Duh.").
        if not truncated and utt.silent_frames:
            self._preroll.extend(utt.frames[-min(utt.silent_frames, self._preroll.maxlen):])
        self._recent.clear()
        audio = np.concatenate(utt.frames) if utt.frames else np.zeros(0, np.float32)
        # Keep up to 150 ms after the last speech frame: Whisper likes a soft ending.
        keep = min(len(audio), end_sample - utt.first_sample + int(0.15 * SAMPLE_RATE))
        voiced_ms = utt.voiced_frames * FRAME_MS
        if voiced_ms < self.config.min_voiced_ms:
            return None
        return Utterance(audio[:keep], utt.start_sample, end_sample, self._position, voiced_ms, truncated,
                         segment=self._segment, new_speech=utt.speech_since_tentative or not utt.any_tentative,
                         audio_start_sample=utt.first_sample, floor_dbfs=utt.floor_dbfs, continues=utt.continues)
