"""The decision pipeline with the LLM down (llm=None): rules and knowledge still work."""
import json
from datetime import datetime

import pytest

from carebot.alerts import AlertKind, Severity
from carebot.brain.dialogue import Brain, Source
from carebot.brain.intents import IntentKind, PlaceIndex, detect_intent, is_question
from carebot.brain.knowledge import KnowledgeError, Retriever, load_knowledge, tokens

NOW = datetime(2026, 11, 29, 10, 0)


@pytest.fixture(scope="module")
def care():
    # Lexical retrieval only: the embedding model is exercised in test_brain_routing.py.
    return Brain("care_home", use_embeddings=False, wall_clock=lambda: NOW)


@pytest.fixture(scope="module")
def hall():
    return Brain("public_hall", use_embeddings=False, wall_clock=lambda: NOW)


def test_emergency_raises_alert_and_reassures_without_llm(care):
    d = care.decide("我摔倒了，起不来", person="room_102")
    assert d.source is Source.RULE and d.alert is not None
    assert d.alert.kind is AlertKind.FALL and d.alert.severity is Severity.CRITICAL
    assert d.alert.person == "room_102" and d.cancel_motion and not d.stop_robot
    assert "工作人员" in d.reply
    assert d.actions[0].tool == "call_staff" and d.actions[0].args["urgency"] == "critical"


def test_stop_phrase_stops_the_robot(care):
    d = care.decide("STOP!")
    assert d.stop_robot and d.actions[0].tool == "stop" and d.alert is None


def test_emergencies_are_never_rate_limited(care):
    for _ in range(20):
        assert care.decide("help!").alert is not None


def test_navigation_uses_the_world_places(hall):
    d = hall.decide("请带我去2号窗口")
    assert [a.tool for a in d.actions] == ["speak", "navigate_to"]
    assert d.actions[1].args == {"place": "counter_2"} and d.language == "zh"


def test_knowledge_answer_cites_and_routes(hall):
    d = hall.decide("What documents do I need to renew my identity card?")
    assert d.source is Source.KNOWLEDGE and d.citations == ["id_card_renewal"]
    assert d.actions[0].tool == "answer" and d.actions[0].args["place"] == "counter_2"
    assert "household registration" in d.reply


def test_unknown_question_says_so_and_offers_staff(care):
    d = care.decide("What is the capital of Peru?")
    assert d.source is Source.KNOWLEDGE and "staff" in d.reply and d.actions[0].tool == "speak"


def test_llm_down_gives_spoken_fallback(care):
    d = care.decide("I feel like a change of scenery")
    assert d.source is Source.LLM and d.fallback and d.actions[0].tool == "speak" and "staff" in d.reply


def test_social_talk_without_an_llm_gets_company_not_a_refusal(care):
    """Issue 13: loneliness got "I don't have that information"; now the companionship layer answers."""
    d = care.decide("I feel a bit lonely today, can we talk?", person="r9")
    assert d.source is Source.COMPANION and d.topic == "lonely" and not d.fallback and d.alert is None
    assert d.reply.endswith("?") and "information" not in d.reply
    assert [a.tool for a in d.actions] == ["speak"]


def test_reminder_is_planned_and_committed_then_confirmed(care):
    d = care.decide("remind me to drink water in 15 minutes", person="chen")
    assert d.actions[0].tool == "set_reminder" and d.actions[0].args["resident"] == "chen"
    [rid] = care.commit(d)
    care.reminders.tick(datetime(2026, 11, 29, 10, 15))
    d2 = care.decide("yes, done", person="chen")
    assert d2.source is Source.RULE and care.reminders.reminders[rid].state.value == "confirmed"


def test_fetch_errand_is_planned_from_the_site_fetch_places(care):
    d = care.decide("Please bring me a glass of water.")
    assert [a.tool for a in d.actions] == ["speak", "fetch"]
    assert d.actions[1].args == {"item": "water", "place": "kitchen"}
    d = care.decide("帮我拿一下报纸")
    assert d.actions[1].args == {"item": "报纸", "place": "lounge"} and d.language == "zh"
    d = care.decide("bring me an umbrella")                   # nowhere known: staff brings it
    assert d.actions[0].tool == "call_staff" and d.actions[0].args["urgency"] == "low"
    assert care.decide("bring me to the dining room").actions[1].tool == "navigate_to"


def test_yes_please_follows_the_offer_to_guide(hall):
    first = hall.decide("Where can I renew my ID card?", person="v1", session="s")
    assert "take you there" in first.reply
    d = hall.decide("Yes please, take me there.", person="v1", session="s")
    assert [a.tool for a in d.actions] == ["speak", "navigate_to"] and d.actions[1].args["place"] == "counter_2"
    assert d.citations == ["id_card_renewal"]
    # Only once, only for the same person, not after a decline.
    assert hall.decide("yes", person="v1", session="s").actions[-1].tool != "navigate_to"
    hall.decide("我要换身份证", person="v2", session="s")
    assert hall.decide("好的", person="v3", session="s").actions[-1].tool != "navigate_to"
    assert hall.decide("不用了，谢谢", person="v2", session="s").actions[-1].tool != "navigate_to"


def test_json_shape(care):
    out = care.decide("hello").to_json()
    assert set(out) == {"reply", "actions", "alert", "source", "latency_ms"}
    json.dumps(out)


def test_intents_and_places():
    places = PlaceIndex({"room_101": ("room 101", "101"), "nurse_station": ("nurse", "护士站"),
                         "counter_3": ("counter 3", "3号窗口")})
    assert detect_intent("take me to room 101", places).place == "room_101"
    assert detect_intent("带我去3号窗口", places).kind is IntentKind.NAVIGATE
    assert detect_intent("where is the nurse station", places) .kind is IntentKind.WHERE
    assert detect_intent("where is the nurse station", places).place == "nurse_station"
    assert detect_intent("I have 101 problems", places).place == ""
    assert detect_intent("what is for lunch", places).kind is IntentKind.NONE
    assert is_question("几点吃饭") and is_question("When is lunch?") and not is_question("I like tea")


def test_someone_to_talk_to_is_company_not_a_staff_request():
    places = PlaceIndex({})
    for company in ("想找个人说说话", "晚上睡不着，想找个人聊聊天", "找个人陪我坐坐"):
        assert detect_intent(company, places).kind is not IntentKind.STAFF, company
    for staff in ("找个人来帮我", "帮我找个人过来", "我要找工作人员聊聊"):
        assert detect_intent(staff, places).kind is IntentKind.STAFF, staff


def test_knowledge_loading_and_tokens(tmp_path):
    kb = load_knowledge("public_hall")
    assert "id_card_renewal" in kb.ids and kb.get("id_card_renewal").place == "counter_2"
    assert all(e.text.get("zh") for e in kb.entries)
    assert "身份" in tokens("我的身份证") and "renew" in tokens("renews")
    bad = tmp_path / "knowledge.yaml"
    bad.write_text("entries:\n  - {id: a, text: {en: x}}\n  - {id: a, text: {en: y}}\n")
    with pytest.raises(KnowledgeError):
        load_knowledge(bad)
    hits = Retriever(kb, use_embeddings=False).search("社保卡丢了怎么办")
    assert hits[0].entry.id in ("social_insurance", "id_card_lost")


@pytest.mark.parametrize("query, entry", [("我想找人帮我填个表", "info_desk"), ("在哪里排个队", "take_number")])
def test_separable_verbs_are_matched_with_fillers_inside(query, entry):
    """填表 said as 填个表 / 填一下表, 排队 as 排个队: the keyword is still found."""
    assert "填表" in tokens("帮我填一下表") and "排队" in tokens("排个队") and "帮忙" in tokens("帮个忙")
    hits = Retriever(load_knowledge("public_hall"), use_embeddings=False).search(query)
    assert hits[0].entry.id == entry and hits[0].keyword and hits[0].confident


def test_private_knowledge_stays_out_of_cloud_prompts(care):
    class CloudConfig:
        is_cloud = True

    class FakeLLM:   # only the config is read by _messages
        config = CloudConfig()

    hits = care.retriever.search("Which room is Mr. Zhang in?")
    assert hits[0].entry.private
    care.llm = FakeLLM()
    try:
        messages = care._messages("Which room is Mr. Zhang in?", hits, "en", "zhang", "s")
    finally:
        care.llm = None
    assert "room 101" not in messages[0]["content"]


@pytest.mark.parametrize("question, language", [("Where is the dining room?", "en"), ("餐厅在哪里？", "zh")])
def test_a_room_asked_for_is_not_said_to_be_in_itself(care, question, language):
    d = care.decide(question, person="where_room")
    assert d.reply.count("dining room" if language == "en" else "餐厅") == 1, d.reply
    assert "navigate_to" not in [a.tool for a in d.actions]                 # an offer, not a drive
