"""Conversation memory per person and session, bounded in turns, characters and
sessions; idle sessions expire. Holds only the conversation text itself."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable

DEFAULT_MAX_TURNS = 8          # messages kept per session (user + assistant)
DEFAULT_MAX_CHARS = 2000       # characters kept per session
DEFAULT_MAX_SESSIONS = 64      # least recently used sessions are dropped beyond this
DEFAULT_SESSION_TTL_S = 900.0  # a session idle this long starts afresh


@dataclass
class _Session:
    messages: deque = field(default_factory=deque)
    last_used: float = 0.0


class ConversationMemory:
    """``add(person, session, role, text)`` and ``history(person, session)``."""

    def __init__(self, max_turns: int = DEFAULT_MAX_TURNS, max_chars: int = DEFAULT_MAX_CHARS,
                 max_sessions: int = DEFAULT_MAX_SESSIONS, ttl_s: float = DEFAULT_SESSION_TTL_S,
                 clock: Callable[[], float] = time.monotonic):
        if max_turns < 1 or max_chars < 1 or max_sessions < 1 or ttl_s <= 0:
            raise ValueError("memory bounds must be positive")
        self.max_turns, self.max_chars, self.max_sessions, self.ttl_s = max_turns, max_chars, max_sessions, ttl_s
        self._clock = clock
        self._sessions: OrderedDict[tuple[str, str], _Session] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, person: str, session: str) -> _Session:
        key = (person or "anonymous", session or "default")
        now = self._clock()
        entry = self._sessions.get(key)
        if entry is None or now - entry.last_used > self.ttl_s:
            entry = _Session()
            self._sessions[key] = entry
        entry.last_used = now
        self._sessions.move_to_end(key)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return entry

    def add(self, person: str, session: str, role: str, text: str) -> None:
        if role not in ("user", "assistant") or not text:
            return
        with self._lock:
            entry = self._get(person, session)
            entry.messages.append({"role": role, "content": text[: self.max_chars]})
            while len(entry.messages) > self.max_turns:
                entry.messages.popleft()
            while sum(len(m["content"]) for m in entry.messages) > self.max_chars and len(entry.messages) > 1:
                entry.messages.popleft()

    def history(self, person: str, session: str) -> list[dict]:
        """The kept messages, oldest first (copies)."""
        with self._lock:
            return [dict(m) for m in self._get(person, session).messages]

    def forget(self, person: str) -> None:
        """Drop every session of a person (e.g. on request)."""
        with self._lock:
            for key in [k for k in self._sessions if k[0] == (person or "anonymous")]:
                del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)
