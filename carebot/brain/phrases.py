"""Deterministic phrase spotting for stop and emergency requests (English, Mandarin).

Pure functions, no model, no I/O: the speech node uses them for barge-in and the
brain's safety layer uses them before any LLM is asked, so they work with the LLM
down. Emergencies are the distress rules of ``carebot.brain.distress`` (symptoms,
calls for help, falls, fire ...); this module adds the stop commands. Matching is
done on the normalised forms of ``carebot.brain.utterance``: Unicode NFKC (folds
full-width letters and punctuation), lower case, punctuation and filler words
removed, runs of whitespace collapsed. English is matched on word boundaries,
Mandarin (no spaces) on substrings with guards for look-alikes (停车场, bus stop).

Typical use::

    kind = classify(text)          # PhraseKind.STOP / EMERGENCY / NONE
    if is_stop_phrase(text): ...
"""
from __future__ import annotations

import re
from enum import Enum

from carebot.brain.distress import detect as detect_distress
from carebot.brain.utterance import Utterance, normalize

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

# --- stop ------------------------------------------------------------------------------
# A stop phrase is (nearly) the whole utterance, an explicit command form, or a command
# that opens the utterance and says why ("stop, you are blocking the door"):
# "stop" or "stop moving" yes, "which bus stop is near" or "I stopped smoking" no.
_EN_STOP_WHOLE = (
    r"stop", r"stop stop", r"stop stop stop", r"halt", r"freeze", r"wait", r"hold on",
    r"stop it", r"stop that", r"stop there", r"stop here", r"stop moving", r"stop now",
    r"stop the robot", r"emergency stop", r"e stop", r"estop", r"don t move",
    r"dont move", r"do not move", r"no stop", r"no no", r"no no no", r"stand still",
    r"stay still", r"cancel", r"abort", r"enough", r"shut up", r"be quiet", r"quiet",
    r"stop talking", r"stop speaking", r"wait wait", r"hold it", r"stay there", r"stay back",
    r"back", r"back back", r"go back", r"no more", r"that s enough", r"thats enough", r"not now",
)
# Words that make "stop ..." at the start of an utterance an errand or a noun, not a command.
_EN_STOP_NOT_COMMAND = (r"by|at|off|over|in|into|for|sign|signs|button|buttons|point|light|lights|watch|"
                        r"clock|gap|smoking|drinking|eating|worrying|being|the (?:tap|leak|dripping|noise "
                        r"upstairs)|me from|them from|him from|her from")
_EN_STOP_ANYWHERE = (
    r"\bemergency stop\b",
    r"\b(?:stop|halt) (?:moving|the robot|right there|right now|immediately|driving|rolling)\b",
    r"\b(?:please|robot|hey|oi|i said|i told you to|just|you must|can you|could you|would you) (?:just )?stop"
    r"(?: it| that| there| now| moving| please| right now)?$",
    r"\b(?:please|robot|hey|oi|i said|i told you to) stop\b",
    r"\b(?:stop|halt) (?:now|it|that|right now|please|it now|that now)$",
    r"^(?:(?:no|hey|oi|robot|please|wait|whoa|woah|ow|ouch|careful) )*(?:stop|halt|freeze)\b(?! (?:" +
    _EN_STOP_NOT_COMMAND + r")\b)",
    r"\bstop stop\b",
    r"\byou re (?:going to |gonna |about to )?(?:hit|hitting|run (?:me )?over|running (?:me )?over|bump(?:ing)? "
    r"into|crash(?:ing)? into|knock(?:ing)? me|stand(?:ing)? on|on) (?:me|my)\b",
    r"\byou (?:are|re) (?:too close|in my way|in the way|blocking|on my (?:foot|feet|toes))\b",
    r"\btoo close\b", r"\bnot so close\b", r"\bthat s close enough\b|\bclose enough\b",
    r"\bdo ?n t (?:move|come (?:any )?(?:closer|nearer|near|here|over here|towards me|at me))\b"
    r"|\bdo not (?:move|come (?:any )?(?:closer|nearer|near|here|towards me))\b|\bdont (?:move|come (?:any )?"
    r"(?:closer|nearer|near|here))\b",
    r"\bno (?:closer|nearer)\b",
    r"(?<!don t )(?<!dont )(?<!do not )(?<!never )(?<!t )\b(?:go|get|move|stay|keep|back) away\b(?! (?:from "
    r"(?:the|that|this) (?:door|window|stairs|edge|fire)|for (?:the|a) (?:weekend|week|holiday)|on holiday|to))",
    r"\bback (?:off|up|away)\b(?! (?:the|my|your|his|her|all|these|those|files?|photos?|pictures?|data|phone|"
    r"tablet|computer)\b)",
    r"\b(?:move|step|go|get) back\b(?! (?:to|home|in|inside|into|there|later|tomorrow|upstairs|downstairs)\b)",
    r"\bstay back\b|\bkeep back\b|\bkeep your distance\b|\bleave me alone\b|\bget out of (?:my|the) way\b"
    r"|\bout of my way\b|\bgive me (?:some )?(?:space|room)\b",
    r"\bwatch out\b|\bmind (?:my|your|the) (?:feet|foot|toes|legs?|stick|frame|walker)\b|\bcareful\b(?! with (?:the|my) "
    r"(?:tea|cup|plate))",
    r"\b(?:stop|quit|enough) (?:talking|speaking|chattering|blabbering|it)\b",
)
_ZH_STOP_WHOLE = ("停", "停下", "停下来", "停下來", "停止", "停住", "站住", "别动", "別動",
                  "不要动", "不要動", "别走", "等等", "等一下", "停停", "停停停", "住手",
                  "急停", "紧急停止", "緊急停止", "别说了", "別說了", "安静", "闭嘴", "取消",
                  "够了", "好了好了", "行了行了", "别", "不要", "回去", "后退", "退后")
_ZH_STOP_ANYWHERE = ("停下", "停止", "别动", "別動", "不要动", "急停", "紧急停止", "緊急停止",
                     "快停", "给我停", "站住", "停停", "别过来", "不要过来", "别再过来", "不许过来", "别靠近",
                     "不要靠近", "别再靠近", "别靠过来", "不要靠过来", "别往前", "不要往前", "不要再往前",
                     "别再往前", "走开", "滚开", "让开", "离我远", "离远点", "远一点", "退后", "往后退", "后退",
                     "退一退", "退开", "别跟着我", "不要跟着我", "别跟了", "别撞", "要撞到", "撞到我", "撞着我",
                     "轧到", "压到我", "踩到我", "挡住我", "挡着我", "挡住门", "挡着门", "挡住路", "挡着路", "挡道",
                     "别挡", "你挡", "别说了", "不要说了", "别讲了", "不要讲了", "别吵", "闭嘴", "太近了", "靠太近",
                     "别再走了", "不要再走了", "别走了", "停一停", "先停", "你停", "请停", "不要再动", "别再动",
                     "不许动", "说了停", "叫你停", "让你停", "说停")
# Words in which 停 does not mean stop (parking, a bus stop, non-stop, power cut, rain stops).
_ZH_STOP_FALSE = ("停车", "停車", "停车场", "不停", "停留", "停电", "暂停营业", "停业", "停办", "雨停", "停水",
                  "停药", "停诊", "停课", "停播", "停靠", "车站", "停了吗", "停不停")
# "停一下，你挡住门了": an utterance that opens with 停 (and is not one of the words above).
_ZH_STOP_OPENING = re.compile(r"^(?:(?:请|你|快|先|赶紧|马上|喂|哎|诶|嘿|机器人|快点)*)停")

_EN_STOP_ANYWHERE_RE = tuple(re.compile(p) for p in _EN_STOP_ANYWHERE)


def _cjk_only(norm: str) -> str:
    """The text with spaces removed (Mandarin matching ignores spacing from ASR)."""
    return norm.replace(" ", "")


def _strip_fillers(norm: str) -> str:
    words = [w for w in norm.split(" ") if w and w not in _EN_FILLERS]
    text = " ".join(words)
    compact = _cjk_only(text)
    if re.search(r"[\u3400-\u9fff]", compact):
        # Remove Mandarin fillers, longest first so 快点 goes before 快.
        for filler in sorted(_ZH_FILLERS, key=len, reverse=True):
            compact = compact.replace(filler, "")
        latin = " ".join(w for w in text.split(" ") if w and not re.search(r"[\u3400-\u9fff]", w))
        return (latin + " " + compact).strip() if latin else compact
    return text


def _stop(u: Utterance) -> str:
    core = _strip_fillers(u.words)
    if core in _EN_STOP_WHOLE:
        return core
    compact = _cjk_only(core)
    if compact and compact in _ZH_STOP_WHOLE:
        return compact
    for pattern in _EN_STOP_ANYWHERE_RE:
        if pattern.search(u.words):
            return pattern.pattern[:60]
    for full in filter(None, (u.compact, u.repaired)):
        if any(false in full for false in _ZH_STOP_FALSE):
            continue
        for phrase in _ZH_STOP_ANYWHERE:
            if phrase in full:
                return phrase
        if _ZH_STOP_OPENING.search(full):
            return "停…"
    return ""


def match(text: str | Utterance) -> PhraseMatch:
    """Classify a transcript; emergency wins over stop ("stop, I fell" is an emergency,
    and the brain stops the robot for an emergency as well)."""
    u = text if isinstance(text, Utterance) else Utterance.of(text)
    if u.empty:
        return PhraseMatch(PhraseKind.NONE)
    distress = detect_distress(u)
    if distress is not None:
        return PhraseMatch(PhraseKind.EMERGENCY, distress.evidence)
    hit = _stop(u)
    if hit:
        return PhraseMatch(PhraseKind.STOP, hit)
    return PhraseMatch(PhraseKind.NONE)


def classify(text: str) -> PhraseKind:
    """PhraseKind of a transcript (NONE, STOP or EMERGENCY)."""
    return match(text).kind


def is_stop_phrase(text: str | Utterance) -> bool:
    """True when the text asks the robot to stop (moving or talking) at once.

    An emergency phrase that also says stop counts as stop too: barge-in should
    silence the robot either way.
    """
    u = text if isinstance(text, Utterance) else Utterance.of(text)
    return not u.empty and bool(_stop(u))


def is_emergency_phrase(text: str | Utterance) -> bool:
    """True when the text is a call for help or other distress (a fall, a nurse, 救命, my chest hurts ...)."""
    return detect_distress(text) is not None
