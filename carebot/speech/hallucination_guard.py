"""Guard against Whisper's invented text.

Whisper, given silence, noise, a cough or music, often "hears" stock phrases
from its training subtitles ("Thank you.", "Thanks for watching!",
"字幕由Amara.org社区提供"). The guard drops:

* audio too short, too quiet or with no usable samples (loud or clipped
  audio is *not* dropped: it may be a scream, see ``loudness``);
* segments Whisper itself thinks hold no speech (no_speech_prob high and the
  text unsure), repetitive segments (compression ratio) and unsure ones;
* text that is a known subtitle/credit phrase, or only music/sound marks;
* stock phrases that people also say ("thank you", "bye") unless the
  recogniser is sure of them;
* more words than the audio could hold;
* a run of three or more words of the vocabulary prompt (``vocabulary``): Whisper
  given a prompt may read it back from noise.

Stop and emergency phrases ("stop", "help", "停", "救命": ``carebot.brain.phrases``) are
not dropped for Whisper's no-speech estimate or as stock phrases: short shouted words
often score a high no-speech probability, and a missed "stop" is worse than a false one.

What passes gets a confidence (0..1, the geometric mean token probability)
and ``low_confidence`` below a threshold.
"""
from __future__ import annotations

import enum
import math
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from carebot.speech.audio import SAMPLE_RATE, rms_dbfs
from carebot.speech.recognizer import Recognition, SegmentResult


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    EMPTY_AUDIO = "empty_audio"          # no samples, too short, not finite
    TOO_QUIET = "too_quiet"
    NO_SPEECH = "no_speech"              # Whisper's no-speech probability
    REPETITIVE = "repetitive"            # compression ratio: a looping decoder
    UNSURE = "unsure"                    # average log-probability too low
    HALLUCINATION = "hallucination"      # a known invented phrase
    PROMPT_ECHO = "prompt_echo"          # the vocabulary prompt read back
    NO_WORDS = "no_words"                # only punctuation or sound marks
    TOO_MANY_WORDS = "too_many_words"    # more text than the audio can hold


@dataclass(frozen=True)
class GuardConfig:
    min_audio_s: float = 0.25             # shorter clips hold no words
    min_level_dbfs: float = -60.0
    no_speech_threshold: float = 0.6
    no_speech_logprob: float = -0.6       # ...if also less sure than this (Whisper's own rule, stricter)
    min_avg_logprob: float = -1.2         # below: rejected outright
    compression_ratio_threshold: float = 2.4
    low_confidence_threshold: float = 0.55
    stock_phrase_min_confidence: float = 0.8   # "thank you" etc. must be this sure
    stock_phrase_max_no_speech: float = 0.2
    max_chars_per_s: float = 25.0         # fast speech is ~15 chars/s (Latin); CJK counts 3 each
    prompt_echo_words: int = 3            # this many prompt words in a row (and nothing else) is an echo


@dataclass
class GuardResult:
    verdict: Verdict
    text: str = ""
    confidence: float = 0.0
    low_confidence: bool = True
    detail: str = ""
    kept_segments: list[SegmentResult] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.verdict == Verdict.ACCEPTED


# Phrases only ever produced from subtitles/credits: always rejected (normalised form).
_NEVER_SPOKEN = (
    "thanks for watching", "thank you for watching", "thank you for watching this video",
    "please subscribe", "subscribe to my channel", "like and subscribe", "dont forget to subscribe",
    "subtitles by", "subtitles by the amaraorg community", "amaraorg", "transcribed by",
    "translated by", "captions by", "see you in the next video", "see you next time",
    "字幕由amaraorg社区提供", "字幕由amaraorg社群提供", "请不吝点赞订阅转发打赏支持明镜与点点栏目",
    "谢谢观看", "感谢观看", "谢谢收看", "订阅", "点赞订阅", "字幕", "中文字幕",
)
_NEVER_SUBSTRINGS = ("amaraorg", "subscribe", "字幕由", "明镜与点点", "点赞", "订阅")
# Phrases people do say, but Whisper also makes up from noise: need strong evidence.
_STOCK = (
    "thank you", "thanks", "thank you very much", "thank you so much", "bye", "bye bye", "goodbye",
    "you", "okay", "oh", "uh", "um", "hmm", "so", "the end", "i", "yeah", "谢谢", "谢谢大家", "嗯", "好",
)
_SOUND_MARK = re.compile(r"^[\s\W_]*(?:\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|[♪♫♬*]+)[\s\W_]*$")


def normalise(text: str) -> str:
    """Lower case, no punctuation or spaces (CJK-safe), for phrase matching."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isalnum())


_NEVER_SPOKEN_NORM = frozenset(normalise(p) for p in _NEVER_SPOKEN)
_NEVER_SUBSTRINGS_NORM = tuple(normalise(p) for p in _NEVER_SUBSTRINGS)
_STOCK_NORM = frozenset(normalise(p) for p in _STOCK)


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _weighted_chars(text: str) -> int:
    # A CJK character is a syllable: ~3 Latin letters of speaking time.
    return sum(3 if "\u3400" <= ch <= "\u9fff" else 1 for ch in text if ch.isalnum())


def _is_safety_phrase(text: str) -> bool:
    """A stop or emergency phrase (the brain's deterministic lists)."""
    from carebot.brain.phrases import is_emergency_phrase, is_stop_phrase

    return bool(text.strip()) and (is_stop_phrase(text) or is_emergency_phrase(text))


def _words_of(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    if re.search(r"[\u3400-\u9fff]", text):
        return [ch for ch in text if ch.isalnum()]
    return [w for w in (normalise(w) for w in text.split()) if w]


def _is_prompt_echo(text: str, prompt: str, min_words: int) -> bool:
    """The text is nothing but a run of at least min_words consecutive prompt words."""
    words, source = _words_of(text), _words_of(prompt)
    n = len(words)
    if n < min_words:
        return False
    return any(source[i:i + n] == words for i in range(len(source) - n + 1))


def confidence_of(segments: list[SegmentResult]) -> float:
    """Geometric-mean token probability over segments, weighted by text length."""
    if not segments:
        return 0.0
    weights = [max(1, len(s.text)) for s in segments]
    mean_logprob = sum(w * s.avg_logprob for w, s in zip(weights, segments)) / sum(weights)
    return float(min(1.0, math.exp(mean_logprob)))


class HallucinationGuard:
    """Decides whether a Recognition becomes a transcript."""

    def __init__(self, config: GuardConfig | None = None):
        self.config = config or GuardConfig()

    def check_audio(self, audio: np.ndarray) -> GuardResult | None:
        """Reject audio not worth recognising (saves a Whisper call); None when it may hold speech."""
        cfg = self.config
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size < cfg.min_audio_s * SAMPLE_RATE or not np.isfinite(audio).all():
            return GuardResult(Verdict.EMPTY_AUDIO, detail=f"{audio.size / SAMPLE_RATE:.2f} s of audio")
        level = rms_dbfs(audio)
        if level < cfg.min_level_dbfs:
            return GuardResult(Verdict.TOO_QUIET, detail=f"{level:.1f} dBFS")
        # Loud and clipped audio goes on to recognition: a scream must not be discarded here.
        return None

    def judge(self, recognition: Recognition, audio: np.ndarray | None = None) -> GuardResult:
        cfg = self.config
        if audio is not None:
            rejected = self.check_audio(audio)
            if rejected is not None:
                return rejected
        kept: list[SegmentResult] = []
        reasons: list[tuple[Verdict, str]] = []
        for seg in recognition.segments:
            verdict = self._segment_verdict(seg)
            if verdict is None:
                kept.append(seg)
            else:
                reasons.append((verdict, f"{seg.text!r}: no_speech={seg.no_speech_prob:.2f} "
                                         f"logprob={seg.avg_logprob:.2f} cr={seg.compression_ratio:.2f}"))
        if not kept:
            verdict, detail = reasons[0] if reasons else (Verdict.NO_WORDS, "no text")
            return GuardResult(verdict, detail=detail)
        if recognition.prompt and _is_prompt_echo(" ".join(s.text for s in kept), recognition.prompt,
                                                  cfg.prompt_echo_words):
            return GuardResult(Verdict.PROMPT_ECHO, detail=" ".join(s.text for s in kept))
        sep = "" if recognition.language in ("zh", "ja", "yue") else " "
        text = sep.join(s.text for s in kept).strip()
        confidence = confidence_of(kept)
        norm = normalise(text)
        if not _has_words(text) or _SOUND_MARK.match(text):
            return GuardResult(Verdict.NO_WORDS, detail=repr(text))
        if norm in _NEVER_SPOKEN_NORM or any(s in norm for s in _NEVER_SUBSTRINGS_NORM):
            return GuardResult(Verdict.HALLUCINATION, detail=repr(text))
        worst_no_speech = max(s.no_speech_prob for s in kept)
        if norm in _STOCK_NORM and not _is_safety_phrase(text) and (confidence < cfg.stock_phrase_min_confidence
                               or worst_no_speech > cfg.stock_phrase_max_no_speech):
            return GuardResult(Verdict.HALLUCINATION,
                               detail=f"stock phrase {text!r} at confidence {confidence:.2f}, "
                                      f"no_speech {worst_no_speech:.2f}")
        if recognition.audio_s > 0:
            rate = _weighted_chars(text) / max(recognition.audio_s, 0.5)
            if rate > cfg.max_chars_per_s:
                return GuardResult(Verdict.TOO_MANY_WORDS, detail=f"{rate:.0f} chars/s")
        return GuardResult(Verdict.ACCEPTED, text, confidence, confidence < cfg.low_confidence_threshold,
                           kept_segments=kept)

    def _segment_verdict(self, seg: SegmentResult) -> Verdict | None:
        cfg = self.config
        if not seg.text.strip():
            return Verdict.NO_WORDS
        if (seg.no_speech_prob > cfg.no_speech_threshold and seg.avg_logprob < cfg.no_speech_logprob
                and not _is_safety_phrase(seg.text)):
            return Verdict.NO_SPEECH
        if seg.compression_ratio > cfg.compression_ratio_threshold:
            return Verdict.REPETITIVE
        if seg.avg_logprob < cfg.min_avg_logprob:
            return Verdict.UNSURE
        return None
