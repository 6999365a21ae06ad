"""The LLM reply guard: what a model wrote is checked before it is spoken (pure).

A reply is judged sentence by sentence, in the order it is written, so a streamed
reply can be spoken as it arrives. A sentence is refused when it is

- in the wrong language (a Mandarin request answered in English, or the reverse),
- in a language this backend cannot write intelligibly: the bundled 135M model's
  Mandarin was measured to be nonsense ("没有什么可能的话,我是老师. 家里看到你..."),
  so Mandarin from it is never spoken (``trusted_languages``),
- without meaning: an echo of the request, symbol soup, English made of non-words,
- repetitive: a sentence said already in this reply, a phrase looping, or the same
  reply the robot gave this person last time,
- too long for speech: past ``max_chars`` or ``max_sentences`` for the reply.

The caller decides what a refusal means: before anything was spoken the whole
reply is replaced (by the companionship reply for the topic, else the spoken
fallback); once sentences have been spoken the reply ends there (what was said
cannot be unsaid, the rest is dropped). Reasoning (``<think>`` blocks,
``reasoning_content``) never reaches the guard: the stream readers drop it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from carebot.brain.sentences import split_sentences
from carebot.brain.utterance import known_words, normalize

MAX_CHARS = {"en": 360, "zh": 140}    # a reply of ~20-25 s spoken at an elder's pace
MAX_SENTENCES = 4
_CJK = re.compile(r"[\u3400-\u9fff]")
MIN_REPEAT_TOKENS = 4          # words (or Chinese characters) of a sentence that may not come back next reply
_LATIN = re.compile(r"[A-Za-z]")
_EN_WORD = re.compile(r"[a-z]+")
_LOOP_ZH = re.compile(r"(.{1,4})\1{2,}")      # the same 1-4 characters three times in a row
MIN_KNOWN_SHARE = 0.6         # English: share of real words in a sentence of 3+ words


class Refusal(str, Enum):
    WRONG_LANGUAGE = "wrong_language"
    UNTRUSTED_LANGUAGE = "untrusted_language"
    MEANINGLESS = "meaningless"
    REPETITIVE = "repetitive"
    TOO_LONG = "too_long"
    EMPTY = "empty"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    refusal: Refusal | None = None
    why: str = ""


OK = Verdict(True)


def _tokens(text: str) -> list[str]:
    """Words, with each Chinese character a word of its own."""
    return [t for word in normalize(text).split() for t in (list(word) if _CJK.search(word) else [word])]


@dataclass
class ReplyGuard:
    """Judges one reply's sentences in order; ``accepted`` holds the ones that passed."""

    language: str                                   # the language the reply must be in (en, zh)
    request: str = ""                               # what the person said (an echo of it is no reply)
    previous_reply: str = ""                        # the robot's last reply to this person
    trusted_languages: tuple[str, ...] = ("en", "zh")
    max_chars: int = 0                              # 0: MAX_CHARS of the language
    max_sentences: int = MAX_SENTENCES
    accepted: list[str] = field(default_factory=list)
    refused: Verdict | None = None

    def __post_init__(self) -> None:
        # The last reply, whole and sentence by sentence, as the repetition check compares them.
        self._previous = normalize(self.previous_reply) if self.previous_reply else ""
        self._previous_sentences = {normalize(s) for s in split_sentences(self.previous_reply)} if self._previous else set()

    def check(self, sentence: str) -> Verdict:
        """Judge the next sentence of the reply; after one refusal every later one is refused too."""
        if self.refused is not None:
            return self.refused
        verdict = self._judge(sentence.strip())
        if verdict.ok:
            self.accepted.append(sentence.strip())
        else:
            self.refused = verdict
        return verdict

    @property
    def text(self) -> str:
        joiner = "" if self.language == "zh" else " "
        return joiner.join(self.accepted)

    def _judge(self, sentence: str) -> Verdict:
        if not sentence or not re.search(r"\w", sentence):
            return Verdict(False, Refusal.EMPTY, "no words")
        cjk, latin = len(_CJK.findall(sentence)), len(_LATIN.findall(sentence))
        if self.language == "zh":
            if cjk == 0 or cjk < latin:
                return Verdict(False, Refusal.WRONG_LANGUAGE, "not Mandarin")
        elif cjk:
            return Verdict(False, Refusal.WRONG_LANGUAGE, "Chinese characters in an English reply")
        if self.language not in self.trusted_languages:
            return Verdict(False, Refusal.UNTRUSTED_LANGUAGE,
                           f"this backend's {self.language} is not intelligible (measured)")
        meaningless = self._meaningless(sentence, cjk, latin)
        if meaningless:
            return Verdict(False, Refusal.MEANINGLESS, meaningless)
        repetitive = self._repetitive(sentence)
        if repetitive:
            return Verdict(False, Refusal.REPETITIVE, repetitive)
        limit = self.max_chars or MAX_CHARS.get(self.language, MAX_CHARS["en"])
        if len(self.accepted) >= self.max_sentences:
            return Verdict(False, Refusal.TOO_LONG, f"more than {self.max_sentences} sentences")
        if sum(len(s) for s in self.accepted) + len(sentence) > limit:
            return Verdict(False, Refusal.TOO_LONG, f"longer than {limit} characters")
        return OK

    def _meaningless(self, sentence: str, cjk: int, latin: int) -> str:
        visible = [c for c in sentence if not c.isspace()]
        letters = cjk + latin + sum(c.isdigit() for c in sentence)
        if "\ufffd" in sentence or letters < 0.5 * len(visible):
            return "symbols, not words"
        if self.request:
            # An echo adds no word of its own; an answer that names what was asked about
            # ("The capital of Peru is Lima.") does.
            mine, theirs = _tokens(sentence), set(_tokens(self.request))
            if len(mine) >= 3 and all(t in theirs for t in mine):
                return "echoes the request"
        if self.language == "en":
            words = _EN_WORD.findall(normalize(sentence))
            vocabulary = known_words()
            if len(words) >= 3 and vocabulary:
                known = sum(w in vocabulary or w.rstrip("s") in vocabulary for w in words) / len(words)
                if known < MIN_KNOWN_SHARE:
                    return f"only {known:.0%} real words"
        return ""

    def _repetitive(self, sentence: str) -> str:
        norm = normalize(sentence)
        if any(normalize(s) == norm for s in self.accepted):
            return "repeats a sentence of this reply"
        # The last reply said again, whole or sentence by sentence. A short opener ("Of course.")
        # may come back; a sentence with content may not (never the same sentence twice in a row).
        if self._previous and (norm == self._previous or (norm in self._previous_sentences
                                                          and len(_tokens(sentence)) >= MIN_REPEAT_TOKENS)):
            return "the same reply as last time"
        words = norm.split()
        grams = [" ".join(words[i:i + 3]) for i in range(len(words) - 2)]
        if grams and max(grams.count(g) for g in grams) >= 3:
            return "a phrase loops"
        if any(len(set(words[i:i + 4])) == 1 for i in range(len(words) - 3)):
            return "a word loops"
        if self.language == "zh" and _LOOP_ZH.search(norm.replace(" ", "")):
            loop = _LOOP_ZH.search(norm.replace(" ", "")).group(0)
            if len(loop) >= 4:     # 谢谢谢 is three characters; a real loop is longer
                return "characters loop"
        return ""
