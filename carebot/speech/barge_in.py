"""What the node does with speech it hears while the robot itself is talking.

The microphone hears the robot's own voice, so nothing heard while speaking
(plus a short echo tail) becomes an ordinary transcript. Only a stop request
("stop", "停") cuts the robot off, and a call for help is never dropped: both
are published and end the speech. The phrase lists belong to the brain
(``carebot.brain.phrases``), so the speech and the brain agree on them.
"""
from __future__ import annotations

import enum
import re
import threading
import time
from dataclasses import dataclass

from carebot.brain.phrases import is_emergency_phrase, is_stop_phrase
from carebot.speech.hallucination_guard import normalise

ECHO_MIN_WORDS = 3           # a heard phrase this long, all in the robot's sentence, is its own voice
ECHO_WORD_OVERLAP = 0.8


class HeardAction(enum.Enum):
    PUBLISH = "publish"                  # not speaking: an ordinary transcript
    BARGE_IN = "barge_in"                # stop or emergency while speaking: publish and cut the speech
    IGNORE = "ignore"                    # the robot's own voice (or talk over it)


_TOKEN = re.compile(r"[\u3400-\u9fff]|[^\s\u3400-\u9fff]+")


def _words(text: str) -> list[str]:
    """Normalised words, each Chinese character a word of its own (Chinese has no spaces)."""
    return [w for w in (normalise(t) for t in _TOKEN.findall(text)) if w]


def is_echo(heard: str, spoken: str) -> bool:
    """True when a multi-word phrase heard is (almost) all words of what the robot says."""
    heard_words = _words(heard)
    if len(heard_words) < ECHO_MIN_WORDS:
        return False
    spoken_words = set(_words(spoken))
    inside = sum(1 for w in heard_words if w in spoken_words)
    return inside / len(heard_words) >= ECHO_WORD_OVERLAP


def not_own_words(heard: str, spoken: str) -> str:
    """What was heard that the robot's own sentence does not explain: the heard words (single
    characters in Chinese) that are not in ``spoken``, in their order."""
    own = set(_words(spoken))
    rest = [t for t in _TOKEN.findall(heard) if normalise(t) and normalise(t) not in own]
    return "".join(rest) if all(re.fullmatch(r"[\u3400-\u9fff]", t) for t in rest) else " ".join(rest)


def over_own_voice(heard: str, spoken: str) -> str:
    """A stop or help phrase said over the robot's voice, from a transcript of the microphone
    *before* the echo canceller (the robot's words and the resident's mixed): the resident's
    words when, without the robot's own, they still ask to stop or call for help; else ""."""
    rest = not_own_words(heard, spoken)
    return rest if rest and (is_stop_phrase(rest) or is_emergency_phrase(rest)) else ""


def decide(heard: str, during_speech: bool, spoken: str = "", barge_in: bool = True,
           stopped: bool = False) -> HeardAction:
    """``stopped``: a barge-in already cut this speech off; the same stop heard again (the
    next, overlapping piece of it, or said twice) is not published twice. A call for help is."""
    if not during_speech:
        return HeardAction.PUBLISH
    if not barge_in:
        return HeardAction.IGNORE
    if is_emergency_phrase(heard):
        return HeardAction.BARGE_IN
    if is_stop_phrase(heard) and not is_echo(heard, spoken) and not stopped:
        return HeardAction.BARGE_IN
    return HeardAction.IGNORE


@dataclass
class _Speaking:
    text: str
    started: float


class SpeakingGate:
    """Thread-safe speaking state with an echo tail after the speech ends."""

    def __init__(self, echo_tail_s: float = 0.4, clock=time.monotonic):
        self.echo_tail_s = echo_tail_s
        self._clock = clock
        self._lock = threading.Lock()
        self._current: _Speaking | None = None
        self._last_text = ""
        self._ended_at = -1e9
        self._interrupt = threading.Event()

    def begin(self, text: str) -> None:
        with self._lock:
            self._current = _Speaking(text, self._clock())
            self._interrupt.clear()

    def end(self) -> None:
        with self._lock:
            if self._current is not None:
                self._last_text = self._current.text
            self._current = None
            self._ended_at = self._clock()

    @property
    def speaking(self) -> bool:
        return self._current is not None

    def hearing_self(self) -> bool:
        """Speaking now, or within the echo tail of the last speech."""
        with self._lock:
            return self._current is not None or self._clock() - self._ended_at < self.echo_tail_s

    def spoken_text(self) -> str:
        with self._lock:
            return self._current.text if self._current else self._last_text

    def interrupt(self) -> None:
        self._interrupt.set()

    @property
    def interrupted(self) -> bool:
        return self._interrupt.is_set()
