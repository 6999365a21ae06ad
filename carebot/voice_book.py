"""Residents' voice prints, as kept on disk: the book the speech node names speakers from and staff
tools edit (``carebot residents forget``). Prints only (256 numbers per resident), never audio.

``VoiceBook.identify`` names a resident only when the best match is close enough AND beats the
next resident by a margin; otherwise nobody (a guess is worse than no name: the brain keys a
resident's memory on it). The prints come from ``carebot.speech.voice_id``.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PRINT_SIZE = 256


def unit(vector: np.ndarray) -> np.ndarray:
    """The vector at length 1 (a zero vector as it is)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


@dataclass(frozen=True)
class Match:
    resident: str | None      # None: nobody enrolled is close enough, or two are too alike
    similarity: float         # cosine with the best resident (-1 when nobody is enrolled)
    margin: float             # best minus second best (1 when only one is enrolled)


@dataclass
class VoiceBook:
    """Enrolled residents' voice prints (mean of their enrolment utterances), saved as JSON."""

    threshold: float = 0.80   # cosine a resident's own voice reaches (docs/speech.md: measured)
    margin: float = 0.06      # how far ahead of the next resident the best must be
    prints: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def enrol(self, resident: str, voice_print: np.ndarray) -> int:
        """Adds one utterance's print to the resident's; returns how many they have now."""
        if not resident.strip():
            raise ValueError("a voice print needs the resident's id")
        n = self.counts.get(resident, 0)
        previous = self.prints.get(resident, np.zeros_like(voice_print))
        self.prints[resident] = unit(previous * n + voice_print).astype(np.float32)
        self.counts[resident] = n + 1
        return n + 1

    def forget(self, resident: str) -> bool:
        self.counts.pop(resident, None)
        return self.prints.pop(resident, None) is not None

    def copy(self) -> "VoiceBook":
        """Another book with the same settings and prints (changed, then saved, in one piece)."""
        return VoiceBook(self.threshold, self.margin, dict(self.prints), dict(self.counts))

    def identify(self, voice_print: np.ndarray) -> Match:
        if not self.prints:
            return Match(None, -1.0, 1.0)
        scored = sorted(((float(np.dot(p, voice_print)), who) for who, p in self.prints.items()), reverse=True)
        best, who = scored[0]
        margin = best - scored[1][0] if len(scored) > 1 else 1.0
        named = who if best >= self.threshold and margin >= self.margin else None
        return Match(named, best, margin)

    # --- storage: prints only, written atomically -----------------------------------------
    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "residents": {who: {"print": [round(float(v), 6) for v in p],
                                                  "utterances": self.counts.get(who, 0)}
                                            for who, p in self.prints.items()}}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".voices-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path, threshold: float = 0.80, margin: float = 0.06) -> "VoiceBook":
        """The saved book; an empty one when the file does not exist. ValueError for a damaged file."""
        book = cls(threshold, margin)
        path = Path(path)
        if not path.exists():
            return book
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for who, entry in data["residents"].items():
                vector = np.asarray(entry["print"], dtype=np.float32)
                if vector.shape != (PRINT_SIZE,) or not np.all(np.isfinite(vector)):
                    raise ValueError(f"{who}: not a {PRINT_SIZE}-value voice print")
                book.prints[who] = unit(vector)
                book.counts[who] = int(entry.get("utterances", 1))
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a voice book ({error})") from error
        return book


def forget_in_file(path: str | Path, resident: str) -> bool:
    """Removes the resident's print from the book file (rewritten atomically); False when there
    is no file or no print of theirs. ValueError for a damaged file."""
    path = Path(path)
    if not path.is_file():
        return False
    book = VoiceBook.load(path)
    if not book.forget(resident.strip()):
        return False
    book.save(path)
    return True
