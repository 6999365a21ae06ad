"""Conversation that cares (issue 13): social talk answered by the companionship layer, no LLM.

Loneliness, thanks, greetings, grief, missing family, memories, a story, a song's words
or a game get a warm reply in the speaker's language with a follow-up question, never
the "I don't have that information" refusal, no alert and no motion; a person never
hears the same sentence twice in a row; a "yes" to the robot's offer is what moves it.
"""
import re
from datetime import datetime

import pytest

from carebot.brain.companion import Companion, Topic, detect, load_replies
from carebot.brain.dialogue import Brain, Source, say
from carebot.brain.sentences import split_sentences
from carebot.brain.utterance import Utterance

NOW = datetime(2026, 11, 29, 10, 0)          # a Sunday morning
MOTION = {"navigate_to", "fetch", "look_at", "stop"}
REFUSALS = (say("not_found", "en"), say("not_found", "zh"), say("fallback", "en"), say("fallback", "zh"))
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture
def brain():
    """A fresh brain per test: the companion's per-person variety and the rate limits start clean."""
    return Brain("care_home", use_embeddings=False, wall_clock=lambda: NOW)


SOCIAL = [
    ("I feel so lonely today", "lonely", "en"),
    ("Nobody ever visits me", "lonely", "en"),
    ("Thank you so much", "thanks", "en"),
    ("Good morning", "greeting", "en"),
    ("Hello, how are you?", "how_are_you", "en"),
    ("My husband passed away last year", "grief", "en"),
    ("I miss my daughter", "missing_family", "en"),
    ("When I was young I worked on the railways", "reminiscence", "en"),
    ("What was life like in the 1960s?", "reminiscence", "en"),
    ("Tell me a story", "story", "en"),
    ("Can you tell me a story?", "story", "en"),
    ("Do you know the words of an old song?", "song", "en"),
    ("Can you sing me a song?", "song", "en"),
    ("Let's play a game", "game", "en"),
    ("I'm feeling a bit down", "low_mood", "en"),
    ("我有点孤单，陪我聊聊天吧", "lonely", "zh"),
    ("谢谢你", "thanks", "zh"),
    ("你好", "greeting", "zh"),
    ("我老伴去年走了", "grief", "zh"),
    ("我想我女儿了", "missing_family", "zh"),
    ("我年轻的时候在铁路上工作", "reminiscence", "zh"),
    ("给我讲个故事吧", "story", "zh"),
    ("你会唱老歌吗？给我唱首歌吧", "song", "zh"),
    ("我们玩个游戏吧", "game", "zh"),
    ("我心情不好", "low_mood", "zh"),
]


def assert_in_language(reply: str, language: str):
    if language == "zh":
        assert _CJK.search(reply) and not _LATIN.search(reply), reply
    else:
        assert not _CJK.search(reply), reply


def assert_companionship(d, topic: str, language: str):
    assert d.source is Source.COMPANION and d.topic == topic, (d.source, d.topic, d.reply)
    assert d.language == language and not d.fallback and d.alert is None
    assert_in_language(d.reply, language)
    assert not any(r in d.reply for r in REFUSALS) and "information" not in d.reply and "信息" not in d.reply
    tools = [a.tool for a in d.actions]
    assert tools and set(tools) <= {"speak", "gesture"}, tools       # no motion, no staff call
    assert not MOTION & set(tools) and "call_staff" not in tools


@pytest.mark.parametrize("text, topic, language", SOCIAL)
def test_social_talk_gets_a_warm_reply_with_a_follow_up_question(brain, text, topic, language):
    d = brain.decide(text, person="resident_1")
    assert_companionship(d, topic, language)
    assert "?" in d.reply or "？" in d.reply, d.reply          # a follow-up question (a riddle is one too)
    spoken = " ".join(a.args["text"] for a in d.actions if a.tool == "speak")
    assert spoken.replace(" ", "") == d.reply.replace(" ", "")    # what is said is the reply


@pytest.mark.parametrize("text, topic, language", [
    ("Good morning", "greeting", "en"), ("Thank you so much", "thanks", "en"), ("你好", "greeting", "zh"),
    ("谢谢你", "thanks", "zh")])
def test_greetings_get_a_wave_and_thanks_a_nod(brain, text, topic, language):
    d = brain.decide(text, person="resident_1")
    gestures = [a.args["name"] for a in d.actions if a.tool == "gesture"]
    assert gestures == (["wave"] if topic == "greeting" else ["nod"])


@pytest.mark.parametrize("hour, english, mandarin", [(7, "Good morning", "早上好"), (10, "Good morning", "上午好"),
                                                      (15, "Good afternoon", "下午好"), (20, "Good evening", "晚上好"),
                                                      (2, "Hello", "您好")])
def test_a_greeting_fits_the_time_of_day(hour, english, mandarin):
    brain = Brain("care_home", use_embeddings=False, wall_clock=lambda: NOW.replace(hour=hour))
    assert brain.decide("Hello", person="a").reply.startswith(english)
    assert brain.decide("你好", person="b").reply.startswith(mandarin)


@pytest.mark.parametrize("text, language, source, tool", [
    ("Hello, what time is breakfast?", "en", Source.KNOWLEDGE, "answer"),
    ("Oh there you are! When can my family visit?", "en", Source.KNOWLEDGE, "answer"),
    ("Hi, take me to the lounge", "en", Source.RULE, "navigate_to"),
    ("你好，早餐几点？", "zh", Source.KNOWLEDGE, "answer"),
    ("哟，你又来啦，家属什么时候可以来探望？", "zh", Source.KNOWLEDGE, "answer"),
])
def test_a_greeting_before_a_request_gets_the_request_answered(brain, text, language, source, tool):
    d = brain.decide(text, person="resident_1")
    assert d.source is source and tool in [a.tool for a in d.actions], (d.source, d.reply)
    greeting = "Good morning! " if language == "en" else "上午好！"          # NOW is 10:00
    assert d.reply.startswith(greeting), d.reply
    spoken = next(a.args["text"] for a in d.actions if a.tool in ("speak", "answer"))
    assert spoken.startswith(greeting), spoken                                # said, not only returned


@pytest.mark.parametrize("text, language", [
    ("Hello, how are you?", "en"),                 # small talk after the greeting: answered as it is
    ("Morning exercise, when is it?", "en"),       # no greeting at all
    ("Evening, robot.", "en"),                     # nothing after the greeting
    ("你好啊", "zh"),
    ("哟，你又来啦，今天挺精神的嘛", "zh"),          # the rest alone means nothing to any layer
])
def test_no_request_after_the_greeting_is_not_split(brain, text, language):
    from carebot.brain.companion import split_greeting

    d = brain.decide(text, person="resident_1")
    greeting, rest = split_greeting(text, language)
    if greeting:                                   # split, but the rest is small talk or unknown
        assert d.source is Source.COMPANION and not d.fallback, (d.source, d.reply)
    assert not d.reply.startswith(("Good morning! Good morning", "上午好！上午好")), d.reply
    assert "exercise" not in text or d.topic != "greeting", d.reply


def test_a_song_request_gets_the_words_of_the_song_named(brain):
    d = brain.decide("Do you know the lyrics of Daisy Bell?", person="resident_1")
    assert d.topic == "song" and "Daisy Bell" in d.reply and "bicycle made for two" in d.reply
    zh = brain.decide("你会唱茉莉花吗？", person="resident_2")
    assert zh.topic == "song" and "茉莉花" in zh.reply and "好一朵美丽的茉莉花" in zh.reply


def test_a_story_request_tells_a_whole_story(brain):
    stories = load_replies()["stories"]
    d = brain.decide("Tell me a story", person="resident_1")
    assert any(story in d.reply for story in stories["en"])
    zh = brain.decide("给我讲个故事吧", person="resident_2")
    assert any(story in zh.reply for story in stories["zh"])


@pytest.mark.parametrize("language, ask", [("en", "Let's play a game"), ("zh", "我们玩个游戏吧")])
def test_a_riddle_is_answered_right_or_wrong(brain, language, ask):
    data = load_replies()
    d = brain.decide(ask, person="resident_1")
    riddle = next(r for r in data["riddles"][language] if r["question"] in d.reply)
    right = brain.decide(riddle["accept"][0], person="resident_1")
    assert right.source is Source.COMPANION and right.topic == "game"
    assert any(s in right.reply for s in data["riddle_answers"]["right"][language]), right.reply
    d = brain.decide(ask, person="resident_2")
    riddle = next(r for r in data["riddles"][language] if r["question"] in d.reply)
    wrong = brain.decide("an elephant" if language == "en" else "大象", person="resident_2")
    assert riddle["answer"] in wrong.reply
    assert not any(s in wrong.reply for s in data["riddle_answers"]["right"][language])


@pytest.mark.parametrize("language, ask, yes", [("en", "Shall we play a game of chess?", "Yes please"),
                                                ("en", "Fancy a hand of cards?", "Yes"),
                                                ("zh", "咱们下盘象棋怎么样？", "好啊"),
                                                ("zh", "陪我打麻将吧", "好的")])
def test_chess_or_cards_get_an_honest_reply_and_a_riddle_on_yes(brain, language, ask, yes):
    # The robot cannot move pieces or hold cards: it says so, points to the staff, offers a riddle.
    d = brain.decide(ask, person="resident_1")
    assert_companionship(d, "board_game", language)
    data = load_replies()
    assert any(s in d.reply for s in data["topics"]["board_game"][language]["open"]), d.reply
    assert ("staff" in d.reply) if language == "en" else ("工作人员" in d.reply), d.reply
    riddle = brain.decide(yes, person="resident_1")
    assert riddle.topic == "game" and any(r["question"] in riddle.reply for r in data["riddles"][language]), riddle.reply


# ------------------------------------------------------------------ never the same sentence twice in a row
@pytest.mark.parametrize("text, times", [
    ("Thank you so much", 4), ("How are you?", 4), ("Tell me a story", 4), ("你好吗？", 4), ("谢谢你", 4),
    ("When I was young I worked on the railways", 3), ("I feel so lonely today", 2),
    ("我有点孤单，陪我聊聊天吧", 2), ("My husband passed away last year", 2),
    # The topic comes back: the robot offers something; the offer must not be said twice in a row either.
    ("I'm so bored", 2), ("I feel so lonely today", 3), ("I miss my daughter", 3),
    ("My husband passed away last year", 3), ("我有点孤单，陪我聊聊天吧", 3),
])
def test_the_same_request_again_does_not_get_the_same_sentence_again(brain, text, times):
    previous: set[str] = set()
    for turn in range(times):
        d = brain.decide(text, person="resident_1")
        assert d.source is Source.COMPANION, d.reply
        sentences = set(split_sentences(d.reply))
        assert not sentences & previous, f"turn {turn + 1} repeats {sentences & previous}"
        previous = sentences


def test_two_residents_side_by_side_hear_different_words(brain):
    a = brain.decide("I feel so lonely today", person="room_101")
    b = brain.decide("I feel so lonely today", person="room_102")
    assert a.reply != b.reply


# ------------------------------------------------------------------ offers: only a yes moves the robot
def test_a_yes_to_the_activity_offer_takes_the_resident_there(brain):
    first = brain.decide("I'm so bored", person="resident_1")
    assert first.topic == "bored" and "15:00" in first.reply and "lounge" in first.reply   # the activity offer
    assert [a.tool for a in first.actions] == ["answer"] and first.actions[0].args["place"] == "lounge"
    assert first.citations == ["activities"]                  # the offer cites the site's programme
    go = brain.decide("yes please", person="resident_1")
    assert [a.tool for a in go.actions] == ["speak", "navigate_to"] and go.actions[1].args["place"] == "lounge"


def test_a_yes_to_the_family_call_offer_calls_staff(brain):
    brain.decide("I miss my daughter", person="resident_1")
    offer = brain.decide("I miss my daughter", person="resident_1")
    assert re.search(r"phone|call", offer.reply) and "staff" in offer.reply and offer.alert is None
    yes = brain.decide("yes", person="resident_1")
    assert [a.tool for a in yes.actions][0] == "call_staff" and yes.alert is not None


@pytest.mark.parametrize("text, times", [
    ("好无聊", 2),          # "so boring": the activity offer comes at once; saying it again is no "yes"
    ("我好孤单", 3),        # "I'm so lonely"
    ("我好想家", 3),        # "I miss home so much": the second reply offers a call home
    ("我好难过", 3),        # "I'm so sad": the second reply offers staff company
])
def test_mandarin_hao_meaning_so_is_not_a_yes_to_the_offer(brain, text, times):
    """好 in 好无聊 / 我好孤单 is "so", not "yes": the resident said the same thing again."""
    for _ in range(times):
        d = brain.decide(text, person="resident_1")
        tools = [a.tool for a in d.actions]
        assert d.source is Source.COMPANION and d.language == "zh", (d.source, d.reply)
        assert not MOTION & set(tools) and "call_staff" not in tools and d.alert is None, (tools, d.reply)


@pytest.mark.parametrize("no", ["不行", "不好", "不可以", "不是的"])
def test_a_mandarin_no_to_an_offer_is_not_a_yes(brain, no):
    """不行 / 不好 ("no", "not good") contain 行 / 好 but decline: nothing moves, nobody is called."""
    offer = brain.decide("太无聊了", person="resident_1")
    assert "15:00" in offer.reply and "客厅" in offer.reply         # the activity offer
    answer = brain.decide(no, person="resident_1")
    assert "navigate_to" not in [a.tool for a in answer.actions], answer.reply
    brain.decide("我心情不好", person="resident_2")
    offer = brain.decide("我心情不好", person="resident_2")
    assert "工作人员" in offer.reply                                  # the offer of staff company
    answer = brain.decide(no, person="resident_2")
    assert "call_staff" not in [a.tool for a in answer.actions] and answer.alert is None, answer.reply


# ------------------------------------------------------------------ the rules themselves
@pytest.mark.parametrize("text, topic", [
    ("I miss my wife, she passed away last spring", Topic.GRIEF),          # grief over missing family
    ("我好想我老伴，她去年去世了", Topic.GRIEF),
    ("I feel lonely, I miss my son", Topic.MISSING_FAMILY),               # missing family over loneliness
    ("我想家了，好孤单", Topic.MISSING_FAMILY),
    ("I'm bored, tell me a story", Topic.STORY),                          # a request over boredom
    ("好无聊，给我讲个故事吧", Topic.STORY),
    ("I'm bored, sing me a song", Topic.SONG),
    ("Let's play a game of chess", Topic.BOARD_GAME),                     # chess over a game (a riddle)
    ("I used to play chess with my husband", Topic.REMINISCENCE),         # a memory, not an invitation
    ("我年轻的时候天天下棋", Topic.REMINISCENCE),
    ("Oh, there you are again, lovely to see you", Topic.GREETING),        # the robot coming by again
    ("You're back!", Topic.GREETING),
    ("哎，你又来了", Topic.GREETING),
    ("又见面了，真好", Topic.GREETING),
    ("When I was a young lad I delivered newspapers", Topic.REMINISCENCE),
    ("As a girl I helped on my uncle's farm", Topic.REMINISCENCE),
    ("We used to go dancing every Saturday night", Topic.REMINISCENCE),
    ("Nothing good on the TV tonight", Topic.BORED),
    ("I've done all the crosswords, what else is there to do", Topic.BORED),
    ("吃了吗？", Topic.GREETING),                                        # the everyday greeting
    ("小家伙，你吃过午饭了没有", Topic.GREETING),
    ("I do miss the village where I grew up", Topic.HOMESICK),
    ("I'd love to get back to my home town one day", Topic.HOMESICK),
    ("我好想回家乡看看", Topic.HOMESICK),
    ("老家的房子早就拆了", Topic.HOMESICK),
    ("Same old routine every day, wash, eat, sleep", Topic.BORED),
    ("My granddaughter phoned yesterday, she's expecting a baby", Topic.FAMILY_NEWS),  # news, asked about
    ("I got a letter from my brother in Australia", Topic.FAMILY_NEWS),
    ("我儿子昨晚来电话了，说他升职了", Topic.FAMILY_NEWS),
    ("我孙子给我发了几张照片", Topic.FAMILY_NEWS),
    ("My nephew's just started at college, the first of us to go", Topic.FAMILY_NEWS),   # a milestone
    ("My granddaughter got engaged last weekend", Topic.FAMILY_NEWS),
    ("My son got hurt at work", None),                                   # not news to be glad of
    ("My son hasn't called in weeks", Topic.MISSING_FAMILY),             # no call is missing them
    ("我女儿好久没给我打电话了", Topic.MISSING_FAMILY),
    ("My daughter called the nurse", None),                              # someone else called
    ("我想给儿子打个电话", None),                                         # a call to make, not news
    ("You're such a clever little thing", Topic.COMPLIMENT),
    ("I do like chatting with you", Topic.COMPLIMENT),
    ("你真懂事，比我们家那只猫乖多了", Topic.COMPLIMENT),
    ("机器人今天气色挺好嘛", Topic.COMPLIMENT),
    ("跟你说话真开心，你真聪明", Topic.COMPLIMENT),                          # praise over "真开心"
    ("我今天精神不错", None),                                              # the resident's own health
    ("What time is lunch?", None),
    ("Where is the bathroom?", None),
    ("午饭几点开始？", None),
])
def test_detect_orders_topics_as_documented(text, topic):
    assert detect(Utterance.of(text)) is topic


def test_every_topic_has_an_opening_in_both_languages():
    data = load_replies()
    for topic in Topic:
        for language in ("en", "zh"):
            opening = data["topics"][topic.value][language]["open"]
            assert opening and all(_CJK.search(o) if language == "zh" else not _CJK.search(o) for o in opening)


def test_the_companion_alone_personalises_with_a_residents_facts():
    from carebot.brain.resident_memory import Fact

    companion = Companion(wall_clock=lambda: NOW)
    facts = [Fact("name", "Alice"), Fact("family", "Mary", "daughter")]
    greeting = companion.reply(Topic.GREETING, Utterance.of("Hello"), "r1", facts)
    assert greeting.text.startswith("Good morning, Alice")
    missing = companion.reply(Topic.MISSING_FAMILY, Utterance.of("I miss my daughter"), "r1", facts)
    assert "your daughter Mary" in missing.text
    zh = companion.reply(Topic.MISSING_FAMILY, Utterance.of("我想我女儿了"), "r2",
                         [Fact("family", "小梅", "daughter", "zh")])
    assert "您的女儿小梅" in zh.text and zh.language == "zh"


def test_a_greeting_before_a_request_the_failing_llm_could_not_answer_asks_it_once():
    """A real HTTP server stands in for DeepSeek (it answers garbage): the rest after the greeting
    goes to it once; its fallback is kept, not the whole utterance sent (and waited for) again."""
    from carebot.brain import scripted_llm as s
    from carebot.brain.llm_client import Backend, LLMClient, LLMConfig

    with s.ScriptedLLMServer([s.Step("garbage")] * 4) as server:
        brain = Brain("care_home", use_embeddings=False, wall_clock=lambda: NOW, llm=LLMClient(LLMConfig(
            backend=Backend.OPENAI_COMPATIBLE, base_url=server.url, timeout_s=2.0, deadline_s=3.0, max_retries=0)))
        d = brain.decide("Hello, tell me something nice about the sea", person="r1")
        assert len(server.requests) == 1, server.requests
    assert d.fallback and "staff" in d.reply, d.reply
    assert d.reply.startswith("Good morning! "), d.reply


@pytest.mark.parametrize("text, language", [
    ("Hi there, what have you been up to all morning?", "en"),
    ("Hello, where did you get to yesterday?", "en"),
    ("你好呀，你这几天跑哪儿去啦？", "zh"),
])
def test_a_greeting_with_a_question_nothing_knows_is_answered_as_a_greeting(brain, text, language):
    # No LLM: the rest alone would get "I don't have that information"; after a greeting the
    # greeting back is the better answer (issue 13: the refusal only when nothing better is known).
    d = brain.decide(text, person="resident_1")
    assert d.source is Source.COMPANION and not d.unknown, (d.source, d.reply)
    assert d.reply.startswith("Good morning" if language == "en" else "上午好"), d.reply
    assert not d.reply.startswith(("Good morning! Good morning", "上午好！上午好")), d.reply


@pytest.mark.parametrize("text, language", [
    ("都没人来看我", "zh"), ("只有我一个没人来探望", "zh"), ("Nobody ever comes to visit me", "en"),
    ("No one came for me at the weekend", "en"),
])
def test_nobody_visiting_is_loneliness_not_the_visiting_hours(brain, text, language):
    d = brain.decide(text, person="resident_1")
    assert d.source is Source.COMPANION and d.topic == "lonely", (d.source, d.topic, d.reply)
    # a question about visiting still gets the site's visiting hours
    q = brain.decide("家属什么时候可以来探望？" if language == "zh" else "When can my family visit?", person="r2")
    assert q.source is Source.KNOWLEDGE, (q.source, q.reply)


@pytest.mark.parametrize("text, topic, language", [
    ("My nephew rang this morning to say he's getting married", "family_news", "en"),
    ("我外孙女刚发了个视频过来", "family_news", "zh"),
    ("You're a lovely robot, you know", "compliment", "en"),
    ("小机器人真可爱", "compliment", "zh"),
])
def test_family_news_is_asked_about_and_praise_thanked(brain, text, topic, language):
    # Family news may be glad or sad ("he's moving abroad"): the reply asks, it does not cheer.
    d = brain.decide(text, person="resident_1")
    assert_companionship(d, topic, language)
    assert "?" in d.reply or "？" in d.reply, d.reply
    assert "wonderful news" not in d.reply and "好消息" not in d.reply, d.reply


def test_did_i_eat_is_no_greeting():
    """A resident asking whether *they* have eaten ("我吃饭了没有": for staff or the day's record)
    is not the greeting "吃了吗"."""
    from carebot.brain.companion import detect
    from carebot.brain.utterance import Utterance

    assert detect(Utterance.of("我吃饭了没有")) is not Topic.GREETING
    assert detect(Utterance.of("我今天吃过了吗")) is not Topic.GREETING


@pytest.mark.parametrize("text, language", [("我想回老家看看，不知道还有没有机会", "zh"),
                                            ("I'd love to go back to my home town", "en")])
def test_a_wish_to_go_home_far_away_is_company_not_a_walk(brain, text, language):
    d = brain.decide(text, person="resident_1")
    assert_companionship(d, "homesick", language)


@pytest.mark.parametrize("text, place", [("我想去餐厅", "dining_room"), ("Take me to the lounge", "lounge")])
def test_a_place_of_the_home_is_still_a_walk(brain, text, place):
    d = brain.decide(text, person="resident_1")
    assert [a.args.get("place") for a in d.actions if a.tool == "navigate_to"] == [place], d.actions
