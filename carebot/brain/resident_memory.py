"""What residents chose to tell the robot, kept per resident in SQLite, with consent.

Not the conversation (``memory.py`` holds the last turns, in RAM only): the few facts a
resident tells about their life - their name, family names, what they like, the job
they had, where they grew up - so the robot can ask after "your daughter Mary" next
week. The rules:

- **Consent first.** A fact is written only for a resident who said yes: the robot
  asks the first time ("Shall I remember that ...?"); "remember that ..." is a yes
  for that fact. A no is kept too (the robot does not ask again until the resident
  says "remember ..." themselves). No speaker id, no memory.
- **Local.** One SQLite file on the robot (``resident_memory_path``); nothing else
  is written. Facts reach a cloud LLM only when the site allows it
  (``resident_memory_to_cloud``); a local LLM gets them as data.
- **Listed and forgotten on request.** Staff list what is kept (``carebot residents
  list``); "forget what I told you" / "忘掉我说的" removes the resident's facts and
  their consent at once.

``extract_facts`` (pure) finds the facts in an utterance, English and Mandarin.
"""
from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from carebot.brain.utterance import normalize

log = logging.getLogger("carebot.brain.resident_memory")

SCHEMA_VERSION = 1
MAX_FACTS_PER_RESIDENT = 50     # oldest dropped beyond this: a memory, not a file on the person
MAX_VALUE_CHARS = 60


@dataclass(frozen=True)
class Fact:
    """One thing a resident told: ``kind`` name | family | likes | job | hometown."""

    kind: str
    value: str
    relation: str = ""          # family: daughter, son, wife ... (English key)
    language: str = "en"

    def describe(self, language: str) -> str:
        """The fact as a short phrase ("your daughter Mary", "您的女儿小梅")."""
        zh = language == "zh"
        if self.kind == "family":
            rel = RELATION_ZH.get(self.relation, self.relation) if zh else self.relation
            return f"您的{rel}{self.value}" if zh else f"your {rel} {self.value}"
        label = {"name": ("your name is", "您叫"), "likes": ("you like", "您喜欢"),
                 "job": ("you worked", "您以前"), "hometown": ("you come from", "您的老家是")}[self.kind]
        return f"{label[1]}{self.value}" if zh else f"{label[0]} {self.value}"

    def statement(self, language: str) -> str:
        """The fact as a clause ("your daughter is called Mary", "您的女儿叫小梅")."""
        if self.kind == "family":
            if language == "zh":
                return f"您的{RELATION_ZH.get(self.relation, self.relation)}叫{self.value}"
            return f"your {self.relation} is called {self.value}"
        return self.describe(language)


# ------------------------------------------------------------------ extraction (pure)
RELATION_ZH = {"daughter": "女儿", "son": "儿子", "wife": "老伴", "husband": "老伴", "grandson": "孙子",
               "granddaughter": "孙女", "sister": "姐妹", "brother": "兄弟", "mother": "母亲", "father": "父亲",
               "friend": "朋友"}
_ZH_RELATIONS = {"女儿": "daughter", "闺女": "daughter", "儿子": "son", "孙子": "grandson", "外孙": "grandson",
                 "孙女": "granddaughter", "外孙女": "granddaughter", "老伴": "wife", "老婆": "wife", "妻子": "wife",
                 "爱人": "wife", "老公": "husband", "丈夫": "husband", "姐姐": "sister", "妹妹": "sister",
                 "哥哥": "brother", "弟弟": "brother", "妈妈": "mother", "母亲": "mother", "爸爸": "father",
                 "父亲": "father", "朋友": "friend"}
_EN_REL = (r"(daughter|son|wife|husband|grandson|granddaughter|sister|brother|mother|mum|mom|father|dad|friend|"
           r"partner)")
_EN_NAME = r"([a-z][a-z\-]{1,20}(?: [a-z][a-z\-]{1,20})?)"
_EN_FAMILY = (re.compile(rf"\bmy {_EN_REL} s name is {_EN_NAME}\b"),
              re.compile(rf"\bmy {_EN_REL} is called {_EN_NAME}\b"),
              re.compile(rf"\bmy {_EN_REL} (?:named|called) {_EN_NAME}\b"),
              re.compile(rf"\bmy {_EN_REL} {_EN_NAME} (?:is|was|lives|visits|comes|works|has|had)\b"))
_EN_NAME_RE = re.compile(rf"\b(?:my name is|call me|i am called|i m called) {_EN_NAME}\b")
_EN_LIKES = re.compile(r"\bi (?:really |do )?(?:like|love|enjoy|adore) ((?:[a-z]+ ?){1,5})")
_EN_JOB = (re.compile(r"\bi (?:used to |once )?work(?:ed)? (as (?:a |an )?[a-z ]{3,40}|on the [a-z ]{3,40}|in (?:a |an |the )?"
                      r"[a-z ]{3,40}|at (?:a |an |the )?[a-z ]{3,40}|for (?:a |an |the )?[a-z ]{3,40})"),
           re.compile(r"\bi was (?:a |an )([a-z ]{3,30}?)(?: for \d+| for (?:many|forty|thirty|twenty) years|$)"),
           re.compile(r"\bi used to be (?:a |an )([a-z ]{3,30})"))
_EN_HOME = re.compile(r"\bi (?:grew up|was born|come) (?:in|from) ([a-z ]{3,30})")
_WORD_STOP = re.compile(r"\b(?:and|but|so|because|when|too|very|much|lot|a lot|today|now|here|you know|though)\b.*$")
_PLACE_STOP = re.compile(r"\b(?:in|on|at|with|every|for)\b.*$")   # "a cup of tea in the afternoon" -> "a cup of tea"
_NOT_NAMES = frozenset("is was a an the very so not coming visiting here there lives works she he they it who that which "
                       "and but has had came comes used never always still".split())

_ZH_FAMILY = re.compile("(" + "|".join(sorted(_ZH_RELATIONS, key=len, reverse=True)) +
                        r")(?:的名字)?叫([\u4e00-\u9fffA-Za-z]{1,4}?)(?:[，。,.!！？?]|$|今年|在|是|很|每|也|呢|啊|了|吧)")
_ZH_NAME = re.compile(r"^(?:我叫|我的名字是|我名字叫|叫我)([\u4e00-\u9fff]{1,4}?)(?:[，。,.!！]|$|就行|就好|吧)")
_ZH_LIKES = re.compile(r"我(?:很|最|特别|挺|非常)?(?:喜欢|爱)([\u4e00-\u9fff]{1,8}?)(?:[，。,.!！？?]|$|了|的|啊|呢)")
# Mandarin job facts keep their verb ("是老师", "在铁路上工作"): "您以前" + value reads right.
_ZH_JOB = (re.compile(r"我(?:以前|原来|过去|年轻的?时候|退休前)((?:是|当过|做过|干过)(?:一名|一个|个)?[\u4e00-\u9fff]{2,8}?)"
                      r"(?:[，。,.!！]|$|的|了|呢|啊)"),
           re.compile(r"我(?:以前|原来|过去|年轻的?时候|退休前)((?:在|是在)[\u4e00-\u9fff]{2,10}?(?:工作|上班|做事|干活))"))
_ZH_HOME = re.compile(r"我(?:老家是|老家在|是从|出生在|在|是)([\u4e00-\u9fff]{2,6}?)(?:人|来的|长大|出生)")
_ZH_NOT_PLACES = ("老年", "普通", "退休", "一个", "外地", "本地", "这里", "年轻", "好")


def _clean(value: str, places: bool = False) -> str:
    value = _WORD_STOP.sub("", value).strip()
    if places:
        value = _PLACE_STOP.sub("", value).strip()
    return value[:MAX_VALUE_CHARS]


def extract_facts(text: str, language: str = "") -> list[Fact]:
    """Facts a resident tells about themselves in one utterance (may be none)."""
    norm = normalize(text)
    if not norm:
        return []
    facts: list[Fact] = []
    if language == "zh" or re.search(r"[\u4e00-\u9fff]", norm):
        compact = re.sub(r"\s+", "", text)
        for match in _ZH_FAMILY.finditer(compact):
            facts.append(Fact("family", match.group(2), _ZH_RELATIONS[match.group(1)], "zh"))
        if (m := _ZH_NAME.search(compact)):
            facts.append(Fact("name", m.group(1), language="zh"))
        if (m := _ZH_LIKES.search(compact)) and not m.group(1).startswith(("你", "您", "这", "那")):
            facts.append(Fact("likes", m.group(1), language="zh"))
        for pattern in _ZH_JOB:
            if (m := pattern.search(compact)):
                facts.append(Fact("job", m.group(1), language="zh"))
                break
        if (m := _ZH_HOME.search(compact)) and not m.group(1).startswith(_ZH_NOT_PLACES):
            facts.append(Fact("hometown", m.group(1), language="zh"))
        return facts
    for i, pattern in enumerate(_EN_FAMILY):
        for match in pattern.finditer(norm):
            name = match.group(2).split()[0]
            # "my daughter Mary lives ..." needs the capital Whisper gives names ("my daughter she lives" names nobody).
            capitalised = re.search(rf"\b{re.escape(name)}\b", text, re.IGNORECASE)
            named = i < 3 or (capitalised is not None and capitalised.group(0)[0].isupper())
            if name not in _NOT_NAMES and named:
                relation = {"mum": "mother", "mom": "mother", "dad": "father"}.get(match.group(1), match.group(1))
                facts.append(Fact("family", name.capitalize(), relation, "en"))
    if (m := _EN_NAME_RE.search(norm)) and m.group(1).split()[0] not in _NOT_NAMES:
        facts.append(Fact("name", " ".join(w.capitalize() for w in m.group(1).split()), language="en"))
    if (m := _EN_LIKES.search(norm)):
        value = _clean(m.group(1), places=True)
        if value and not value.startswith(("you", "it", "that", "this", "to talk")):
            facts.append(Fact("likes", value, language="en"))
    for i, pattern in enumerate(_EN_JOB):
        if (m := pattern.search(norm)):
            value = _clean(m.group(1))
            if value and i > 0:          # "I was a nurse" -> "as a nurse" ("you worked as a nurse")
                value = f"as {'an' if value[0] in 'aeiou' else 'a'} {value}"
            if value:
                facts.append(Fact("job", value, language="en"))
            break
    if (m := _EN_HOME.search(norm)):
        value = _clean(m.group(1), places=True)    # "born in York in 1940" -> York
        if value:
            facts.append(Fact("hometown", value.title(), language="en"))
    # One fact per family relation (the first naming wins).
    seen, unique = set(), []
    for fact in facts:
        key = (fact.kind, fact.relation, fact.value.lower())
        if key not in seen:
            seen.add(key)
            unique.append(fact)
    return unique


_EN_FORGET = re.compile(r"\b(?:forget|delete|erase|wipe) (?:everything |all |what |anything )?(?:i (?:told|said|ve told)|"
                        r"about me|what you know about me|my (?:details|information|data))\b|\bforget (?:it )?all\b")
_ZH_FORGET = ("忘掉我说的", "忘了我说的", "忘记我说的", "把我说的都忘", "删掉我说的", "忘掉我告诉你的", "忘了我告诉你的",
              "删除我的信息", "别记我说的", "不要记住我说的", "忘掉关于我的")
_EN_REMEMBER = re.compile(r"^(?:please )?(?:remember|note|keep in mind|don t forget) (?:that )?")
_ZH_REMEMBER = ("记住", "你记一下", "帮我记着", "别忘了")


def is_forget_request(text: str) -> bool:
    """True for "forget what I told you" / 忘掉我说的: the resident withdraws what they told."""
    norm = normalize(text)
    return bool(_EN_FORGET.search(norm)) or any(k in norm.replace(" ", "") for k in _ZH_FORGET)


def is_remember_request(text: str) -> bool:
    """True for "remember that my daughter is called Mary" / 记住我女儿叫小梅: consent for this fact."""
    norm = normalize(text)
    return bool(_EN_REMEMBER.search(norm)) or norm.replace(" ", "").startswith(_ZH_REMEMBER)


# ------------------------------------------------------------------ the store
class ResidentMemory:
    """SQLite store of residents' consent and facts (thread-safe)."""

    def __init__(self, path: str | Path = ":memory:", clock=time.time):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.path = str(Path(self.path).expanduser())
        self._clock = clock
        self._lock = threading.Lock()
        if self.path != ":memory:":
            # Only the robot's own user reads what residents told (SQLite gives its WAL the same mode).
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(self.path, 0o600)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
            self._db.executescript(
                "CREATE TABLE IF NOT EXISTS consent (resident TEXT PRIMARY KEY, granted INTEGER NOT NULL, at REAL NOT NULL);"
                "CREATE TABLE IF NOT EXISTS facts (id INTEGER PRIMARY KEY AUTOINCREMENT, resident TEXT NOT NULL,"
                " kind TEXT NOT NULL, relation TEXT NOT NULL DEFAULT '', value TEXT NOT NULL,"
                " language TEXT NOT NULL DEFAULT 'en', at REAL NOT NULL, UNIQUE (resident, kind, relation, value));"
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def consent(self, resident: str) -> bool | None:
        """True (said yes), False (said no), None (never asked)."""
        with self._lock:
            row = self._db.execute("SELECT granted FROM consent WHERE resident = ?", (resident,)).fetchone()
        return None if row is None else bool(row[0])

    def set_consent(self, resident: str, granted: bool) -> None:
        if not resident:
            raise ValueError("consent needs a resident id")
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO consent VALUES (?, ?, ?)", (resident, int(granted), self._clock()))

    def remember(self, resident: str, facts: list[Fact]) -> int:
        """Keep facts of a resident who consented; returns how many are new. A single-valued
        kind (name, job, hometown) told again replaces the old value; family relations add up
        (two daughters are two facts; "forget" clears a wrong one with the rest)."""
        if not resident or not self.consent(resident):
            return 0
        new = 0
        with self._lock:
            for fact in facts:
                value = fact.value.strip()[:MAX_VALUE_CHARS]
                if not value:
                    continue
                if fact.kind in ("name", "job", "hometown"):
                    self._db.execute("DELETE FROM facts WHERE resident = ? AND kind = ? AND relation = ? AND value != ?",
                                     (resident, fact.kind, fact.relation, value))
                cursor = self._db.execute("INSERT OR IGNORE INTO facts (resident, kind, relation, value, language, at) "
                                          "VALUES (?, ?, ?, ?, ?, ?)",
                                          (resident, fact.kind, fact.relation, value, fact.language, self._clock()))
                new += cursor.rowcount
            self._db.execute("DELETE FROM facts WHERE resident = ? AND id NOT IN (SELECT id FROM facts WHERE resident = ? "
                             "ORDER BY at DESC, id DESC LIMIT ?)", (resident, resident, MAX_FACTS_PER_RESIDENT))
        log.debug("kept %d new fact(s) for a resident", new)
        return new

    def facts(self, resident: str) -> list[Fact]:
        """What a resident told, oldest first."""
        if not resident:
            return []
        with self._lock:
            rows = self._db.execute("SELECT kind, value, relation, language FROM facts WHERE resident = ? "
                                    "ORDER BY at, id", (resident,)).fetchall()
        return [Fact(kind, value, relation, language) for kind, value, relation, language in rows]

    def forget(self, resident: str) -> int:
        """Remove every fact and the consent of a resident; returns how many facts went."""
        with self._lock:
            gone = self._db.execute("DELETE FROM facts WHERE resident = ?", (resident,)).rowcount
            self._db.execute("DELETE FROM consent WHERE resident = ?", (resident,))
        return gone

    def residents(self) -> list[tuple[str, bool | None, int]]:
        """(resident, consent, number of facts) for every resident on record (staff listing)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT r.resident, c.granted, (SELECT COUNT(*) FROM facts f WHERE f.resident = r.resident) FROM "
                "(SELECT resident FROM consent UNION SELECT resident FROM facts) r LEFT JOIN consent c "
                "ON c.resident = r.resident ORDER BY r.resident").fetchall()
        return [(r, None if g is None else bool(g), n) for r, g, n in rows]
