"""Whisper speech recognition on the CPU (faster-whisper, CTranslate2 int8).

Models come from PyPI packages through ``carebot.models``: ``tiny.en``
(English, the default) and ``base`` (multilingual, for Mandarin and others).
The language is fixed per site, or detected among the site's allowed
languages (so a noisy clip cannot come back as, say, Welsh).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from carebot import models
from carebot.speech.audio import SAMPLE_RATE

MODEL_NAMES = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}
AUTO = "auto"
PROMPT_MODES = ("prompt", "hotwords")
# Short clips need no more context; a fixed window keeps the cost predictable.
_MAX_AUDIO_S = 30.0


@dataclass(frozen=True)
class RecognizerConfig:
    model: str = "tiny.en"
    language: str = "en"                   # ISO 639-1, or "auto" to detect
    languages: tuple[str, ...] = ()        # allowed languages when detecting ((): any)
    cpu_threads: int = 2
    beam_size: int = 1                     # greedy: 2-3x faster than beam 5, same WER on short commands
    # Greedy only by default: deterministic, and the guard rejects what a fallback would retry.
    temperatures: tuple[float, ...] = (0.0,)
    # Site vocabulary (vocabulary.py): (language, prompt) pairs; the prompt of the language
    # decoded is given to Whisper as the preceding text ("prompt") or as hotwords.
    prompts: tuple[tuple[str, str], ...] = ()
    prompt_mode: str = "prompt"            # prompt | hotwords

    def prompt_for(self, language: str | None) -> str | None:
        table = dict(self.prompts)
        if not table:
            return None
        if language and language in table:
            return table[language]
        return table.get("en") if (language or "en").startswith("en") else None

    def validate(self) -> "RecognizerConfig":
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown Whisper model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if self.model.endswith(".en") and self.language not in ("en", AUTO):
            raise ValueError(f"model {self.model} only knows English; use model 'base' for language {self.language!r}")
        if self.cpu_threads < 1 or self.beam_size < 1 or not self.temperatures:
            raise ValueError("cpu_threads and beam_size must be >= 1, temperatures non-empty")
        if self.prompt_mode not in PROMPT_MODES:
            raise ValueError(f"prompt_mode must be one of {PROMPT_MODES} (got {self.prompt_mode!r})")
        return self


@dataclass(frozen=True)
class SegmentResult:
    text: str
    start_s: float
    end_s: float
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


@dataclass
class Recognition:
    """What Whisper heard in one utterance, before any guard."""

    text: str
    language: str
    language_probability: float
    segments: list[SegmentResult] = field(default_factory=list)
    audio_s: float = 0.0
    compute_s: float = 0.0
    prompt: str = ""                # the vocabulary prompt Whisper was given ("" none)

    @property
    def rtf(self) -> float:
        return self.compute_s / self.audio_s if self.audio_s > 0 else 0.0


class Recognizer:
    """One loaded Whisper model. ``transcribe`` is thread-safe (one call at a time)."""

    def __init__(self, config: RecognizerConfig | None = None):
        self.config = (config or RecognizerConfig()).validate()
        self._model = None
        self._lock = threading.Lock()
        self.load_s = 0.0

    @property
    def multilingual(self) -> bool:
        return not self.config.model.endswith(".en")

    def load(self) -> "Recognizer":
        """Load the model (raises models.ModelNotFound with a fix when it is not installed)."""
        if self._model is None:
            from faster_whisper import WhisperModel

            path = models.locate(MODEL_NAMES[self.config.model])
            start = time.perf_counter()
            self._model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                       cpu_threads=self.config.cpu_threads, num_workers=1)
            self.load_s = time.perf_counter() - start
        return self

    def _language_for(self, audio: np.ndarray, language: str | None) -> tuple[str | None, float]:
        wanted = language or self.config.language
        if not self.multilingual:
            return "en", 1.0
        if wanted and wanted != AUTO:
            return wanted, 1.0
        if not self.config.languages:
            return None, 0.0  # Whisper detects among all languages
        _, _, all_probs = self._model.detect_language(audio=audio)
        allowed = [(lang, p) for lang, p in all_probs if lang in self.config.languages]
        if not allowed:
            return self.config.languages[0], 0.0
        best = max(allowed, key=lambda item: item[1])
        return best[0], float(best[1])

    def transcribe(self, audio: np.ndarray, language: str | None = None, use_prompt: bool = True) -> Recognition:
        """Recognise mono float32 16 kHz audio. Empty audio gives an empty Recognition.
        ``use_prompt=False``: without the site vocabulary (e.g. while the robot speaks)."""
        self.load()
        audio = np.asarray(audio, dtype=np.float32)[: int(_MAX_AUDIO_S * SAMPLE_RATE)]
        audio_s = len(audio) / SAMPLE_RATE
        if audio.size == 0 or not np.isfinite(audio).all():
            return Recognition("", language or self.config.language, 0.0, audio_s=audio_s)
        start = time.perf_counter()
        with self._lock:
            lang, lang_prob = self._language_for(audio, language)
            prompt = self.config.prompt_for(lang) if use_prompt else None
            as_hotwords = self.config.prompt_mode == "hotwords"
            segments, info = self._model.transcribe(
                audio, language=lang, beam_size=self.config.beam_size,
                initial_prompt=None if as_hotwords else prompt, hotwords=prompt if as_hotwords else None,
                temperature=list(self.config.temperatures), condition_on_previous_text=False,
                without_timestamps=True, vad_filter=False,
                # The guard judges these itself; Whisper's own skip would hide the numbers.
                no_speech_threshold=None, log_prob_threshold=-1.0)
            results = [SegmentResult(s.text.strip(), float(s.start), float(s.end), float(s.avg_logprob),
                                     float(s.no_speech_prob), float(s.compression_ratio)) for s in segments]
        compute_s = time.perf_counter() - start
        detected = lang or info.language
        prob = lang_prob if lang_prob else float(info.language_probability or 0.0)
        text = _join([r.text for r in results], detected)
        return Recognition(text, detected, prob, results, audio_s, compute_s, prompt or "")


def _join(parts: Sequence[str], language: str) -> str:
    sep = "" if language in ("zh", "ja", "yue") else " "
    return sep.join(p for p in parts if p).strip()
