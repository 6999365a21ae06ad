"""Text as speech wants it: sentences, as early as they exist (pure, no I/O).

A reply is spoken sentence by sentence: the speech node synthesises the first
sentence while the rest is still being written (an LLM stream) or synthesised.
Three small stream readers turn what an LLM sends into spoken text:

- ``SentenceSplitter``: fragments in, whole sentences out, as soon as a sentence
  is known to be complete (English and Mandarin punctuation; "Dr." and "9.30" do
  not end a sentence; a run-on sentence is cut at a comma past a length).
- ``ThinkFilter``: drops ``<think>...</think>`` blocks (DeepSeek-R1 style reasoning
  written into the content): reasoning is never spoken.
- ``JsonStringField``: the value of one string field of a JSON object being
  streamed (``{"reply": "Hel`` ...), decoded as it arrives: the embedded model's
  schema-constrained decision and a tool call's ``text`` argument stream this way.
"""
from __future__ import annotations

import json
import re

# Sentence ends. Full-width Mandarin marks end a sentence on their own; ASCII ones only
# before a space or a CJK character (not inside "9.30", "e.g.x", "www.example.org").
_ZH_ENDS = "。！？；…"
_EN_ENDS = ".!?"
_CLOSERS = "\"'”’」』)）"
_ABBREVIATIONS = frozenset("mr mrs ms dr st no nr prof mt vs etc approx dept tel".split())
MAX_SENTENCE_CHARS = 160      # a run-on sentence is cut at a comma (or space) past this
MIN_CUT_CHARS = 60            # ... but never into a piece shorter than this
_CUTS_ZH = "，、：,"
_CJK = re.compile(r"[\u3400-\u9fff]")


def _is_cjk(char: str) -> bool:
    return bool(_CJK.match(char))


class SentenceSplitter:
    """Feed text fragments; get back the sentences they complete, in order."""

    def __init__(self, max_chars: int = MAX_SENTENCE_CHARS):
        self.max_chars = max_chars
        self._buf = ""

    def feed(self, fragment: str) -> list[str]:
        """The sentences completed by this fragment (possibly none)."""
        self._buf += fragment or ""
        out = []
        while True:
            end = self._find_end(self._buf, final=False)
            if end is None:
                break
            sentence, self._buf = self._buf[:end].strip(), self._buf[end:]
            if sentence:
                out.append(sentence)
        return out

    def flush(self) -> list[str]:
        """What is left at the end of the stream, as sentences."""
        out = []
        while self._buf.strip():
            end = self._find_end(self._buf, final=True)
            end = len(self._buf) if end is None else end
            sentence, self._buf = self._buf[:end].strip(), self._buf[end:]
            if sentence:
                out.append(sentence)
        self._buf = ""
        return out

    def _find_end(self, text: str, final: bool) -> int | None:
        """Index just past the first complete sentence in ``text``, or None."""
        i = 0
        n = len(text)
        while i < n:
            char = text[i]
            if char in _ZH_ENDS or char == "\n":
                return self._past_closers(text, i + 1)
            if char in _EN_ENDS:
                j = i + 1
                while j < n and text[j] in _EN_ENDS:
                    j += 1
                j = self._past_closers(text, j)
                if j >= n:
                    if final:
                        return j
                    return None          # the next character decides ("Dr." / "9.30")
                follower = text[j]
                if (follower.isspace() or _is_cjk(follower)) and not self._abbreviation(text, i):
                    return j
                i = j
                continue
            if i >= self.max_chars:
                cut = self._cut(text[: i + 1])
                if cut:
                    return cut
            i += 1
        return None

    @staticmethod
    def _past_closers(text: str, j: int) -> int:
        while j < len(text) and text[j] in _CLOSERS:
            j += 1
        return j

    @staticmethod
    def _abbreviation(text: str, dot: int) -> bool:
        if text[dot] != ".":
            return False
        word = re.search(r"([A-Za-z]+)$", text[:dot])
        if word is None:
            return False
        token = word.group(1)
        return token.lower() in _ABBREVIATIONS or len(token) == 1   # "Mr.", "J. Smith"

    def _cut(self, text: str) -> int | None:
        """Where a run-on sentence may be cut: after the last comma (else space) past MIN_CUT_CHARS."""
        for marks in (_CUTS_ZH, " "):
            best = max((k for k in range(MIN_CUT_CHARS, len(text)) if text[k] in marks), default=-1)
            if best > 0:
                return best + 1
        return None


def split_sentences(text: str) -> list[str]:
    """A whole text as its sentences."""
    splitter = SentenceSplitter()
    return splitter.feed(text) + splitter.flush()


class ThinkFilter:
    """Removes ``<think>...</think>`` from streamed text, across fragment boundaries."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self):
        self._buf = ""
        self._inside = False
        self.dropped = 0          # characters of reasoning seen (and not passed on)

    def feed(self, fragment: str) -> str:
        """The part of the text so far that is certainly outside a think block."""
        self._buf += fragment or ""
        out = []
        while self._buf:
            tag = self.CLOSE if self._inside else self.OPEN
            at = self._buf.find(tag)
            if at >= 0:
                if self._inside:
                    self.dropped += at
                else:
                    out.append(self._buf[:at])
                self._buf = self._buf[at + len(tag):]
                self._inside = not self._inside
                continue
            # Keep a tail that may be the start of the tag; pass or drop the rest.
            keep = max((k for k in range(1, len(tag)) if self._buf.endswith(tag[:k])), default=0)
            head, self._buf = self._buf[:len(self._buf) - keep], self._buf[len(self._buf) - keep:]
            if self._inside:
                self.dropped += len(head)
            else:
                out.append(head)
            break
        return "".join(out)

    def flush(self) -> str:
        """The end of the stream: a held-back partial tag outside a block is text after all."""
        rest, self._buf = self._buf, ""
        return "" if self._inside else rest


def strip_think(text: str) -> str:
    """A whole text without its think blocks (an unclosed block runs to the end)."""
    think = ThinkFilter()
    return think.feed(text) + think.flush()


class JsonStringField:
    """Decodes the string value of ``field`` from a JSON object that arrives in fragments."""

    _KEY_RE_TEMPLATE = r'"{key}"\s*:\s*"'

    def __init__(self, field: str):
        self._key = re.compile(self._KEY_RE_TEMPLATE.format(key=re.escape(field)))
        self._buf = ""
        self._state = "seek"      # seek -> value -> done
        self._pos = 0

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, fragment: str) -> str:
        """The newly decoded characters of the value (possibly '')."""
        self._buf += fragment or ""
        if self._state == "seek":
            match = self._key.search(self._buf)
            if match is None:
                return ""
            self._state, self._pos = "value", match.end()
        if self._state != "value":
            return ""
        out = []
        i = self._pos
        while i < len(self._buf):
            char = self._buf[i]
            if char == '"':
                self._state = "done"
                i += 1
                break
            if char == "\\":
                escape = self._escape(i)
                if escape is None:
                    break              # an escape cut by the fragment boundary: wait for more
                decoded, i = escape
                out.append(decoded)
                continue
            out.append(char)
            i += 1
        self._pos = i
        return "".join(out)

    def _escape(self, i: int) -> tuple[str, int] | None:
        buf = self._buf
        if i + 1 >= len(buf):
            return None
        kind = buf[i + 1]
        if kind != "u":
            return json.loads(f'"\\{kind}"') if kind in '"\\/bfnrt' else kind, i + 2
        if i + 6 > len(buf):
            return None
        code = buf[i + 2:i + 6]
        try:
            value = int(code, 16)
        except ValueError:                                # not JSON: skip the bad escape
            return "", i + 6
        if 0xD800 <= value <= 0xDBFF:            # a surrogate pair: both halves needed
            if i + 12 > len(buf):
                return None
            return json.loads(f'"{buf[i:i + 12]}"'), i + 12
        return json.loads(f'"\\u{code}"'), i + 6
