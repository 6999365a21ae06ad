"""Labelled test speech made at run time, and word/character error rates.

Sentences live in ``tests/data/speech/sentences.yaml``; audio is synthesised
with several espeak-ng voices and speeds and with the Piper voice, so no
recording is committed. Used by the tests and ``benchmarks/speech_bench.py``.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from carebot.paths import ROOT
from carebot.speech.audio import SAMPLE_RATE, Clip, resample
from carebot.speech.tts import Synthesizer, TtsConfig, TtsEngine, espeak_synthesize

SENTENCES = ROOT / "tests" / "data" / "speech" / "sentences.yaml"
MANDARIN_REPLIES = ROOT / "tests" / "data" / "speech" / "mandarin_replies.yaml"


@dataclass(frozen=True)
class Voice:
    engine: str          # "espeak" or "piper"
    name: str            # espeak voice (with +variant), or "joe"
    rate_wpm: int

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}@{self.rate_wpm}"


# Several accents, a female variant, and slow "elderly" speeds.
ENGLISH_VOICES = (
    Voice("espeak", "en-us", 160),
    Voice("piper", "joe", 130),
    Voice("espeak", "en-gb", 130),
    Voice("espeak", "en-us+f3", 120),
    Voice("piper", "joe", 105),
    Voice("espeak", "en-gb-scotland", 140),
)
MANDARIN_VOICES = (Voice("espeak", "cmn-latn-pinyin", 130),)


@dataclass(frozen=True)
class Sample:
    text: str
    language: str
    place: str
    voice: Voice


def load_sentences(path: Path = SENTENCES) -> dict[str, list[dict]]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def samples(path: Path = SENTENCES) -> list[Sample]:
    """Every sentence with one voice each (round robin), English then Mandarin."""
    data = load_sentences(path)
    out = [Sample(s["text"], "en", s.get("place", ""), ENGLISH_VOICES[i % len(ENGLISH_VOICES)])
           for i, s in enumerate(data.get("english", []))]
    out += [Sample(s["text"], "zh", s.get("place", ""), MANDARIN_VOICES[i % len(MANDARIN_VOICES)])
            for i, s in enumerate(data.get("mandarin", []))]
    return out


class SpeechMaker:
    """Synthesises samples at 16 kHz (Piper voice loaded once)."""

    def __init__(self):
        self._piper = Synthesizer(TtsConfig(engine=TtsEngine.PIPER))

    def make(self, text: str, voice: Voice) -> Clip:
        if voice.engine == "piper":
            clip = self._piper.synthesize(text, "en", voice.rate_wpm, 0.8)
        else:
            clip = espeak_synthesize(text, voice.name, voice.rate_wpm)
            peak = float(np.max(np.abs(clip.samples))) or 1.0
            clip = Clip(clip.samples * (0.8 / peak), clip.sample_rate)
        return Clip(resample(clip.samples, clip.sample_rate, SAMPLE_RATE), SAMPLE_RATE)


# ------------------------------------------------------------------ error rates
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return " ".join(_ONES[int(d)] for d in str(n))


def normalise_words(text: str) -> list[str]:
    """Lower case, no punctuation, numbers as words, a few spelling variants folded."""
    text = unicodedata.normalize("NFKC", text).lower().replace("'", "")
    text = re.sub(r"\d+", lambda m: f" {_number_words(int(m.group()))} ", text)
    text = re.sub(r"[^\w\s]", " ", text)
    words = text.split()
    return ["ok" if w == "okay" else w for w in words]


def _edit_distance(ref: list, hyp: list) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference word count)."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    return _edit_distance(ref, hyp), len(ref)


def mandarin_replies(part: str = "", path: Path = MANDARIN_REPLIES) -> list[str]:
    """The robot's Mandarin sentences for the voice round trip: ``robot``, ``other`` or both."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return [t for name in (("robot", "other") if not part else (part,)) for t in data.get(name, [])]


def canonical_zh(text: str) -> str:
    """Mandarin for character scoring: simplified characters, numbers and times in words (as the
    voice says them), no punctuation. Whisper writes "9:30", "九点半" or "九點半" for one sound."""
    import zhconv

    from carebot.speech.speech_text import normalise_zh

    text = normalise_zh(zhconv.convert(unicodedata.normalize("NFKC", text), "zh-cn"))
    return "".join(c for c in text if c.isalnum())


def zh_char_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """Character errors of a Mandarin transcript against the text the robot was given."""
    ref, hyp = canonical_zh(reference), canonical_zh(hypothesis)
    return _edit_distance(list(ref), list(hyp)), len(ref)


def char_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in characters, reference length) on letters/CJK only: for Mandarin."""
    ref = [c for c in unicodedata.normalize("NFKC", reference) if c.isalnum()]
    hyp = [c for c in unicodedata.normalize("NFKC", hypothesis) if c.isalnum()]
    return _edit_distance(ref, hyp), len(ref)


def error_rate(pairs: list[tuple[int, int]]) -> float:
    errors = sum(e for e, _ in pairs)
    total = sum(n for _, n in pairs)
    return errors / total if total else 0.0
