"""Whisper speech recognition on the CPU (faster-whisper, CTranslate2 int8).

Models come from PyPI packages through ``carebot.models``: ``tiny.en``
(English, the default) and ``base`` (multilingual, for Mandarin and others).
The language is fixed per site, or detected among the site's allowed
languages (so a noisy clip cannot come back as, say, Welsh).

The encoder runs once per utterance: language detection and decoding share its
output (faster-whisper's own ``detect_language`` and ``transcribe`` each encode,
and the encoder is most of Whisper's cost). ``encoder_window_s`` below 30 encodes a
shorter window around the utterance instead of Whisper's fixed 30 s.
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
WHISPER_WINDOW_S = 30.0         # the window Whisper was trained on
FRAMES_PER_S = 100              # mel frames per second (hop 160 at 16 kHz)
WINDOW_MARGIN_S = 1.0           # a shorter window still has this much silence after the speech


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
    # Encoder window: 30 = Whisper's own. Shorter encodes max(window, utterance + 1 s) instead:
    # 15 s costs 0.41x the compute of 30 s with the same WER on the dev rooms; 10 s began to
    # hallucinate in the noisy lounge (benchmarks/encoder_window_bench.py, docs/speech.md).
    encoder_window_s: float = WHISPER_WINDOW_S

    def window_frames(self, audio_s: float) -> int:
        """Mel frames the encoder gets for an utterance of ``audio_s`` seconds (even, at most 3000)."""
        full = int(WHISPER_WINDOW_S * FRAMES_PER_S)
        if self.encoder_window_s >= WHISPER_WINDOW_S:
            return full
        wanted = max(self.encoder_window_s, audio_s + WINDOW_MARGIN_S) * FRAMES_PER_S
        return min(full, 2 * int(np.ceil(wanted / 2)))

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
        if not 1.0 <= self.encoder_window_s <= WHISPER_WINDOW_S:
            raise ValueError(f"encoder_window_s must be in [1, 30] s (got {self.encoder_window_s})")
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
    encodings: int = 0              # encoder passes this utterance took (1 unless Whisper's own code asked again)

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

    def _encode(self, audio: np.ndarray):
        """The encoder's output for the utterance: the one pass detection and decoding share."""
        from faster_whisper.audio import pad_or_trim

        features = self._model.feature_extractor(audio)
        # As faster-whisper's transcribe cuts its first window (its last frame is not content).
        content = features[:, :max(features.shape[-1] - 1, 1)]
        return self._model.encode(pad_or_trim(content, self.config.window_frames(len(audio) / SAMPLE_RATE)))

    def _language_for(self, encoded, language: str | None) -> tuple[str | None, float]:
        wanted = language or self.config.language
        if not self.multilingual:
            return "en", 1.0
        if wanted and wanted != AUTO:
            return wanted, 1.0
        # What faster-whisper's detect_language computes, from the encoding already made.
        all_probs = [(token[2:-2], float(p)) for token, p in self._model.model.detect_language(encoded)[0]]
        if not self.config.languages:
            best = all_probs[0]
            return best[0], best[1]
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
            encoded = _EncodedOnce(self._model, self._encode(audio))
            lang, lang_prob = self._language_for(encoded.output, language)
            prompt = self.config.prompt_for(lang) if use_prompt else None
            as_hotwords = self.config.prompt_mode == "hotwords"
            with encoded:     # transcribe's own encode of its first window gets the one made above
                segments, info = self._model.transcribe(
                    audio, language=lang, beam_size=self.config.beam_size,
                    initial_prompt=None if as_hotwords else prompt, hotwords=prompt if as_hotwords else None,
                    temperature=list(self.config.temperatures), condition_on_previous_text=False,
                    without_timestamps=True, vad_filter=False,
                    # The guard judges these itself; Whisper's own skip would hide the numbers.
                    no_speech_threshold=None, log_prob_threshold=-1.0)
                results = [SegmentResult(clean_text(s.text), float(s.start), float(s.end), float(s.avg_logprob),
                                         float(s.no_speech_prob), float(s.compression_ratio)) for s in segments]
        compute_s = time.perf_counter() - start
        detected = lang or info.language
        prob = lang_prob if lang_prob else float(info.language_probability or 0.0)
        text = _join([r.text for r in results], detected)
        return Recognition(text, detected, prob, results, audio_s, compute_s, prompt or "", encoded.passes)


class _EncodedOnce:
    """Stands in for ``WhisperModel.encode`` during one transcribe call: the first window it is
    asked for is the utterance encoded already (the audio is at most one window long); any
    further call encodes as usual and is counted."""

    def __init__(self, model, output):
        self._model = model
        self.output = output
        self._given = False
        self.passes = 1

    def __call__(self, features):
        if not self._given:
            self._given = True
            return self.output
        self.passes += 1
        return type(self._model).encode(self._model, features)

    def __enter__(self) -> "_EncodedOnce":
        self._model.encode = self          # an instance attribute shadows the method ...
        return self

    def __exit__(self, *exc) -> None:
        self._model.__dict__.pop("encode", None)   # ... and the method is back


def clean_text(text: str) -> str:
    """Whisper's text without U+FFFD: the model sometimes ends a multi-byte character after its
    first bytes (seen in Mandarin: "护士站\ufffd在哪里"); no one said that character."""
    return text.replace("\ufffd", "").strip()


def _join(parts: Sequence[str], language: str) -> str:
    sep = "" if language in ("zh", "ja", "yue") else " "
    return sep.join(p for p in parts if p).strip()
