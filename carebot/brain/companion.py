"""Companionship without an LLM: warm, varied replies in the speaker's language (pure).

Loneliness is the most common need of people in care homes. This layer answers
what a resident says for company - greetings, thanks, loneliness, boredom, missing
family, grief, low mood, memories of their life, asking for a story, a song's words
or a game - with a reply that acknowledges it, asks a follow-up question and, when
the topic comes back, offers something: an activity of the site's programme
(``programme:`` in knowledge.yaml, "I can take you there"), a call to family or a
member of staff to sit with them (a "yes" is then a staff call, as every offer of
staff in the brain).

Two ways to recognise a topic, cheapest first:
- ``detect``: rules on the normalised utterance (English on words, Mandarin on
  characters), ordered so grief wins over missing family over loneliness, and a
  request (story, song, game) over boredom;
- ``similar``: the nearest labelled example (``data/companion_examples.yaml`` plus
  the site's knowledge questions as "not social") by the multilingual e5 model the
  safety net already loaded, by a margin (e5's cosines bunch: rank, do not threshold).

Replies come from ``data/companion.yaml``; a person never hears the same sentence
twice in a row, and what a resident chose to have remembered (``resident_memory``)
makes the reply theirs ("How is your daughter Mary?").
"""
from __future__ import annotations

import re
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import yaml

from carebot.brain.utterance import Utterance

DATA_DIR = Path(__file__).resolve().parent / "data"
REPLIES_FILE = DATA_DIR / "companion.yaml"
EXAMPLES_FILE = DATA_DIR / "companion_examples.yaml"
SIMILARITY_MARGIN = {"e5": 0.02, "minilm": 0.05}   # nearest topic example must beat nearest "other" by this
TOPIC_MEMORY_S = 1800.0      # a topic raised again within this is "again": the robot offers something
PENDING_S = 180.0            # a riddle or an offer waits this long for its answer


class Topic(str, Enum):
    GREETING = "greeting"
    HOW_ARE_YOU = "how_are_you"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    LONELY = "lonely"
    BORED = "bored"
    MISSING_FAMILY = "missing_family"
    HOMESICK = "homesick"           # the home town or old home, far away ("我想回老家看看")
    GRIEF = "grief"
    LOW_MOOD = "low_mood"
    REMINISCENCE = "reminiscence"
    STORY = "story"
    SONG = "song"
    GAME = "game"
    BOARD_GAME = "board_game"       # chess, cards, mahjong: the robot cannot move pieces or hold cards
    GOOD_NEWS = "good_news"
    FAMILY_NEWS = "family_news"     # "my son rang this morning ...": news of any kind, asked about
    COMPLIMENT = "compliment"       # "you're a good listener", "小家伙，今天精神不错嘛"
    CHAT = "chat"


# ------------------------------------------------------------------ rules
_FAMILY_EN = (r"(?:wife|husband|son|daughter|children|kids|grandchildren|grandkids|grandson|granddaughter|"
              r"mother|mum|mom|father|dad|sister|brother|family|partner|friend|boy|girl|fella|missus|nephew|niece|"
              r"cousin|aunt|auntie|uncle|grandmother|grandfather|granny|grandma|grandad|grandpa|sister in law|"
              r"brother in law|son in law|daughter in law)")
_DEATH_EN = re.compile(r"\b(?:passed away|passed on|died|has gone|is gone|s gone|funeral|widow(?:ed|er)?|"
                       r"lost my|no longer with us|since (?:he|she) went)\b")
_PERSON_EN = re.compile(rf"\b(?:my|our|his|her) {_FAMILY_EN}\b|\b(?:he|she)\b|\blost my\b")
_BOARD_GAMES_EN = (r"(?:chess|draughts|checkers|cards|card game|cribbage|rummy|whist|bridge|poker|dominoes|dominos|"
                   r"mahjong|mah jong|scrabble|backgammon|ludo|snakes and ladders|monopoly|board game|board games)")
_EN_RULES: tuple[tuple[Topic, re.Pattern], ...] = (
    (Topic.HOMESICK, re.compile(
        r"\bhomesick\b|\bmiss(?:ing)? (?:my |the )?(?:home ?town|village|old (?:house|home|street|place)|"
        r"country|where i grew up)\b|\b(?:go|get|going|getting) back (?:home )?to (?:my |the )?(?:home ?town|village|"
        r"old (?:house|home|street|place)|where i grew up)\b|\bsee (?:my |the )?(?:home ?town|old (?:house|home|"
        r"street|place)|where i grew up) (?:again|one more time|once more)\b")),
    (Topic.MISSING_FAMILY, re.compile(
        rf"\bmiss(?:ing)? (?:my|our|the) (?:\w+ )?{_FAMILY_EN}|\bmiss(?:ing)? (?:home|my home|my house)\b"
        rf"|\bmy {_FAMILY_EN} (?:hasn t|haven t|never|doesn t|don t|didn t) (?:\w+ )?(?:called|visited|come|rung|"
        rf"phoned|written|rang|visit|call|ring)"
        rf"|\bwish my {_FAMILY_EN} (?:would|could|lived)")),
    (Topic.LONELY, re.compile(
        r"\blonel(?:y|iness)\b|\bso alone\b|\ball alone\b|\bfeel alone\b|\bon my own all\b|\bisolated\b"
        r"|\b(?:no one|nobody|noone) (?:ever )?(?:talks to me|to talk to|visits me|comes to see me|calls me|cares"
        r"|comes? (?:for|to visit) me|came (?:for|to see|to visit) me)\b"
        r"|\bkeep me company\b|\bsit with me\b")),
    (Topic.LOW_MOOD, re.compile(
        r"\b(?:feel|feeling|i m|i am|i ve been) (?:a bit |so |very |really |quite |rather |a little |pretty )?"
        r"(?:down|sad|low|blue|miserable|unhappy|gloomy|upset|worried|anxious|glum|fed up with everything)\b"
        r"|\bhaving a (?:bad|rough|hard|difficult) day\b|\bnot (?:a )?good day\b")),
    (Topic.STORY, re.compile(
        r"\b(?:tell|read) (?:me |us )?(?:a |another |some |one of your |the )?(?:little |short |nice |good )?"
        r"(?:story|stories|tale|tales|fairy tale|fable|bedtime story)\b|\bstory time\b|\bknow any (?:good )?stories\b"
        r"|\bread me something\b|\ba story please\b")),
    (Topic.SONG, re.compile(
        r"\bsing\b|\bsinging (?:to|for) me\b|\b(?:a|any|the|old|favourite|favorite) songs?\b|\blyrics\b"
        r"|\bwords (?:to|of) (?:a |the |that )?(?:\w+ )?song\b")),
    (Topic.BOARD_GAME, re.compile(
        rf"\b(?:play|playing|fancy|have|a game of|a round of|a hand of|a spot of|how about|up for) (?:a |some |a little |"
        rf"a quick |another )?(?:game of )?{_BOARD_GAMES_EN}\b|\b{_BOARD_GAMES_EN} (?:with me|together)\b")),
    (Topic.GAME, re.compile(
        r"\b(?:play|fancy|have) (?:a |some |another |a little )?(?:game|games|quiz|riddle|riddles|word game|"
        r"guessing game)\b|\blet s play\b|\briddles?\b|\bquiz me\b|\bbrain ?teaser\b|\bplay (?:with me|something)\b")),
    (Topic.BORED, re.compile(r"\bbored\b|\bboring\b|\bnothing to do\b|\bfed up\b|\bso dull\b"
                             r"|\bwhat (?:else )?(?:is|s) there (?:left )?to do\b"
                             r"|\bevery day s (?:just )?the same\b|\bsame (?:old )?(?:thing|routine) every day\b"
                             r"|\bday in day out\b"
                             r"|\bnothing (?:good |worth watching )?on (?:the )?(?:telly|tv|television|radio)\b"
                             r"|\bnothing (?:good )?to watch\b")),
    (Topic.REMINISCENCE, re.compile(
        r"\bwhen i was (?:young|younger|little|small|a child|a boy|a girl|a kid|your age|at school|a lad|a lass|"
        r"a nipper|a youngster|a teenager|a young (?:man|woman|lad|girl|mother|wife)|in my (?:teens|twenties))\b"
        r"|\bas a (?:boy|girl|child|lad|lass|kid|youngster|young (?:man|woman))\b|\bwe used to\b"
        r"|\bi used to (?:work|be a|be an|live|drive|teach|play|sing|dance|run|have|go|make|keep)\b"
        r"|\bi worked (?:as|on|in|at|for)\b|\bin my (?:day|youth|time)\b|\bback in the (?:day|old days)\b"
        r"|\bin the (?:19)?[2-9]0s\b|\b(?:twenties|thirties|forties|fifties|sixties|seventies|eighties)\b"
        r"|\bthe (?:good )?old days\b|\bi remember when\b|\bwhat was (?:life|it) like (?:in|during|back|when)\b")),
    (Topic.COMPLIMENT, re.compile(
        r"\byou re (?:a |an |such a |so |very |really |quite |ever so )*(?:good|great|lovely|wonderful|clever|smart|"
        r"patient|sweet|funny|nice|brilliant|marvellous|gem|star|treasure|darling|good listener|good company)\b"
        r"|\b(?:good|clever|smart|lovely|nice|sweet) (?:robot|little robot)\b"
        r"|\bi (?:do )?(?:like|love) (?:you|talking to you|chatting with you|our chats)\b")),
    (Topic.GOOD_NEWS, re.compile(
        r"\b(?:is|are) (?:coming|visiting) (?:to see me |to visit me )?(?:tomorrow|today|tonight|this weekend|"
        r"on \w+day|next week|soon)\b|\bi m (?:so |really |very )?(?:excited|happy|pleased|delighted|thrilled)\b"
        r"|\bgood news\b|\bmy birthday\b")),
    (Topic.FAMILY_NEWS, re.compile(
        # "called" with no one else as its object: "my daughter called the nurse" is no news of hers
        rf"\bmy {_FAMILY_EN}s? (?:just |has |have |s |ve |finally |only )?(?:(?:rang|phoned|called|rung)(?: me| us)?"
        rf"(?: (?:this|today|yesterday|last|earlier|tonight|just|again|on|from|and|to say|to tell)\b|$)|wrote|written|"
        rf"texted|emailed|sent me|video called|facetimed|skyped)"
        rf"|\b(?:had|got) a (?:call|phone call|letter|card|message|text|video call) from my {_FAMILY_EN}s?\b"
        # a family member's milestone ("my grandson just started at university"): good news only,
        # never "got hurt" or "was taken in"
        rf"|\bmy {_FAMILY_EN}s? (?:(?:just|has|have|s|ve|finally|recently|only) )*(?:started (?:at |in )?"
        rf"(?:university|uni|college|school|a new job|work)|graduated|passed (?:his |her |their )?(?:exams?|driving test|"
        rf"test)|got (?:married|engaged|a new job|a promotion|(?:his |her |their )?degree|into (?:university|college))"
        rf"|(?:is|are) (?:getting married|engaged|expecting)|had a baby|bought a (?:house|flat|home))\b")),
    (Topic.GOODBYE, re.compile(r"\b(?:bye|goodbye|good night|goodnight|see you later|see you soon|night night)\b")),
    (Topic.THANKS, re.compile(r"\bthank you\b|\bthanks\b|\bcheers\b|\byou re (?:very |so )?kind\b")),
    (Topic.HOW_ARE_YOU, re.compile(r"\bhow are you\b|\bhow s it going\b|\bhow do you do\b|\bare you (?:ok|well|alright)\b")),
    (Topic.GREETING, re.compile(r"^(?:hello|hi|hey|hiya|howdy|good (?:morning|afternoon|evening|day)|"
                                r"nice to (?:meet|see) you)\b"
                                # a bare "Morning!" is one; "Morning exercise, when is it?" is not
                                r"|^(?:morning|afternoon|evening)(?: (?:robot|all|everyone|everybody|dear|love|there|"
                                r"pet|darling))?$"
                                # the robot coming by again: "oh, there you are", "you're back"
                                r"|\b(?:welcome back|you re back|there you are|here you are again|"
                                r"(?:good|lovely|nice|great) to see you(?: again)?)\b")),
    (Topic.CHAT, re.compile(
        r"\bcan we (?:talk|chat|have a chat)\b|\blet s (?:talk|chat|have a chat)\b|\btalk to me\b|\bchat with me\b"
        r"|\bwhat s your name\b|\bwho are you\b|\btell me about yourself\b|\bare you a robot\b|\bhow old are you\b")),
)
_FAMILY_ZH = r"(?:老伴|老头子|老太婆|老公|老婆|丈夫|妻子|爱人|妈妈|妈|爸爸|爸|母亲|父亲|儿子|女儿|闺女|孙子|孙女|外孙|外孙女|孩子|哥哥|姐姐|弟弟|妹妹|家人|家里人|朋友|老战友|老同事)"
_ZH_RULES: tuple[tuple[Topic, re.Pattern], ...] = (
    (Topic.GRIEF, re.compile(rf"{_FAMILY_ZH}.{{0,6}}(?:去世|过世|病逝|逝世|走了|不在了|没了|离开了我们|离开人世)"
                             r"|忌日|葬礼|追悼会|守寡")),
    # The home town, not a room here: "我想回老家看看" (intents leaves it to company).
    (Topic.HOMESICK, re.compile(r"想(?:念)?(?:回|去)?(?:老家|家乡|故乡)|(?:回|去)(?:老家|家乡|故乡)(?:看看|走走|转转|住)"
                                r"|怀念(?:老家|家乡|故乡)|(?:老家|家乡|故乡)(?:的)?(?:人|事|房子|样子|味道)")),
    (Topic.MISSING_FAMILY, re.compile(rf"想(?:念)?(?:我的?|我们)?{_FAMILY_ZH}|想家|想回家看看"
                                      rf"|{_FAMILY_ZH}(?:很久|好久|好长时间|一直|都)?(?:没|没有)(?:来看我|来|给我打电话|打电话|联系我)")),
    (Topic.LONELY, re.compile(r"孤单|孤独|寂寞|冷清|没(?:有)?人(?:跟|和|陪)我(?:说话|聊天|玩)|没人理我|没人管我"
                              r"|陪(?:陪)?我(?:聊聊?天|说说?话|坐坐?|一会)"
                              # nobody comes to see me (before the knowledge can hear "visiting hours" in it)
                              r"|没(?:有)?人(?:来)?(?:看|看望|探望|探视)我|(?:就|只有|就只有)我(?:一个)?没(?:有)?人(?:来|看|探望)")),
    (Topic.LOW_MOOD, re.compile(r"心情不(?:太|大)?好|不开心|难过|伤心|郁闷|心烦|烦死了|不高兴|不痛快|发愁|担心")),
    (Topic.STORY, re.compile(r"(?:讲|说|念)(?:个|一个|几个|段|一段)?(?:小)?故事|故事(?:给我)?听|讲讲故事")),
    (Topic.SONG, re.compile(r"唱(?:首|个|一首|支|一支|几句)?(?:歌|曲)|唱歌|会唱|老歌|歌词|哼(?:个|首)")),
    (Topic.BOARD_GAME, re.compile(r"(?:下|玩|来)(?:一|两|几)?(?:盘|局|把)?(?:象棋|围棋|跳棋|五子棋|军棋|国际象棋|棋)"
                                  r"|象棋|围棋|跳棋|五子棋|打(?:一|几)?(?:圈|局|把)?(?:麻将|牌|扑克|桥牌)|麻将|扑克|斗地主|多米诺")),
    (Topic.GAME, re.compile(r"游戏|猜谜|谜语|脑筋急转弯|(?:陪|跟)我玩|玩(?:个|一个|一会儿?|会儿)")),
    (Topic.BORED, re.compile(r"无聊|没意思|没事(?:可)?做|没什么(?:事)?(?:可)?做|没劲|好闷|闷死|打发时间")),
    (Topic.REMINISCENCE, re.compile(r"(?:年轻|小)(?:的)?时候|以前(?:我)?(?:是|在|当|做|干)|当年|那时候|那会儿|退休前|我当过"
                                    r"|(?:二|三|四|五|六|七|八|九)十年代")),
    (Topic.COMPLIMENT, re.compile(
        r"(?:你|小家伙|机器人)(?:今天|今儿|最近)?(?:真|好|挺|很|可|太|还挺|蛮)?(?:聪明|能干|厉害|可爱|乖|懂事|有耐心|贴心"
        r"|会说话|棒)|(?:你|小家伙|机器人).{0,4}(?:精神|气色)(?:不错|真好|挺好)|你比.{1,6}还(?:有耐心|懂事|贴心|听话|能干|聪明)"
        r"|(?:喜欢|爱)(?:跟|和)你(?:聊天|说话|聊)")),
    (Topic.GOOD_NEWS, re.compile(r"要来看我|来看我.{0,4}(?:高兴|开心)|(?:好|很|真|太)(?:高兴|开心)|好消息|过生日|我生日")),
    # The family the subject ("我闺女刚打电话来"), not the one to be called ("我想给儿子打电话").
    (Topic.FAMILY_NEWS, re.compile(rf"(?<![给跟和向])(?<![给跟和向]我){_FAMILY_ZH}.{{0,4}}(?:打(?:了|过)?(?:个|一个)?电话|来(?:了)?电话|来电|来信|寄(?:了)?"
                                   r"|发(?:了)?(?:个|一个|几张|一张|张|段|条)?(?:微信|短信|消息|视频|照片|语音)|(?:打|开)(?:了)?视频)")),
    (Topic.GOODBYE, re.compile(r"再见|拜拜|晚安|回头见|明天见")),
    (Topic.THANKS, re.compile(r"谢谢|多谢|感谢|辛苦(?:你)?了|你真好")),
    (Topic.HOW_ARE_YOU, re.compile(r"你好吗|你(?:今天)?怎么样|最近好吗|你还好吗")),
    (Topic.GREETING, re.compile(r"^(?:你好|您好|早上好|早安|上午好|中午好|下午好|晚上好|嗨|哈喽|哈啰)"
                                # the robot coming by again: "你又来啦", "又见面了"
                                r"|你(?:又|可)?来(?:啦|了|喽|咯)|又见面了|见到你(?:真|很|挺)?(?:好|高兴|开心)|好久不见"
                                # "have you eaten?", the everyday greeting (not "我吃饭了没有": did *I* eat?)
                                r"|^(?!.*我.{0,2}吃).{0,5}吃(?:过)?(?:了)?(?:早|午|晚)?(?:饭|餐)?了?(?:吗|么|没有?)$")),
    (Topic.CHAT, re.compile(r"聊聊?天|说说?话|你叫什么|你是谁|你多大|介绍一下你自己|你是机器人吗")),
)
# A question to turn back to the resident ("What was life like in the 1960s?"); "When I was
# young ..." is not one.
_EN_QUESTION = re.compile(r"^(?:what|where|how|why|who|was|were|did|do you|can you|could you|would you)\b")
_EN_DONT_KNOW = re.compile(r"\b(?:i )?(?:don t know|dunno|no idea|give up|tell me|not sure|haven t a clue)\b")
_ZH_DONT_KNOW = ("不知道", "猜不出", "猜不到", "不会", "告诉我", "说答案", "想不出")
_CHOICES = {Topic.STORY: re.compile(r"\bstor(?:y|ies)\b|故事"), Topic.SONG: re.compile(r"\bsong|\bsing\b|唱|歌"),
            Topic.GAME: re.compile(r"\briddle|\bgame|谜|游戏")}


# A greeting that opens a request ("Hello, what time is breakfast?", "哟，你又来啦，午饭几点？"):
# the request is answered, not the greeting alone. English needs punctuation or an unambiguous
# greeting word before the rest ("Morning exercise, when is it?" is no greeting).
_EN_GREETING_LEAD = re.compile(
    r"^\s*(?:(?:oh|ah|well)[\s,]+)?(?:"
    r"(?:hello|hi|hiya|hey|howdy|good (?:morning|afternoon|evening|day)|welcome back|you(?: a|')re back"
    r"|there you are(?: again)?|(?:nice|good|lovely|great) to see you(?: again)?)"
    r"(?:\s+(?:there|robot|dear|love|pet|again))?(?:\s*[,.!;:]+|\s)"
    r"|(?:morning|afternoon|evening)\s*[,.!;:]+)\s*", re.IGNORECASE)
_ZH_GREETING_LEAD = re.compile(
    r"^\s*(?:(?:哎呀|哎哟|哟|哎|嗨|诶|喂)[，,、！!\s]*)?(?:你好|您好|早上好|早安|上午好|中午好|下午好|晚上好|哈喽|哈啰"
    r"|你(?:又|可)?来(?:啦|了|喽|咯)|又见面了|好久不见)[啊呀哈嘛]*[，,。！!、\s]*")


def split_greeting(text: str, language: str) -> tuple[str, str]:
    """(the greeting that opens the text, the rest), or ("", text) when it opens with none or
    nothing of substance follows it."""
    pattern = _ZH_GREETING_LEAD if language == "zh" else _EN_GREETING_LEAD
    match = pattern.match(text or "")
    if match is None:
        return "", text
    rest = text[match.end():].strip()
    substance = re.findall(r"[\u3400-\u9fff]", rest) if language == "zh" else re.findall(r"[A-Za-z]+", rest)
    if len(substance) < 2:
        return "", text
    return text[:match.end()].strip(), rest


def detect(u: Utterance) -> Topic | None:
    """The social topic the rules find in an utterance, or None."""
    if u.empty:
        return None
    rules, text = (_ZH_RULES, u.compact) if u.language == "zh" else (_EN_RULES, u.words)
    if u.language != "zh" and _DEATH_EN.search(text) and _PERSON_EN.search(text):
        return Topic.GRIEF
    for topic, pattern in rules:
        # "I used to play chess with my husband" is a memory, not an invitation.
        if topic is Topic.BOARD_GAME and dict(rules)[Topic.REMINISCENCE].search(text):
            continue
        if pattern.search(text):
            return topic
    return None


# ------------------------------------------------------------------ data
@lru_cache(maxsize=4)
def load_replies(path: str = str(REPLIES_FILE)) -> dict:
    """The reply data (companion.yaml), checked: every topic has both languages and an opening."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    topics = data.get("topics") or {}
    for topic in Topic:
        for lang in ("en", "zh"):
            entry = (topics.get(topic.value) or {}).get(lang) or {}
            if not entry.get("open"):
                raise ValueError(f"{path}: topics.{topic.value}.{lang}.open is missing")
    for key in ("stories", "songs", "riddles"):
        for lang in ("en", "zh"):
            if not (data.get(key) or {}).get(lang):
                raise ValueError(f"{path}: {key}.{lang} is missing")
    return data


@dataclass(frozen=True)
class Example:
    text: str
    language: str
    topic: str            # a Topic value, or "other"


def load_examples(path: str | Path = EXAMPLES_FILE) -> list[Example]:
    """The labelled examples of the similarity check; ValueError names a bad row."""
    with open(path, encoding="utf-8") as handle:
        rows = (yaml.safe_load(handle) or {}).get("examples") or []
    known = {t.value for t in Topic} | {"other"}
    out = []
    for i, row in enumerate(rows):
        if row.get("topic") not in known or row.get("lang") not in ("en", "zh") or not row.get("text"):
            raise ValueError(f"{path}: example {i} needs topic (one of {sorted(known)}), lang (en/zh) and text")
        out.append(Example(str(row["text"]), str(row["lang"]), str(row["topic"])))
    return out


class TopicSimilarity:
    """Nearest labelled example by sentence embedding, per language, with a margin."""

    def __init__(self, embedder, examples: list[Example], margin: float | None = None):
        from carebot.brain.distress_similarity import bank_vectors

        self.embedder = embedder
        if not embedder.multilingual:
            examples = [e for e in examples if e.language == "en"]
        self.examples = examples
        self.margin = SIMILARITY_MARGIN.get(embedder.name, 0.03) if margin is None else margin
        self._vectors = bank_vectors(embedder, [Utterance.of(e.text).norm for e in examples])
        self._social = np.array([e.topic != "other" for e in examples])
        self._languages = np.array([e.language for e in examples])

    def nearest(self, u: Utterance, vector: np.ndarray | None = None) -> tuple[Topic | None, float, float]:
        """(topic of the nearest social example if it wins by the margin, its cosine, the best other's)."""
        if u.empty or (u.language == "zh" and not self.embedder.multilingual):
            return None, 0.0, 0.0
        query = self.embedder.encode([u.norm])[0] if vector is None else vector
        sims = self._vectors @ query
        same = self._languages == u.language
        social, other = same & self._social, same & ~self._social
        if not social.any() or not other.any():
            return None, 0.0, 0.0
        best_social = int(np.flatnonzero(social)[np.argmax(sims[social])])
        best_other = float(np.max(sims[other]))
        score = float(sims[best_social])
        topic = Topic(self.examples[best_social].topic) if score - best_other >= self.margin else None
        return topic, score, best_other


# ------------------------------------------------------------------ replies
@dataclass(frozen=True)
class ProgrammeOffer:
    """An activity of the site's programme, as offered."""

    place: str
    cite: str
    today: bool


@dataclass
class Reply:
    """A companionship reply: sentences to say and what a "yes" to it would mean."""

    topic: Topic
    sentences: list[str]
    language: str
    activity: ProgrammeOffer | None = None     # "I can take you there": an answer citing the programme
    gesture: str = ""                          # wave to a greeting, nod to thanks
    offer: str = ""                            # activity | family_call | staff_company | riddle | choice

    @property
    def text(self) -> str:
        return ("" if self.language == "zh" else " ").join(self.sentences)


@dataclass
class _Person:
    seed: str = ""                                        # the person's id: where their variety starts
    last: tuple[str, ...] = ()                            # sentences of the last reply (never said twice in a row)
    turns: dict = field(default_factory=dict)             # (topic, slot) -> how often used
    topics: deque = field(default_factory=lambda: deque(maxlen=20))   # (topic, when)
    riddle: dict | None = None
    riddle_at: float = 0.0
    offer: str = ""
    offer_at: float = 0.0


class Companion:
    """Recognises social talk and answers it; keeps per-person variety and pending riddles."""

    def __init__(self, programme: Sequence = (), label: Callable[[str, str], str] | None = None,
                 similarity: TopicSimilarity | None = None, wall_clock: Callable[[], datetime] = datetime.now,
                 clock: Callable[[], float] = time.monotonic, data: dict | None = None):
        self.data = data or load_replies()
        self.programme = tuple(programme)
        self.label = label or (lambda place, lang: place.replace("_", " "))
        self.similarity = similarity
        self._wall, self._clock = wall_clock, clock
        self._people: dict[str, _Person] = {}
        self._lock = threading.Lock()

    # -------------------------------------------------------------- recognising
    def detect(self, u: Utterance) -> Topic | None:
        """Rules only (microseconds)."""
        return detect(u)

    def similar(self, u: Utterance) -> Topic | None:
        """The similarity check (one e5 encoding, ~10-50 ms), None without a model."""
        if self.similarity is None:
            return None
        return self.similarity.nearest(u)[0]

    # -------------------------------------------------------------- follow-ups
    def follow_up(self, u: Utterance, person: str, affirmative: bool) -> Reply | None:
        """The answer to a pending riddle, or a "yes" / "a story" to the robot's offer of one."""
        with self._lock:
            state = self._people.setdefault(person, _Person(person))
            now = self._clock()
            if state.riddle is not None and now - state.riddle_at <= PENDING_S:
                riddle, state.riddle = state.riddle, None
                return self._riddle_answer(u, riddle, state)
            if state.offer in ("riddle", "choice") and now - state.offer_at <= PENDING_S:
                offer, state.offer = state.offer, ""
                if offer == "choice":
                    chosen = next((t for t, p in _CHOICES.items() if p.search(u.words or u.compact)), None)
                    if chosen is not None:
                        return self._compose(chosen, u, person, [], state)
                if affirmative:
                    return self._compose(Topic.GAME, u, person, [], state)
        return None

    def _riddle_answer(self, u: Utterance, riddle: dict, state: _Person) -> Reply:
        lang = u.language
        words = u.words if lang == "en" else u.compact
        right = any((re.search(rf"\b{re.escape(a)}s?\b", words) if lang == "en" else a in words)
                    for a in riddle.get("accept", []))
        texts = self.data["riddle_answers"]
        first = self._pick(texts["right" if right else "wrong"][lang], state, ("riddle", "right" if right else "wrong"))
        sentences = [first.format(answer=riddle["answer"]), self._pick(texts["again"][lang], state, ("riddle", "again"))]
        state.offer, state.offer_at = "riddle", self._clock()
        return self._finish(Reply(Topic.GAME, sentences, lang, offer="riddle"), state)

    # -------------------------------------------------------------- replying
    def reply(self, topic: Topic, u: Utterance, person: str = "", facts: Sequence = ()) -> Reply:
        """A reply for a topic in the utterance's language, personalised with the resident's facts."""
        with self._lock:
            state = self._people.setdefault(person, _Person(person))
            return self._compose(topic, u, person, facts, state)

    def _compose(self, topic: Topic, u: Utterance, person: str, facts: Sequence, state: _Person) -> Reply:
        lang = "zh" if u.language == "zh" else "en"
        entry = self.data["topics"][topic.value][lang]
        now = self._clock()
        again = any(t == topic and now - at <= TOPIC_MEMORY_S for t, at in state.topics)
        state.topics.append((topic, now))
        values = {"greet": self.greeting(lang, facts), "title": ""}
        sentences: list[str] = []
        reply = Reply(topic, sentences, lang)
        opening_key = "open_question" if (entry.get("open_question") and self._is_question(u)) else "open"
        if topic is Topic.SONG:
            song = self._song(u, lang, state)
            values["title"] = song["title"]
            sentences.append(self._pick(entry[opening_key], state, (topic, opening_key)).format(**values))
            sentences.append(song["words"])
        elif topic is Topic.STORY:
            sentences.append(self._pick(entry[opening_key], state, (topic, opening_key)).format(**values))
            sentences.append(self._pick(self.data["stories"][lang], state, (topic, "story")))
        elif topic is Topic.GAME:
            riddle = self._pick(self.data["riddles"][lang], state, (topic, "riddle"), key=lambda r: r["question"])
            sentences.append(self._pick(entry[opening_key], state, (topic, opening_key)).format(**values))
            sentences.append(riddle["question"])
            state.riddle, state.riddle_at = riddle, now
        else:
            sentences.append(self._pick(entry[opening_key], state, (topic, opening_key)).format(**values))
            personal = self._personal(topic, lang, facts, state)
            if personal:
                sentences.append(personal)
        offer, kind, activity = self._offer(topic, entry, lang, again, state) if topic is not Topic.GAME else ("", "", None)
        if offer:
            sentences.append(offer)
            reply.offer, reply.activity = kind, activity
        elif entry.get("ask"):
            ask = self._pick(entry["ask"], state, (topic, "ask"))
            sentences.append(ask)
            if "riddle" in ask or "谜语" in ask:
                state.offer, state.offer_at = ("choice" if ("story" in ask or "故事" in ask) else "riddle"), now
                reply.offer = state.offer
        reply.gesture = {Topic.GREETING: "wave", Topic.HOW_ARE_YOU: "wave", Topic.THANKS: "nod",
                         Topic.COMPLIMENT: "nod"}.get(topic, "")
        return self._finish(reply, state)

    def _finish(self, reply: Reply, state: _Person) -> Reply:
        state.last = tuple(reply.sentences)
        return reply

    @staticmethod
    def _is_question(u: Utterance) -> bool:
        if u.language == "zh":
            return any(q in u.text for q in ("吗", "什么", "怎么", "？", "?", "呢"))
        return bool(_EN_QUESTION.search(u.words)) or u.text.strip().endswith("?")

    def _pick(self, options: Sequence, state: _Person, slot, key=lambda o: o):
        """The next option for this slot, never one of the sentences said last time."""
        options = list(options)
        # Each person starts somewhere else in the list: two residents side by side hear different words.
        count = state.turns.get(slot, zlib.crc32(f"{state.seed}|{slot!r}".encode()) % max(1, len(options)))
        for step in range(len(options)):
            option = options[(count + step) % len(options)]
            if key(option) not in state.last:
                state.turns[slot] = count + step + 1
                return option
        state.turns[slot] = count + 1
        return options[count % len(options)]

    def greeting(self, lang: str, facts: Sequence = ()) -> str:
        """The time of day's greeting in the language, with the resident's name when known."""
        hour = self._wall().hour
        if lang == "zh":
            greet = "早上好" if 5 <= hour < 10 else "上午好" if 10 <= hour < 12 else "下午好" if 12 <= hour < 18 else \
                "晚上好" if 18 <= hour < 23 else "您好"
        else:
            greet = "Good morning" if 5 <= hour < 12 else "Good afternoon" if 12 <= hour < 18 else \
                "Good evening" if 18 <= hour < 23 else "Hello"
        name = next((f.value for f in facts if f.kind == "name"), "")
        if name:
            greet = f"{name}，{greet}" if lang == "zh" else f"{greet}, {name}"
        return greet

    def _personal(self, topic: Topic, lang: str, facts: Sequence, state: _Person) -> str:
        templates = self.data.get("personal") or {}
        if topic in (Topic.MISSING_FAMILY, Topic.LONELY):
            family = [f for f in facts if f.kind == "family"]
            if family:
                fact = family[state.turns.get((topic, "family"), 0) % len(family)]
                state.turns[(topic, "family")] = state.turns.get((topic, "family"), 0) + 1
                return self._pick(templates["family"][lang], state, (topic, "personal")).format(
                    family=fact.describe(lang))
        if topic is Topic.REMINISCENCE:
            job = next((f for f in reversed(list(facts)) if f.kind == "job"), None)
            if job is not None:
                return self._pick(templates["job"][lang], state, (topic, "personal")).format(job=job.describe(lang))
        return ""

    def _song(self, u: Utterance, lang: str, state: _Person) -> dict:
        songs = self.data["songs"][lang]
        said = u.words if lang == "en" else u.compact
        named = next((s for s in songs if any(a.lower() in said for a in s.get("aliases", []))), None)
        return named or self._pick(songs, state, (Topic.SONG, "song"), key=lambda s: s["words"])

    def _offer(self, topic: Topic, entry: dict, lang: str, again: bool,
               state: _Person) -> tuple[str, str, ProgrammeOffer | None]:
        """(sentence, kind, activity) of an offer when the topic is raised again (at once for
        boredom); ("", "", None) for none. Tomorrow's activity is news, not an offer: a question follows."""
        kinds = entry.get("offer") or []
        if not kinds or not (again or topic is Topic.BORED):
            return "", "", None
        offers = self.data["offers"]
        for kind in kinds:
            if kind != "activity":
                return self._pick(offers[kind][lang], state, ("offer", kind)), kind, None
            found = self._next_activity(topic)
            if found is None:
                continue
            item, when, today = found
            title = item.title.get(lang) or item.title.get("en", item.id)
            values = dict(activity=title, time=when.strftime("%H:%M"), place=self.label(item.place, lang).removeprefix("the "))
            kind = "activity" if today else "activity_tomorrow"
            text = self._pick([t.format(**values) for t in offers[kind][lang]], state, ("offer", kind))
            if today:
                return text, "activity", ProgrammeOffer(item.place, item.cite, True)
            ask = entry.get("ask") or []
            if ask:
                text += ("" if lang == "zh" else " ") + self._pick(ask, state, (topic, "ask"))
            return text, "", None
        return "", "", None

    def _next_activity(self, topic: Topic):
        """The next programme item for this topic: (item, time, today?) or None."""
        now = self._wall()
        fitting = [p for p in self.programme if not p.topics or topic.value in p.topics]
        for day in range(0, 8):
            date = (now + timedelta(days=day)).date()
            todays = sorted((p for p in fitting if p.on(date.weekday())), key=lambda p: p.time)
            for item in todays:
                hour, minute = item.time
                when = datetime.combine(date, datetime.min.time()).replace(hour=hour, minute=minute)
                if when > now:
                    return item, when, day == 0
        return None
