"""Deterministic phrase spotting for stop and emergency requests (English, Mandarin).

Pure functions, no model, no I/O: the speech node uses them for barge-in and the
brain's safety layer uses them before any LLM is asked, so they work with the LLM
down. Matching is done on a normalised form of the text: Unicode NFKC (folds
full-width letters and punctuation), lower case, punctuation and filler words
removed, runs of whitespace collapsed. English is matched on word boundaries,
Mandarin (no spaces) on substrings with a few negation guards.

Typical use::

    kind = classify(text)          # PhraseKind.STOP / EMERGENCY / NONE
    if is_stop_phrase(text): ...
"""
from __future__ import annotations

import re
import unicodedata
from enum import Enum

__all__ = [
    "PhraseKind", "PhraseMatch", "normalize", "classify", "match",
    "is_stop_phrase", "is_emergency_phrase",
]


class PhraseKind(str, Enum):
    """What a transcript asks for, as far as the deterministic layer is concerned."""

    NONE = "none"
    STOP = "stop"
    EMERGENCY = "emergency"


class PhraseMatch(tuple):
    """(kind, matched pattern) - the pattern is kept for logs and tests."""

    __slots__ = ()

    def __new__(cls, kind: PhraseKind, pattern: str = ""):
        return super().__new__(cls, (kind, pattern))

    @property
    def kind(self) -> PhraseKind:
        return self[0]

    @property
    def pattern(self) -> str:
        return self[1]


# Filler words people put around a command ("um, please stop"); removed before the
# whole-utterance stop check so "uh stop please" still counts as a bare stop.
_EN_FILLERS = ("um", "uh", "erm", "er", "hmm", "ah", "oh", "please", "hey", "robot",
               "carebot", "ok", "okay", "now", "right", "just", "you", "the", "it", "so",
               "well", "like", "oi", "hello", "sir", "already", "immediately", "at", "once")
_ZH_FILLERS = ("嗯", "呃", "啊", "哎", "唉", "哦", "喂", "请", "你", "吧", "呀", "了", "吗",
               "啦", "嘛", "快", "快点", "马上", "立刻", "赶紧", "机器人", "一下", "先", "给我")

# --- emergency ---------------------------------------------------------------------
# English emergency patterns: regexes over the normalised text (word-bounded).
# "help" is an emergency unless it is a routine request ("can you help me find the
# dining room", "the help desk"): a task word after it or a polite question before it.
_HELP_TASK = (r"(?:with|to|for|find|finding|fill|filling|get|getting|understand|locate|read|"
              r"reading|carry|book|booking|renew|renewing|apply|applying|choose|about|on|in|"
              r"at|the|a|an|my|your|this|that|desk|counter|point|line|center|centre|"
              r"information|info|out|figure|check|look)")
_EN_EMERGENCY = (
    r"(?:^|\b(?:i need|i want|we need|need|somebody|someone|anyone|anybody|please|get|"
    r"send|call for|shout for|i m calling for|oh|god|urgent|quick|quickly)\s)"
    r"(?<!can you please )(?<!could you please )(?<!would you please )(?<!can t you please )"
    r"help(?: me| us| him| her)?\b(?! (?:me |us |him |her )?" + _HELP_TASK + r"\b)",
    r"\b(?:i|we) (?:really )?need (?:some |urgent |immediate )help\b(?! " + _HELP_TASK + r"\b)",
    r"\bhelp me (?:get|stand) up\b",
    r"^(?:please |somebody |someone |oh |god )*help(?: me)?(?: please)?$",
    r"\bsos\b",
    r"\bmayday\b",
    r"\bemergency\b(?! stop| exit| exits| number)",
    r"\bi (?:have |ve |just )?(?:fell|fallen|falled|fall down|fell down|fell over|tripped|slipped)\b",
    r"\b(?:she|he|someone|somebody|my (?:wife|husband|mother|father|mum|mom|dad|friend)|they) (?:has |have |just )?(?:fell|fallen|collapsed|fainted)\b",
    r"\bi (?:can ?not|cant|can t|am unable to|m unable to) (?:get|stand) up\b",
    r"\bi (?:can ?not|cant|can t) (?:breathe|move my)\b",
    r"\bcall (?:a |the |for )?(?:nurse|doctor|ambulance|staff|carer|caregiver|someone|somebody|911|999|120)\b",
    r"\bget (?:a |the )?(?:nurse|doctor|ambulance)\b",
    r"\b(?:need|want) (?:a |the )?(?:nurse|doctor|ambulance)\b",
    r"\b(?:had|took|have had|just had) a (?:bad |nasty |little )?fall\b",
    # someone else down: "an old man fell down by the door", "a lady collapsed"
    r"\b(?:fell|has fallen|have fallen|had fallen|is lying) (?:down|over|on the floor|on the ground)\b",
    r"\b(?:collapsed|fainted|passed out|unconscious|not breathing|stopped breathing)\b",
    r"\bchest pain\b",
    r"\bheart attack\b",
    r"\bstroke\b",
    r"\b(?:i m|i am|im) (?:hurt|injured|bleeding|dizzy|going to faint|fainting)\b",
    r"\bi (?:hurt|injured) myself\b",
    r"\bhelp help\b",
)

# Mandarin emergency substrings (simplified and traditional where they differ).
_ZH_EMERGENCY = (
    "救命", "救救我", "帮帮我", "帮帮忙", "幫幫我", "快来人", "来人啊", "來人",
    "我摔倒了", "我摔倒", "摔倒了", "我跌倒了", "跌倒了", "我摔了", "摔了一跤", "跌了一跤",
    "起不来", "起不來", "站不起来", "站不起來", "爬不起来",
    "叫护士", "叫護士", "找护士", "喊护士", "叫医生", "叫醫生", "找医生", "叫救护车", "叫救護車",
    "打120", "打一二零", "喘不过气", "喘不上气", "呼吸困难", "胸口疼", "胸口痛", "心脏病",
    "中风", "晕倒", "昏倒", "昏迷", "没有呼吸", "没呼吸", "我受伤了", "流血了", "紧急情况", "緊急情況",
)
# "I didn't fall", "no need for a nurse": negated Mandarin phrases are not emergencies.
_ZH_NEGATIONS = ("没摔", "没有摔", "沒摔", "不用叫", "不需要叫", "别叫", "不要叫", "没跌", "没事")
_EN_NEGATIONS = (
    r"\b(?:did ?n ?t|didnt|did not|have not|haven ?t|havent|never) (?:fall|fallen|fell)\b",
    r"\b(?:no need to|do ?n ?t|dont|do not) call\b",
    r"\bnot an emergency\b",
    r"\bno emergency\b",
    r"\bdon ?t need (?:any )?help\b",
    r"\bi m fine\b|\bi am fine\b|\bim fine\b",
)

# --- stop ------------------------------------------------------------------------------
# A stop phrase must be (nearly) the whole utterance or an explicit command form:
# "stop" or "stop moving" yes, "which bus stop is near" no.
_EN_STOP_WHOLE = (
    r"stop", r"stop stop", r"stop stop stop", r"halt", r"freeze", r"wait", r"hold on",
    r"stop it", r"stop that", r"stop there", r"stop here", r"stop moving", r"stop now",
    r"stop the robot", r"emergency stop", r"e stop", r"estop", r"don t move",
    r"dont move", r"do not move", r"no stop", r"no no", r"no no no", r"stand still",
    r"stay still", r"cancel", r"abort", r"enough", r"shut up", r"be quiet", r"quiet",
    r"stop talking", r"stop speaking",
)
_EN_STOP_ANYWHERE = (
    r"\bemergency stop\b",
    r"\b(?:stop|halt) (?:moving|the robot|right there|right now|immediately)\b",
    r"\b(?:please|robot|hey) stop\b",
    r"\bstop stop\b",
    r"\byou re (?:going to )?hit(?:ting)? me\b",
    r"\bdo ?n t (?:move|come closer)\b|\bdo not (?:move|come closer)\b",
)
_ZH_STOP_WHOLE = ("停", "停下", "停下来", "停下來", "停止", "停住", "站住", "别动", "別動",
                  "不要动", "不要動", "别走", "等等", "等一下", "停停", "停停停", "住手",
                  "急停", "紧急停止", "緊急停止", "别说了", "別說了", "安静", "闭嘴", "取消")
_ZH_STOP_ANYWHERE = ("停下", "停止", "别动", "別動", "不要动", "急停", "紧急停止", "緊急停止",
                     "快停", "给我停", "站住", "停停")
# Words in which 停 does not mean stop (parking, a bus stop, non-stop).
_ZH_STOP_FALSE = ("停车", "停車", "停车场", "不停", "停留", "停电", "暂停营业", "停业", "停办")

_PUNCT_RE = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def normalize(text: str) -> str:
    """NFKC, lower case, punctuation -> space, apostrophes dropped, spaces collapsed."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", str(text)).lower()
    folded = folded.replace("'", " ").replace("\u2019", " ").replace("`", " ")
    folded = folded.replace("_", " ")
    folded = _PUNCT_RE.sub(" ", folded)
    return _SPACE_RE.sub(" ", folded).strip()


def _cjk_only(norm: str) -> str:
    """The text with spaces removed (Mandarin matching ignores spacing from ASR)."""
    return norm.replace(" ", "")


def _strip_fillers(norm: str) -> str:
    words = [w for w in norm.split(" ") if w and w not in _EN_FILLERS]
    text = " ".join(words)
    compact = _cjk_only(text)
    if _CJK_RE.search(compact):
        # Remove Mandarin fillers, longest first so 快点 goes before 快.
        for filler in sorted(_ZH_FILLERS, key=len, reverse=True):
            compact = compact.replace(filler, "")
        latin = " ".join(w for w in text.split(" ") if w and not _CJK_RE.search(w))
        return (latin + " " + compact).strip() if latin else compact
    return text


def _any(patterns, text: str) -> str:
    for pattern in patterns:
        if re.search(pattern, text):
            return pattern
    return ""


def _emergency(norm: str) -> str:
    compact = _cjk_only(norm)
    if _any(_EN_NEGATIONS, norm) or any(neg in compact for neg in _ZH_NEGATIONS):
        # A negated sentence can still carry a real emergency elsewhere ("I'm fine but
        # my husband fell"); only the unnegated patterns count then.
        stripped = norm
        for pattern in _EN_NEGATIONS:
            stripped = re.sub(pattern, " ", stripped)
        for neg in _ZH_NEGATIONS:
            compact = compact.replace(neg, "")
        norm = _SPACE_RE.sub(" ", stripped).strip()
    hit = _any(_EN_EMERGENCY, norm)
    if hit:
        return hit
    for phrase in _ZH_EMERGENCY:
        if phrase in compact:
            return phrase
    return ""


def _stop(norm: str) -> str:
    core = _strip_fillers(norm)
    if core in _EN_STOP_WHOLE:
        return core
    compact = _cjk_only(core)
    if compact in _ZH_STOP_WHOLE:
        return compact
    hit = _any(_EN_STOP_ANYWHERE, norm)
    if hit:
        return hit
    full = _cjk_only(norm)
    if not any(false in full for false in _ZH_STOP_FALSE):
        for phrase in _ZH_STOP_ANYWHERE:
            if phrase in full:
                return phrase
    return ""


def match(text: str) -> PhraseMatch:
    """Classify a transcript; emergency wins over stop ("stop, I fell" is an emergency,
    and the brain stops the robot for an emergency as well)."""
    norm = normalize(text)
    if not norm:
        return PhraseMatch(PhraseKind.NONE)
    hit = _emergency(norm)
    if hit:
        return PhraseMatch(PhraseKind.EMERGENCY, hit)
    hit = _stop(norm)
    if hit:
        return PhraseMatch(PhraseKind.STOP, hit)
    return PhraseMatch(PhraseKind.NONE)


def classify(text: str) -> PhraseKind:
    """PhraseKind of a transcript (NONE, STOP or EMERGENCY)."""
    return match(text).kind


def is_stop_phrase(text: str) -> bool:
    """True when the text asks the robot to stop (moving or talking) at once.

    An emergency phrase that also says stop counts as stop too: barge-in should
    silence the robot either way.
    """
    norm = normalize(text)
    return bool(norm) and bool(_stop(norm))


def is_emergency_phrase(text: str) -> bool:
    """True when the text is a call for help (a fall, a nurse, 救命 ...)."""
    norm = normalize(text)
    return bool(norm) and bool(_emergency(norm))
