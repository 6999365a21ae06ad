"""The model half of the safety net: nearest labelled examples by sentence embedding.

The rules (``distress.py``) catch what they were written for; people say the same
thing a hundred other ways ("I've come over all queer", 我这心里头发慌). This check
compares an utterance with a bank of labelled examples that ships with the robot
(``data/distress_examples*.yaml``, written independently by two authors: distress by
kind and severity, stop commands, and ordinary requests including look-alikes) and decides by the nearest neighbours:
distress when the closest distress example is closer, by a margin, than the
closest ordinary or stop example. Ranking, not a fixed cosine threshold, because
the multilingual e5 model's cosines bunch together (see ``embeddings.py``).

The bank's vectors are computed once and cached on disk, keyed on the model and
the bank's contents.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from carebot.alert_enums import Severity
from carebot.brain.distress import Distress, DistressKind
from carebot.brain.embeddings import Embedder
from carebot.brain.utterance import Utterance

log = logging.getLogger("carebot.brain.distress_similarity")

DATA_DIR = Path(__file__).resolve().parent / "data"
EXAMPLES_GLOB = "distress_examples*.yaml"
LABELS = ("distress", "stop", "ordinary")
# How much closer (cosine) the nearest distress example must be than the nearest
# ordinary or stop one. Chosen on the development set (tests/data/brain/distress_dev.yaml)
# by the benchmark, per model: e5's cosines bunch, MiniLM's spread.
DISTRESS_MARGIN = {"e5": 0.02, "minilm": 0.04}
STOP_MARGIN = {"e5": 0.02, "minilm": 0.10}
# Shorter than this, an utterance is too little to be a stop by likeness alone: Whisper heard
# "早餐" (breakfast) as "走餐", whose nearest examples were stops, and the robot was e-stopped
# (latched until staff release it). The stop rules list every short stop word themselves.
MIN_STOP_LIKENESS_CHARS = 3        # Chinese characters
MIN_STOP_LIKENESS_WORDS = 2        # English words


def too_short_for_a_stop_by_likeness(utterance: Utterance) -> bool:
    """Whether the utterance is too short for the similarity check to call it a stop."""
    if utterance.language == "zh":
        return len(re.findall(r"[\u3400-\u9fff]", utterance.compact)) < MIN_STOP_LIKENESS_CHARS
    return len(utterance.words.split()) < MIN_STOP_LIKENESS_WORDS


_SEVERITY = {"critical": Severity.CRITICAL, "warning": Severity.WARNING}


@dataclass(frozen=True)
class Example:
    text: str
    language: str
    label: str                    # distress | stop | ordinary
    kind: DistressKind | None = None
    severity: Severity = Severity.WARNING


def shipped_examples() -> list[Example]:
    """Every example bank that ships with the robot (data/distress_examples*.yaml)."""
    paths = sorted(DATA_DIR.glob(EXAMPLES_GLOB))
    if not paths:
        raise OSError(f"no example bank {DATA_DIR / EXAMPLES_GLOB}")
    return [e for path in paths for e in load_examples(path)]


def load_examples(path: str | Path, key: str = "examples") -> list[Example]:
    """Labelled examples from a YAML file (``examples:`` or ``items:`` list); ValueError names a bad row."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    rows = data.get(key) or data.get("items") or data.get("examples") or []
    out = []
    for i, row in enumerate(rows):
        try:
            label = str(row["label"])
            if label not in LABELS:
                raise ValueError(f"label {label!r} not one of {LABELS}")
            kind = DistressKind(row["kind"]) if label == "distress" else None
            severity = _SEVERITY[str(row.get("severity", "warning"))] if label == "distress" else Severity.INFO
            out.append(Example(str(row["text"]), str(row.get("lang", "en")), label, kind, severity))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: row {i}: {exc}") from None
    return out


def _cache_dir() -> Path:
    return Path(os.environ.get("CAREBOT_CACHE", Path.home() / ".cache" / "carebot")) / "embeddings"


def bank_vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of the bank's texts, from the disk cache when the same model saw the same texts."""
    digest = hashlib.sha256(("\n".join([embedder.name, *texts])).encode("utf-8")).hexdigest()[:16]
    path = _cache_dir() / f"{embedder.name}-{digest}.npy"
    try:
        vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            return vectors
    except (OSError, ValueError):
        pass
    vectors = embedder.encode(texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        os.replace(tmp, path)
    except OSError as exc:  # a full or read-only disk costs start-up time, nothing else
        log.warning("could not cache bank vectors at %s: %s", path, exc)
    return vectors


@dataclass(frozen=True)
class Neighbours:
    """The nearest example of each label, with its cosine."""

    distress: tuple[float, Example | None]
    stop: tuple[float, Example | None]
    ordinary: tuple[float, Example | None]


class DistressSimilarity:
    """Nearest-example check over a labelled bank (thread-safe after construction)."""

    def __init__(self, embedder: Embedder, examples: list[Example] | None = None,
                 distress_margin: float | None = None, stop_margin: float | None = None):
        self.embedder = embedder
        examples = examples if examples is not None else shipped_examples()
        if not embedder.multilingual:   # an English model cannot read the Mandarin examples
            examples = [e for e in examples if e.language == "en"]
        self.examples = examples
        self.distress_margin = DISTRESS_MARGIN.get(embedder.name, 0.02) if distress_margin is None else distress_margin
        self.stop_margin = STOP_MARGIN.get(embedder.name, 0.05) if stop_margin is None else stop_margin
        self._vectors = bank_vectors(embedder, [Utterance.of(e.text).norm for e in examples])
        self._labels = np.array([e.label for e in examples])
        self._languages = np.array([e.language for e in examples])

    def neighbours(self, utterance: Utterance) -> Neighbours | None:
        """Nearest example per label in the utterance's language (None when the model cannot read it)."""
        if utterance.empty or (utterance.language == "zh" and not self.embedder.multilingual):
            return None
        query = self.embedder.encode([utterance.norm])[0]
        sims = self._vectors @ query
        same = self._languages == utterance.language
        best = {}
        for label in LABELS:
            mask = same & (self._labels == label)
            if not mask.any():
                best[label] = (-1.0, None)
                continue
            index = int(np.flatnonzero(mask)[np.argmax(sims[mask])])
            best[label] = (float(sims[index]), self.examples[index])
        return Neighbours(best["distress"], best["stop"], best["ordinary"])

    def check(self, utterance: Utterance) -> tuple[Distress | None, bool]:
        """(distress found, is a stop command), from one encoding of the utterance."""
        near = self.neighbours(utterance)
        if near is None:
            return None, False
        rival = max(near.ordinary[0], near.stop[0])
        if near.distress[1] is not None and near.distress[0] - rival >= self.distress_margin:
            example = near.distress[1]
            return Distress(example.kind, example.severity, f"like \"{example.text}\" ({near.distress[0]:.3f} vs "
                                                            f"{rival:.3f})", via="similarity"), False
        stop = near.stop[1] is not None and near.stop[0] - max(near.ordinary[0], near.distress[0]) >= self.stop_margin
        return None, stop and not too_short_for_a_stop_by_likeness(utterance)


def load_similarity(embedder_name: str = "e5", path: str | Path | None = None) -> DistressSimilarity | None:
    """The similarity check with the shipped bank, or None (logged) when its model or
    bank cannot be loaded: the rules still run, the robot still hears distress."""
    from carebot.brain import embeddings

    try:
        examples = load_examples(path) if path is not None else shipped_examples()
        return DistressSimilarity(embeddings.load(embedder_name), examples)
    except (ImportError, OSError, ValueError, RuntimeError) as exc:
        log.error("distress similarity check unavailable (%s: %s); rules only", type(exc).__name__, exc)
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m carebot.brain.distress_similarity prepare``: compute the bank's vectors
    into the cache (setup does this, so the first start of the brain is not slow)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args != ["prepare"]:
        print("usage: python -m carebot.brain.distress_similarity prepare", file=sys.stderr)
        return 2
    similarity = load_similarity()
    if similarity is None:
        return 1
    print(f"[distress] {len(similarity.examples)} example vectors ready ({similarity.embedder.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
