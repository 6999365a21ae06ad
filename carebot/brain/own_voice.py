"""The robot's own voice, heard back: never a reason to alert or stop.

The speech node already ignores what it hears while it talks (and a short echo tail
after). Sound can still come back later - a reflection, a slow device buffer, a
transcript of the robot's words published after the tail. The brain keeps what it
said in the last moments and drops a transcript that is (nearly) all of one of
those sentences: "Do you need help?" or 请不要动 heard from its own loudspeaker must
not raise an alert or stop the robot.

One or two words are never taken for an echo: "help" said by a resident while the
robot happens to have said "help" must still count (fail safe).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from carebot.brain.utterance import has_cjk, normalize

ECHO_WINDOW_S = 6.0          # after the estimated end of a sentence
MIN_ECHO_TOKENS = 3          # shorter heard phrases are never dropped as echoes
ECHO_OVERLAP = 0.8           # share of the heard tokens found in the robot's sentence
WORDS_PER_S = 2.5            # speaking rate used to estimate when a sentence ends
CJK_CHARS_PER_S = 4.0
KEEP = 16                    # sentences remembered


def tokens(text: str) -> list[str]:
    """Words for English, characters for Mandarin (no spaces between words)."""
    norm = normalize(text)
    if has_cjk(norm):
        return [c for c in norm if not c.isspace()]
    return norm.split()


def speaking_time_s(text: str) -> float:
    toks = tokens(text)
    rate = CJK_CHARS_PER_S if has_cjk(text) else WORDS_PER_S
    return len(toks) / rate


@dataclass(frozen=True)
class _Said:
    tokens: frozenset[str]
    until: float     # monotonic time after which an echo of it is no longer plausible


class OwnVoice:
    """What the robot said recently (thread-safe)."""

    def __init__(self, window_s: float = ECHO_WINDOW_S, clock=time.monotonic):
        self.window_s = window_s
        self._clock = clock
        self._said: deque[_Said] = deque(maxlen=KEEP)
        self._lock = threading.Lock()

    def said(self, text: str, queued: bool = False) -> None:
        """Record a sentence the robot starts to say now or, ``queued``, once the one before it ends."""
        toks = tokens(text)
        if toks:
            with self._lock:
                start = self._clock()
                if queued and self._said:
                    start = max(start, self._said[-1].until - self.window_s)
                self._said.append(_Said(frozenset(toks), start + speaking_time_s(text) + self.window_s))

    def is_own(self, heard: str) -> bool:
        """True when the heard text is (nearly) all words of a recent sentence of the robot."""
        toks = tokens(heard)
        if len(toks) < MIN_ECHO_TOKENS:
            return False
        now = self._clock()
        with self._lock:
            recent = [s for s in self._said if s.until >= now]
        return any(sum(t in s.tokens for t in toks) / len(toks) >= ECHO_OVERLAP for s in recent)
