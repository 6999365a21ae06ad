"""One utterance, normalised once for every deterministic layer of the brain.

What Whisper writes is not what people said: no punctuation or odd punctuation,
lower or mixed case, full-width letters, fillers ("um", "uh", 嗯, 那个), repeated
words ("my my chest"), now and then a traditional character in Mandarin. The safety
net (distress, stop) and the intents read the same normalised forms, made here
once and handed down as one ``Utterance``.

Pure functions, no model, no I/O.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_PUNCT_RE = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Clause breaks: sentence punctuation (both widths) and the conjunctions that turn a
# sentence around ("I'm fine but my husband fell", 我没事，但是老王摔倒了).
_CLAUSE_RE = re.compile(r"[.!?;,:。！？；，、…\n]+|\b(?:but|although|though|except)\b|但是|可是",
                        re.IGNORECASE)

# Fillers Whisper keeps from spontaneous speech; removed from the matching form.
EN_FILLERS = frozenset("um umm uh uhh erm er hmm hm ah oh eh mm".split())
ZH_FILLERS = ("嗯", "呃", "哎呀", "哎", "唉", "额", "那个", "就是说", "这个这个")


@lru_cache(maxsize=1)
def _to_simplified():
    """zhconv's converter when installed (Whisper sometimes writes traditional characters)."""
    try:
        import zhconv
    except ImportError:    # the deterministic layer must work without it
        return None
    return lambda text: zhconv.convert(text, "zh-cn")


def normalize(text: str) -> str:
    """NFKC (folds full width), lower case, punctuation -> space, apostrophes dropped,
    traditional Chinese -> simplified, spaces collapsed."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", str(text)).lower()
    if _CJK_RE.search(folded):
        convert = _to_simplified()
        if convert is not None:
            folded = convert(folded)
    folded = folded.replace("'", " ").replace("\u2019", " ").replace("`", " ")
    folded = folded.replace("_", " ")
    folded = _PUNCT_RE.sub(" ", folded)
    return _SPACE_RE.sub(" ", folded).strip()


def has_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text or ""))


def _dedupe_words(words: list[str]) -> list[str]:
    """Collapse immediate repeats ("my my chest" -> "my chest")."""
    out: list[str] = []
    for word in words:
        if not out or out[-1] != word:
            out.append(word)
    return out


def _dedupe_chars(text: str) -> str:
    """Mandarin: collapse a two-character word said twice or more (护士护士 -> 护士) and one
    character said three times or more (我我我 -> 我); reduplicated words (妈妈, 谢谢) stay."""
    return re.sub(r"(.)\1{2,}", r"\1", re.sub(r"(..)\1+", r"\1", text))


# Spoken digits: "call nine nine nine", "dial one one two" -> 999, 112.
_DIGITS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
           "six": "6", "seven": "7", "eight": "8", "nine": "9"}

# Words the safety net keys on, and how far a misheard form may be from them. Whisper's
# slips keep the first sound ("helb", "brethe", "stahp"); a word the vocabulary knows
# ("hearts", "step") is never changed here (the rules handle the known confusions).
KEY_WORDS = ("help", "nurse", "doctor", "ambulance", "breathe", "breath", "breathing", "chest", "hurts",
             "fire", "smoke", "bleeding", "blood", "dizzy", "faint", "choking", "stroke", "fallen", "stop",
             "emergency", "pain", "heart", "medicine", "pills", "tablets", "collapsed", "unconscious",
             "insulin", "overdose", "paramedic", "seizure", "poorly")


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count 1), cut off above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """An English vocabulary: whole words of the MiniLM tokenizer shipped with the stack
    (30k), else the system word list; empty when neither is there (no repair then)."""
    candidates = []
    try:
        from carebot.models import locate

        candidates.append(locate("minilm") / "vocab.txt")
    except Exception:  # noqa: BLE001 - the vocabulary is optional
        pass
    from pathlib import Path

    candidates += [Path("/usr/share/dict/words"), Path("/usr/share/dict/american-english")]
    for path in candidates:
        try:
            lines = path.read_text(encoding="utf-8", errors="ignore").split()
        except OSError:
            continue
        return frozenset(w.lower() for w in lines if w.isalpha())
    return frozenset()


@lru_cache(maxsize=4096)
def repair_word(word: str) -> str:
    """A misheard key word back to itself ("helb" -> "help"); other words unchanged."""
    if len(word) < 4 or not word.isalpha() or word in KEY_WORDS:
        return word
    vocabulary = known_words()
    if not vocabulary or word in vocabulary:
        return word
    best, best_d = word, 99
    for key in KEY_WORDS:
        if key[0] != word[0]:
            continue
        limit = 1 if len(key) <= 6 else 2
        d = _edit_distance(word, key, limit)
        if d <= limit and d < best_d:
            best, best_d = key, d
    return best


def _spoken_digits(words: list[str]) -> list[str]:
    """Runs of three or more spoken digits become one number ("nine nine nine" -> "999")."""
    out: list[str] = []
    run: list[str] = []
    for word in words + [""]:
        if word in _DIGITS:
            run.append(word)
            continue
        out += ["".join(_DIGITS[w] for w in run)] if len(run) >= 3 else run
        run = []
        if word:
            out.append(word)
    return out


def matching_form(text: str) -> str:
    """The form the English rules read: normalised, fillers out, repeats collapsed,
    spoken digit runs as numbers, misheard key words repaired."""
    words = [w for w in normalize(text).split(" ") if w and w not in EN_FILLERS]
    words = [repair_word(w) for w in _dedupe_words(_spoken_digits(words))]
    return " ".join(words)


# Mandarin key phrases Whisper writes with a homophone (就命 for 救命, 户士 for 护士, 着伙 for 着火,
# 头好运 for 头好晕): a run of characters that sounds like one of these is read as it.
ZH_KEY_PHRASES = (
    "救命", "救救我", "帮帮我", "救护车", "护士", "叫医生", "着火", "失火", "火灾", "冒烟", "跌倒", "摔倒", "晕倒", "昏倒",
    "头晕", "头好晕", "头很晕", "头痛", "头好痛", "胸口痛", "胸口好痛", "心口痛", "心口好痛", "肚子好痛", "好痛啊",
    "喘不过气", "喘不上气", "呼吸困难", "吃错药", "吃错了药", "吃多了药", "流血", "中风", "不舒服", "难受",
    "停一下", "停下来", "快停下",
)
# Never read these characters as another (听一下 "listen" is not 停一下 "stop").
_ZH_NEVER_REPAIRED = frozenset("听挺厅亭庭")


@lru_cache(maxsize=1)
def _readings():
    """char -> set of toneless pinyin readings, via pypinyin when installed (else no repair)."""
    try:
        from pypinyin import Style, pinyin
    except ImportError:
        return None

    @lru_cache(maxsize=8192)
    def of(char: str) -> frozenset[str]:
        found = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
        return frozenset(found[0]) if found else frozenset()

    return of


def repair_mandarin(compact: str) -> str:
    """Homophone slips in the key phrases put right (就命啊 -> 救命啊); '' when nothing changed."""
    readings = _readings()
    if readings is None or not _CJK_RE.search(compact):
        return ""
    chars = list(compact)
    changed = False
    for phrase in ZH_KEY_PHRASES:
        n = len(phrase)
        for i in range(len(chars) - n + 1):
            window = chars[i:i + n]
            if "".join(window) == phrase or any(c in _ZH_NEVER_REPAIRED for c in window):
                continue
            if all(a == b or (readings(a) & readings(b)) for a, b in zip(window, phrase)):
                chars[i:i + n] = list(phrase)
                changed = True
    return "".join(chars) if changed else ""


def compact_form(text: str) -> str:
    """The form the Mandarin rules read: normalised, no spaces, fillers out, repeats collapsed."""
    compact = normalize(text).replace(" ", "")
    for filler in ZH_FILLERS:
        compact = compact.replace(filler, "")
    return _dedupe_chars(compact)


@dataclass(frozen=True)
class Utterance:
    """A transcript as the deterministic layers read it."""

    text: str                      # as heard
    language: str                  # "en" or "zh"
    norm: str                      # normalize(text)
    words: str                     # matching_form: English rules
    compact: str                   # compact_form: Mandarin rules
    clauses: tuple[str, ...]       # matching forms of each clause
    compact_clauses: tuple[str, ...]   # compact forms of each clause, then their homophone repairs
    repaired: str = ""             # compact with homophone slips of key phrases put right, '' if none

    @classmethod
    def of(cls, text: str, language: str = "") -> "Utterance":
        text = (text or "").strip()
        lang = language if language in ("en", "zh") else ("zh" if has_cjk(text) else "en")
        parts = [p for p in _CLAUSE_RE.split(unicodedata.normalize("NFKC", text)) if p and p.strip()]
        compact_clauses = [f for f in (compact_form(p) for p in parts) if f]
        # Homophone repairs are read beside what was heard, never instead of it.
        compact_clauses += [r for r in [repair_mandarin(c) for c in compact_clauses] if r]
        compact = compact_form(text)
        return cls(text=text, language=lang, norm=normalize(text), words=matching_form(text),
                   compact=compact, repaired=repair_mandarin(compact),
                   clauses=tuple(f for f in (matching_form(p) for p in parts) if f),
                   compact_clauses=tuple(compact_clauses))

    @property
    def empty(self) -> bool:
        return not self.norm
