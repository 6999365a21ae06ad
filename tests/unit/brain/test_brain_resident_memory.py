"""What residents chose to tell, kept with consent (issue 13): extraction, the SQLite store, the brain.

A fact is kept only after the resident said yes (kept in the file: another store on the
same path sees it); replies and a local LLM's prompt use it (a cloud LLM's only when the
site allows); "forget what I told you" / 忘掉我说的 removes facts and consent; no speaker
id keeps nothing; staff can list what is kept.
"""
from datetime import datetime

import pytest

from carebot.brain.dialogue import Brain, Source, say
from carebot.brain.llm_client import Backend, LLMClient, LLMConfig
from carebot.brain.resident_memory import (MAX_FACTS_PER_RESIDENT, Fact, ResidentMemory, extract_facts,
                                           is_forget_request, is_remember_request)

NOW = datetime(2026, 11, 29, 10, 0)
MARY = Fact("family", "Mary", "daughter", "en")


class Tick:
    """A clock that moves one second per reading (facts are ordered by when they were told)."""

    def __init__(self):
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def store(tmp_path):
    memory = ResidentMemory(tmp_path / "residents" / "r.sqlite", clock=Tick())
    yield memory
    memory.close()


@pytest.fixture
def brain(store):
    return Brain("care_home", use_embeddings=False, wall_clock=lambda: NOW, residents=store)


# ------------------------------------------------------------------ extraction (pure)
@pytest.mark.parametrize("text, fact", [
    ("My daughter's name is Mary", Fact("family", "Mary", "daughter", "en")),
    ("my daughter is called Mary", Fact("family", "Mary", "daughter", "en")),
    ("My son Tom lives in Leeds", Fact("family", "Tom", "son", "en")),
    ("My mum is called Edith", Fact("family", "Edith", "mother", "en")),
    ("My name is Alice Brown", Fact("name", "Alice Brown", "", "en")),
    ("Call me Bob", Fact("name", "Bob", "", "en")),
    ("I love gardening in the summer", Fact("likes", "gardening", "", "en")),
    ("I used to work as a teacher", Fact("job", "as a teacher", "", "en")),
    ("I was a nurse for 30 years", Fact("job", "as a nurse", "", "en")),
    ("When I was young I worked on the railways", Fact("job", "on the railways", "", "en")),
    ("I grew up in Manchester", Fact("hometown", "Manchester", "", "en")),
    ("I was born in York in 1940", Fact("hometown", "York", "", "en")),
    ("I grew up in Leeds in the fifties", Fact("hometown", "Leeds", "", "en")),
    ("我女儿叫小梅", Fact("family", "小梅", "daughter", "zh")),
    ("我的女儿叫小梅。", Fact("family", "小梅", "daughter", "zh")),
    ("我叫王芳", Fact("name", "王芳", "", "zh")),
    ("我喜欢唱歌", Fact("likes", "唱歌", "", "zh")),
    ("我以前是老师", Fact("job", "是老师", "", "zh")),
    ("我年轻的时候在铁路上工作", Fact("job", "在铁路上工作", "", "zh")),
    ("我是四川人", Fact("hometown", "四川", "", "zh")),
])
def test_extract_facts_finds_what_a_resident_tells(text, fact):
    assert extract_facts(text) == [fact]


@pytest.mark.parametrize("text", ["The weather is nice", "I like it", "I like you", "my daughter is very kind",
                                  "my son she lives in leeds", "What time is lunch?", "我喜欢你", "午饭几点？", ""])
def test_extract_facts_keeps_nothing_from_what_is_not_a_fact(text):
    assert extract_facts(text) == []


def test_one_fact_per_family_relation_per_utterance():
    facts = extract_facts("My daughter is called Mary, my daughter Mary lives in Leeds")
    assert facts == [MARY]


def test_a_fact_reads_as_a_phrase_and_a_clause():
    assert MARY.describe("en") == "your daughter Mary" and MARY.statement("en") == "your daughter is called Mary"
    zh = Fact("family", "小梅", "daughter", "zh")
    assert zh.describe("zh") == "您的女儿小梅" and zh.statement("zh") == "您的女儿叫小梅"
    assert Fact("job", "on the railways").describe("en") == "you worked on the railways"


@pytest.mark.parametrize("text, forget", [
    ("forget what I told you", True), ("Please forget everything I said", True), ("delete my data", True),
    ("forget about me", True), ("忘掉我说的", True), ("把我说的都忘了吧", True), ("删除我的信息", True),
    ("I forgot my glasses", False), ("Don't forget my pills", False), ("forget about it", False),
    ("我忘了吃药", False), ("Remember that my daughter is called Mary", False),
])
def test_is_forget_request(text, forget):
    assert is_forget_request(text) is forget


def test_is_remember_request():
    assert is_remember_request("Remember that my daughter is called Mary")
    assert is_remember_request("记住我女儿叫小梅")
    assert not is_remember_request("My daughter is called Mary")
    assert not is_remember_request("Do you remember my daughter?")


# ------------------------------------------------------------------ the store
def test_nothing_is_kept_without_consent(store):
    assert store.consent("r1") is None
    assert store.remember("r1", [MARY]) == 0 and store.facts("r1") == []
    store.set_consent("r1", False)
    assert store.consent("r1") is False
    assert store.remember("r1", [MARY]) == 0 and store.facts("r1") == []


def test_kept_facts_are_in_the_file(store, tmp_path):
    store.set_consent("r1", True)
    assert store.remember("r1", [MARY, Fact("likes", "gardening")]) == 2
    assert store.remember("r1", [MARY]) == 0                    # told again: nothing new
    again = ResidentMemory(tmp_path / "residents" / "r.sqlite")
    try:
        assert again.consent("r1") is True
        assert again.facts("r1") == [MARY, Fact("likes", "gardening")]
    finally:
        again.close()


def test_a_single_valued_fact_told_again_replaces_the_old_value(store):
    store.set_consent("r1", True)
    store.remember("r1", [Fact("name", "Alice"), Fact("job", "as a nurse")])
    store.remember("r1", [Fact("name", "Alicia")])
    assert store.facts("r1") == [Fact("job", "as a nurse"), Fact("name", "Alicia")]


def test_family_relations_add_up_and_single_valued_kinds_are_replaced(store):
    """Two daughters are two facts; a second job or home town replaces the first."""
    store.set_consent("r1", True)
    store.remember("r1", [Fact("family", "Mary", "daughter"), Fact("job", "a nurse")])
    store.remember("r1", [Fact("family", "Anne", "daughter"), Fact("job", "a teacher")])
    assert store.facts("r1") == [Fact("family", "Mary", "daughter"), Fact("family", "Anne", "daughter"),
                                 Fact("job", "a teacher")]


def test_a_memory_not_a_file_on_the_person(store):
    store.set_consent("r1", True)
    store.remember("r1", [Fact("likes", f"hobby number {i}") for i in range(MAX_FACTS_PER_RESIDENT + 5)])
    kept = [f.value for f in store.facts("r1")]
    assert len(kept) == MAX_FACTS_PER_RESIDENT
    assert kept[0] == "hobby number 5" and kept[-1] == f"hobby number {MAX_FACTS_PER_RESIDENT + 4}"


def test_no_resident_id_keeps_nothing(store):
    with pytest.raises(ValueError):
        store.set_consent("", True)
    assert store.remember("", [MARY]) == 0 and store.facts("") == [] and store.residents() == []


def test_forget_removes_facts_and_consent_of_that_resident_only(store):
    for resident in ("r1", "r2"):
        store.set_consent(resident, True)
        store.remember(resident, [MARY])
    assert store.forget("r1") == 1
    assert store.facts("r1") == [] and store.consent("r1") is None
    assert store.facts("r2") == [MARY] and store.consent("r2") is True


def test_residents_lists_what_is_kept_for_staff(store):
    store.set_consent("room_102", True)
    store.remember("room_102", [MARY, Fact("name", "Alice")])
    store.set_consent("room_101", False)
    assert store.residents() == [("room_101", False, 0), ("room_102", True, 2)]


# ------------------------------------------------------------------ through the brain
def test_a_told_fact_is_kept_only_after_a_yes(brain, store, tmp_path):
    asked = brain.decide("My daughter's name is Mary", person="room_102")
    assert asked.source is Source.COMPANION and asked.topic == "memory"
    assert asked.reply == say("consent_ask", "en", fact="your daughter is called Mary")
    assert store.facts("room_102") == [] and store.consent("room_102") is None       # not before the yes
    yes = brain.decide("yes", person="room_102")
    assert yes.reply == say("consent_yes", "en") and [a.tool for a in yes.actions] == ["speak"]
    reopened = ResidentMemory(tmp_path / "residents" / "r.sqlite")
    try:
        assert reopened.facts("room_102") == [MARY] and reopened.consent("room_102") is True
    finally:
        reopened.close()
    # A later reply uses it.
    later = brain.decide("I miss my daughter", person="room_102")
    assert later.topic == "missing_family" and "your daughter Mary" in later.reply


def test_mandarin_fact_consent_and_use(brain, store):
    asked = brain.decide("我女儿叫小梅", person="room_103")
    assert asked.reply == say("consent_ask", "zh", fact="您的女儿叫小梅") and store.facts("room_103") == []
    brain.decide("好的", person="room_103")
    assert store.facts("room_103") == [Fact("family", "小梅", "daughter", "zh")]
    later = brain.decide("我想我女儿了", person="room_103")
    assert "您的女儿小梅" in later.reply


def test_a_fact_told_in_social_talk_asks_consent_instead_of_the_follow_up(brain, store):
    d = brain.decide("I miss my daughter. My daughter's name is Mary.", person="room_102")
    assert d.topic == "missing_family"
    assert d.reply.endswith(say("consent_ask", "en", fact="your daughter is called Mary"))
    assert d.reply.count("?") == 1                                 # one question at a time
    brain.decide("yes", person="room_102")
    assert store.facts("room_102") == [MARY]


def test_after_consent_facts_are_kept_as_they_are_told(brain, store):
    brain.decide("My daughter's name is Mary", person="room_102")
    brain.decide("yes", person="room_102")
    brain.decide("When I was young I worked on the railways", person="room_102")
    assert Fact("job", "on the railways") in store.facts("room_102")
    d = brain.decide("When I was young I worked on the railways", person="room_102")
    assert "You told me you worked on the railways." in d.reply


def test_a_no_is_kept_and_only_remember_overrides_it(brain, store):
    brain.decide("My daughter's name is Mary", person="room_101")
    declined = brain.decide("no thanks", person="room_101")
    assert declined.reply == say("consent_no", "en") and store.consent("room_101") is False
    again = brain.decide("My son is called Tom", person="room_101")
    assert "remember" not in again.reply.lower() and store.facts("room_101") == []     # not asked again
    told = brain.decide("Remember that my son is called Tom", person="room_101")
    assert told.reply == say("remembered", "en", fact="your son is called Tom")
    assert store.consent("room_101") is True and store.facts("room_101") == [Fact("family", "Tom", "son")]


@pytest.mark.parametrize("forget, language", [("forget what I told you", "en"), ("忘掉我说的", "zh")])
def test_forget_what_i_told_you(brain, store, forget, language):
    brain.decide("My daughter's name is Mary", person="room_102")
    brain.decide("yes", person="room_102")
    assert store.facts("room_102") == [MARY]
    d = brain.decide(forget, person="room_102")
    assert d.reply == say("forgotten", language) and d.language == language
    assert store.facts("room_102") == [] and store.consent("room_102") is None and store.residents() == []
    # Consent is gone too: the next fact is asked about again, not kept.
    asked = brain.decide("My son is called Tom", person="room_102")
    assert asked.reply == say("consent_ask", "en", fact="your son is called Tom") and store.facts("room_102") == []


def test_no_speaker_id_keeps_nothing(brain, store):
    d = brain.decide("My daughter's name is Mary", person="")
    assert "remember" not in d.reply.lower()
    brain.decide("yes", person="")
    told = brain.decide("Remember that my daughter is called Mary", person="")
    assert told.reply == say("no_memory", "en")
    assert store.residents() == []


def test_residents_lists_what_the_brain_kept(brain, store):
    brain.decide("My daughter's name is Mary", person="room_102")
    brain.decide("yes", person="room_102")
    brain.decide("My name is Alice", person="room_101")
    brain.decide("no", person="room_101")
    assert store.residents() == [("room_101", False, 0), ("room_102", True, 1)]


# ------------------------------------------------------------------ the LLM's prompt
def _prompt(store, backend: Backend, to_cloud: bool = False) -> str:
    config = LLMConfig(backend=backend, base_url="http://127.0.0.1:9/v1")      # never contacted
    brain = Brain("care_home", llm=LLMClient(config), use_embeddings=False, wall_clock=lambda: NOW,
                  residents=store, resident_memory_to_cloud=to_cloud)
    messages = brain._messages("What should I get my daughter for her birthday?", [], "en", "room_102", "")
    assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
    return messages[0]["content"]


def test_a_local_llm_gets_the_residents_facts_as_data(store):
    store.set_consent("room_102", True)
    store.remember("room_102", [MARY, Fact("job", "on the railways")])
    system = _prompt(store, Backend.OPENAI_COMPATIBLE)
    block = system[system.index("<resident>"):system.index("</resident>")]
    assert "your daughter is called Mary" in block and "you worked on the railways" in block
    assert "<resident>" in _prompt(store, Backend.EMBEDDED)


def test_a_cloud_llm_gets_them_only_when_the_site_allows(store):
    store.set_consent("room_102", True)
    store.remember("room_102", [MARY])
    system = _prompt(store, Backend.DEEPSEEK)
    assert "<resident>" not in system and "Mary" not in system
    allowed = _prompt(store, Backend.DEEPSEEK, to_cloud=True)
    assert "<resident>" in allowed and "your daughter is called Mary" in allowed


def test_no_resident_block_for_someone_else_or_nobody(store):
    store.set_consent("room_102", True)
    store.remember("room_102", [MARY])
    config = LLMConfig(backend=Backend.OPENAI_COMPATIBLE, base_url="http://127.0.0.1:9/v1")
    brain = Brain("care_home", llm=LLMClient(config), use_embeddings=False, wall_clock=lambda: NOW, residents=store)
    for person in ("room_101", ""):
        assert "<resident>" not in brain._messages("Hello there", [], "en", person, "")[0]["content"]
