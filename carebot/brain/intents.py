"""Deterministic intent spotting for the common requests (English, Mandarin).

Covers what a rule can decide reliably: going somewhere, where something is,
gestures, asking for a member of staff, reminders, greetings and thanks. Anything
else goes to knowledge retrieval and then to the LLM. Places are matched against
the site's named places and their aliases (carebot.world), so a new site needs
no code change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from carebot.brain.phrases import normalize


class IntentKind(str, Enum):
    NONE = "none"
    NAVIGATE = "navigate"     # take me to X
    WHERE = "where"           # where is X
    GESTURE = "gesture"       # wave, nod, point, hand over
    STAFF = "staff"           # I'd like to talk to a member of staff (not an emergency)
    REMINDER = "reminder"     # remind me to ... at ...
    GREETING = "greeting"
    THANKS = "thanks"
    FETCH = "fetch"           # bring me a glass of water


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    place: str = ""           # canonical place name mentioned, '' if none
    gesture: str = ""
    detail: str = ""          # reminder text etc.


class PlaceIndex:
    """Finds mentions of a site's named places (names and aliases) in a request."""

    def __init__(self, places: dict[str, Iterable[str]]):
        pairs = []
        for name, aliases in places.items():
            for alias in (name, name.replace("_", " "), *aliases):
                key = normalize(alias)
                if key:
                    pairs.append((key, name))
        # Longest alias first: "counter 2" before "2", "nurse station" before "nurse".
        self._pairs = sorted(set(pairs), key=lambda p: len(p[0]), reverse=True)
        self.names = tuple(places)

    def resolve(self, text: str) -> str | None:
        """The canonical place of an exact name or alias, or None."""
        key = normalize(text)
        return next((name for alias, name in self._pairs if alias == key), None)

    def find(self, text: str) -> str:
        """The canonical place mentioned in the text, '' if none."""
        norm = normalize(text)
        compact = norm.replace(" ", "")
        for alias, name in self._pairs:
            if re.search(r"[\u3400-\u9fff]", alias):
                if alias.replace(" ", "") in compact:
                    return name
            elif alias.isdigit():
                if re.search(r"(?:room|counter|window|number|no) " + alias + r"\b", norm) or \
                        re.search(r"(?<!\d)" + alias + r"(?:号|房|室)", compact):
                    return name
            elif re.search(r"\b" + re.escape(alias) + r"s?\b", norm):
                return name
        return ""


_EN_NAVIGATE = re.compile(
    r"\b(?:take|bring|lead|guide|walk|escort|accompany|show) (?:me|us|him|her|them|my \w+)\b"
    r"|\b(?:i|we) (?:want|would like|d like|need|wanna) to (?:go|get) (?:to|back)\b"
    r"|^(?:please |can you |could you )?(?:go|drive|move|come|head|return) (?:back )?(?:to|home)\b"
    r"|\bshow me the way\b|\bfollow you\b")
_ZH_NAVIGATE = ("带我去", "带我到", "带我们去", "领我去", "领我到", "送我去", "送我到", "送我回", "带我回", "陪我去",
                "陪我回", "领我回", "我要回", "我想回", "我要去",
                "我想去", "带路", "带我过去", "回去充电", "去充电", "回充电", "我要到", "我想到")
_ZH_GO_IMPERATIVE = re.compile(r"^(?:请)?(?:你)?(?:去|到|回)")
# A wish to go where no robot can lead: the home town ("我想回老家看看", "I'd love to get back to my
# home town"). With no place of the site named, it is not a request to be led (the companion answers).
_BEYOND_THE_SITE = re.compile(r"老家|家乡|故乡|\bhome ?town\b|\bwhere i grew up\b|\bold (?:house|home|street)\b"
                              r"|\b(?:village|country) i (?:grew up|was born)\b")
_EN_WHERE = re.compile(r"\bwhere (?:is|are|s|can i find|do i find|would i find)\b|\bhow (?:do|can|would) (?:i|we) get to\b"
                       r"|\bwhich way (?:is|to)\b|\bdirections? to\b|\bi m looking for\b|\bi am looking for\b|\bi can ?t find\b")
_ZH_WHERE = ("在哪", "在什么地方", "怎么走", "怎么去", "在几楼", "找不到")
_GESTURES_EN = (("wave", re.compile(r"\bwave\b|\bsay hello with\b")),
                ("nod", re.compile(r"\bnod\b")),
                ("handover", re.compile(r"\b(?:hand|pass|give) (?:me|it|this|that)\b|\bhandover\b|\bhand over\b")),
                ("point", re.compile(r"\bpoint (?:to|at|me)\b|\bpoint\b")))
_GESTURES_ZH = (("wave", ("挥手", "招手", "挥挥手", "摆摆手")), ("nod", ("点头", "点点头")),
                ("handover", ("递给我", "拿给我", "交给我", "递一下")), ("point", ("指给我", "指一下", "指指")))
_EN_STAFF = re.compile(
    r"\b(?:talk|speak) (?:to|with) (?:a |the |an )?(?:staff|member of staff|person|human|real person|someone|"
    r"somebody|manager|supervisor|carer|caregiver|officer|clerk)\b"
    r"|\b(?:i want|i d like|i would like|can i see|i need|get me|find me|call) (?:a |the |an )?(?:staff|"
    r"member of staff|staff member|human|real person|carer|caregiver|supervisor|manager|clerk|officer)\b"
    r"|\bcomplain\b|\bcomplaint\b")
_ZH_STAFF = ("找工作人员", "叫工作人员", "人工服务", "转人工", "找人工", "找护工", "叫护工", "找经理", "找领导", "投诉",
             "工作人员过来", "叫个人来", "找个人")
# "想找个人说说话" (someone to talk to) wishes for company, not for staff: the companion answers
# (and may offer a call to family or staff). "找个人来帮我" stays a staff request.
_ZH_COMPANY_WISH = re.compile(r"找(?:个)?人(?:来)?(?:说说?话|聊聊?天?|聊一聊|陪(?:陪)?我)")
# "bring me a glass of water" (not "bring me to the lounge"): the item is the detail.
_EN_FETCH = re.compile(
    r"\b(?:bring|fetch|get|grab) (?:me|us|him|her|them) (?!to\b|back\b|there\b|home\b|over\b|out\b|up\b)"
    r"(?:a |an |some |the |my |another |one )?(?:glass of |cup of |bottle of |piece of |pair of |few )?"
    r"([a-z]+(?: [a-z]+)?)")
_ZH_FETCH = re.compile(r"(?:给我|帮我|替我|请你)?(?:拿|倒|端|取|送|带)(?:一下)?(?:一|两|几)?(?:杯|瓶|个|份|本|张|条|碗|点|些)?"
                       r"(?:来)?([\u4e00-\u9fff]{1,4})")
_ZH_FETCH_TRIGGER = ("给我拿", "帮我拿", "给我倒", "帮我倒", "给我端", "帮我端", "给我来", "帮我取", "给我带", "帮我带",
                     "拿一杯", "倒一杯", "拿杯", "倒杯")
_EN_AFFIRM = re.compile(r"^(?:please(?: do)?$|yes|yeah|yep|yup|sure|ok|okay|go ahead|alright|all right|"
                        r"let s go|lead the way|show me|take me there|that would be great|why not)\b")
_ZH_AFFIRM = ("好的", "好啊", "好吧", "是的", "可以", "行", "麻烦你", "麻烦您", "带我去吧", "带我过去", "走吧", "谢谢你带",
              "那就去", "好")
_EN_DECLINE = re.compile(r"^(?:no|nope|no thanks|no thank you|not now|i m fine|that s ok|never mind)\b")
_ZH_DECLINE = ("不用", "不要", "不了", "算了", "不必")
_ZH_NO = ("不行", "不好", "不可以", "不是", "别")       # a no when it opens the answer; never part of a yes
# A Mandarin yes opens the answer (after a filler): 好 and 行 also live inside other words and
# say "so" in 好无聊 / 我好孤单 (so bored, so lonely); 银行 is a bank. A lone 好/行 is a yes only
# when nothing but a particle (or another yes) follows it.
_ZH_FILLERS = ("那就", "嗯", "噢", "哦", "喔", "啊", "那")
_ZH_SINGLE_AFFIRM = ("好", "行")
_ZH_PARTICLES = "的啊吧呀嘞哇呢哈了"


def _openings(compact: str) -> list[str]:
    """The answer as said, and without a filler that opens it (嗯，好的 -> 好的)."""
    return [compact] + [compact[len(f):] for f in _ZH_FILLERS if compact.startswith(f) and len(compact) > len(f)]


def _zh_yes(compact: str) -> bool:
    for opening in _openings(compact):
        for word in _ZH_AFFIRM:
            if not opening.startswith(word):
                continue
            rest = opening[len(word):]
            if word not in _ZH_SINGLE_AFFIRM or not rest or rest[0] in _ZH_PARTICLES or rest[0] in _ZH_SINGLE_AFFIRM \
                    or any(rest.startswith(a) for a in _ZH_AFFIRM if a not in _ZH_SINGLE_AFFIRM):
                return True
    return False


def is_affirmative(text: str) -> bool:
    """A "yes please" / 好的: accepting what the robot just offered."""
    norm = normalize(text)
    compact = norm.replace(" ", "")
    if not norm or _EN_DECLINE.search(norm) or any(d in compact for d in _ZH_DECLINE + _ZH_NO):
        return False
    return bool(_EN_AFFIRM.search(norm)) or (len(compact) <= 8 and _zh_yes(compact))


def is_declined(text: str) -> bool:
    """A "no thanks" / 不用了: declining what the robot just offered or asked."""
    norm = normalize(text)
    compact = norm.replace(" ", "")
    zh_no = len(compact) <= 8 and (any(d in compact for d in _ZH_DECLINE)
                                   or any(o.startswith(n) for o in _openings(compact) for n in _ZH_NO))
    return bool(norm) and (bool(_EN_DECLINE.search(norm)) or zh_no or norm in ("no", "nah", "don t", "please don t"))


# "Pardon?" / 再说一遍: the robot says its last reply again, more slowly.
_EN_REPEAT = re.compile(r"^(?:pardon|sorry|what|eh|huh|excuse me|come again|say again)(?: me)?$|\bi beg your pardon\b"
                        r"|\bsay (?:that|it) again\b|\bwhat did you (?:just )?say\b|\b(?:didn t|did not|couldn t|could not) "
                        r"(?:quite )?(?:catch|hear|understand|get) (?:that|you|it|what you said)\b|\b(?:can|could|would) you "
                        r"(?:please )?(?:repeat|say) (?:that|it|yourself)(?: again)?\b|\brepeat (?:that|it|yourself)(?: please)?$"
                        r"|\bone more time please\b|\bspeak (?:more )?slow(?:er|ly)\b")
_ZH_REPEAT = ("再说一遍", "再说一次", "再讲一遍", "你说什么", "你刚才说什么", "没听清", "没听清楚", "没听见", "没听到",
              "请重复", "重复一遍", "重复一下", "说慢一点", "说慢点", "慢点说", "听不清")


def is_repeat_request(text: str) -> bool:
    """True for "pardon?", "say that again", 再说一遍, 没听清: repeat the last reply."""
    norm = normalize(text)
    if not norm:
        return False
    compact = norm.replace(" ", "")
    return bool(_EN_REPEAT.search(norm)) or any(k in compact for k in _ZH_REPEAT) or compact in ("啊", "什么", "嗯")


def fetch_item(text: str) -> str:
    """The item of a fetch request ("bring me a glass of water" -> "water"), '' if none."""
    norm = normalize(text)
    m = _EN_FETCH.search(norm)
    if m:
        return m.group(1).strip()
    compact = norm.replace(" ", "")
    if any(t in compact for t in _ZH_FETCH_TRIGGER):
        m = _ZH_FETCH.search(compact)
        if m:
            return re.sub(r"(?:吧|吗|呢|啊|呀|好吗|可以吗|过来|来)+$", "", m.group(1)) or m.group(1)
    return ""


_EN_REMIND = re.compile(r"\bremind (?:me|him|her|us|them)\b|\bset (?:a |an )?(?:reminder|alarm)\b|\breminder\b")
_ZH_REMIND = ("提醒我", "提醒一下", "提醒他", "提醒她", "设个提醒", "设置提醒", "定个闹钟", "叫我")
_EN_GREETING = re.compile(r"^(?:hello|hi|hey|good (?:morning|afternoon|evening)|nice to meet you|how are you)\b")
_ZH_GREETING = ("你好", "您好", "早上好", "下午好", "晚上好", "早安", "嗨")
_EN_THANKS = re.compile(r"^(?:thank you|thanks|thank you very much|bye|goodbye|see you)\b")
_ZH_THANKS = ("谢谢", "多谢", "再见", "拜拜")
_QUESTION_EN = re.compile(r"^(?:what|when|where|which|who|how|why|is|are|do|does|can|could|may|will|should)\b|\?$")
_QUESTION_ZH = ("吗", "什么", "几点", "哪", "怎么", "多少", "谁", "是否", "能不能", "可不可以", "有没有", "？", "?")


def is_question(text: str) -> bool:
    """True when the request asks for information (not a command or small talk)."""
    stripped = (text or "").strip()
    norm = normalize(stripped)
    return bool(_QUESTION_EN.search(norm) or stripped.endswith("?") or
                any(q in stripped for q in _QUESTION_ZH))


def _reminder_detail(norm: str, compact: str) -> str:
    m = re.search(r"\bremind (?:me|him|her|us|them) (?:to |that |about |of )?(.+?)"
                  r"(?: at \d.*| in \w+ (?:minute|minutes|hour|hours).*| tomorrow.*| tonight.*)?$", norm)
    if m:
        return m.group(1).strip()
    for key in _ZH_REMIND:
        if key in compact:
            rest = compact.split(key, 1)[1]
            rest = re.sub(r"^(?:在|于)?(?:凌晨|早上|上午|中午|下午|傍晚|晚上)?[0-9零〇一二两三四五六七八九十]+(?:点|點|时)(?:半|[0-9零一二三四五六七八九十]+分?)?", "", rest)
            rest = re.sub(r"^[0-9零〇一二两三四五六七八九十]+(?:分钟|个小时|小时)(?:以)?后", "", rest)
            return rest.strip() or compact
    return norm


def detect_intent(text: str, places: PlaceIndex) -> Intent:
    """The rule-decidable intent of a request, IntentKind.NONE when rules cannot tell."""
    norm = normalize(text)
    if not norm:
        return Intent(IntentKind.NONE)
    compact = norm.replace(" ", "")
    words = len(norm.split())
    place = places.find(text)
    if _EN_REMIND.search(norm) or any(k in compact for k in _ZH_REMIND):
        return Intent(IntentKind.REMINDER, place, detail=_reminder_detail(norm, compact))
    if _EN_STAFF.search(norm) or (any(k in compact for k in _ZH_STAFF) and not _ZH_COMPANY_WISH.search(compact)):
        return Intent(IntentKind.STAFF, place)
    item = fetch_item(text)
    if item:
        return Intent(IntentKind.FETCH, place, detail=item)
    if (_EN_NAVIGATE.search(norm) or any(k in compact for k in _ZH_NAVIGATE) or
            (place and _ZH_GO_IMPERATIVE.search(compact) and len(compact) <= 8)) and \
            (place or not _BEYOND_THE_SITE.search(norm)):
        return Intent(IntentKind.NAVIGATE, place)
    if _EN_WHERE.search(norm) or any(k in compact for k in _ZH_WHERE):
        return Intent(IntentKind.WHERE, place)
    for name, pattern in _GESTURES_EN:
        if pattern.search(norm):
            return Intent(IntentKind.GESTURE, place, gesture=name)
    for name, keys in _GESTURES_ZH:
        if any(k in compact for k in keys):
            return Intent(IntentKind.GESTURE, place, gesture=name)
    if (words <= 6 and _EN_GREETING.search(norm)) or (len(compact) <= 6 and any(g in compact for g in _ZH_GREETING)):
        return Intent(IntentKind.GREETING)
    if (words <= 6 and _EN_THANKS.search(norm)) or (len(compact) <= 6 and any(g in compact for g in _ZH_THANKS)):
        return Intent(IntentKind.THANKS)
    return Intent(IntentKind.NONE, place)
