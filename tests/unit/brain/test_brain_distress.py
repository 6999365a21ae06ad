"""The distress and stop safety net without any LLM (issue 11): rules, kinds and severities,
what Whisper really writes, look-alikes, stop in context, the robot's own voice, promises
to call staff, shouts, and the LLM absent, down or talking nonsense."""
from __future__ import annotations

import pytest

from carebot.alert_enums import AlertKind, Severity
from carebot.brain import dialogue, fall_response, safety_rules, tools
from carebot.brain.check_in import CheckInConfig, ShoutCheckIn
from carebot.brain.dialogue import Brain, Source
from carebot.brain.distress import DistressKind, detect
from carebot.brain.fall_response import PublishAlert, Speak
from carebot.brain.own_voice import MIN_ECHO_TOKENS, OwnVoice
from carebot.brain.own_voice import tokens as own_voice_tokens
from carebot.brain.safety_rules import SafetyAction, evaluate
from carebot.brain.utterance import Utterance


def kind_of(text: str):
    found = detect(text)
    return (found.kind, found.severity) if found else None


@pytest.mark.parametrize("text, kind, severity", [
    ("my chest hurts", DistressKind.MEDICAL, Severity.CRITICAL),
    ("I can't breathe", DistressKind.MEDICAL, Severity.CRITICAL),
    ("i feel dizzy", DistressKind.MEDICAL, Severity.WARNING),
    ("I've got a terrible headache", DistressKind.MEDICAL, Severity.CRITICAL),
    ("my knee is sore", DistressKind.MEDICAL, Severity.WARNING),
    ("I don't feel well", DistressKind.MEDICAL, Severity.WARNING),
    ("my face has gone numb and my words are coming out wrong", DistressKind.MEDICAL, Severity.CRITICAL),
    ("call an ambulance", DistressKind.CALL_FOR_HELP, Severity.CRITICAL),
    ("nurse! nurse!", DistressKind.CALL_FOR_HELP, Severity.CRITICAL),
    ("get me a doctor", DistressKind.CALL_FOR_HELP, Severity.CRITICAL),
    ("my husband won't wake up", DistressKind.OTHER_PERSON, Severity.CRITICAL),
    ("someone collapsed in the corridor", DistressKind.OTHER_PERSON, Severity.CRITICAL),
    ("Mrs Li is on the floor and she isn't answering", DistressKind.OTHER_PERSON, Severity.CRITICAL),
    ("there's a fire in the kitchen", DistressKind.FIRE, Severity.CRITICAL),
    ("I can smell smoke", DistressKind.FIRE, Severity.CRITICAL),
    ("I think I took my tablets twice", DistressKind.MEDICATION, Severity.CRITICAL),
    ("they gave me the wrong medicine", DistressKind.MEDICATION, Severity.CRITICAL),
    ("I slipped and can't get up", DistressKind.FALL, Severity.CRITICAL),
    ("我不舒服", DistressKind.MEDICAL, Severity.WARNING),
    ("我胸口好闷", DistressKind.MEDICAL, Severity.CRITICAL),
    ("快叫救护车", DistressKind.CALL_FOR_HELP, Severity.CRITICAL),
    ("叫一下医生", DistressKind.CALL_FOR_HELP, Severity.CRITICAL),
    ("护士！护士！", DistressKind.CALL_FOR_HELP, Severity.CRITICAL),
    ("有没有人啊！", DistressKind.CALL_FOR_HELP, Severity.CRITICAL),
    ("有没有人在啊", DistressKind.CALL_FOR_HELP, Severity.CRITICAL),
    ("老王倒在地上不动了", DistressKind.OTHER_PERSON, Severity.CRITICAL),
    ("着火了", DistressKind.FIRE, Severity.CRITICAL),
    ("我吃错药了", DistressKind.MEDICATION, Severity.CRITICAL),
    ("我在厕所摔倒了", DistressKind.FALL, Severity.CRITICAL),
])
def test_each_kind_of_distress_gets_its_kind_and_severity(text, kind, severity):
    assert kind_of(text) == (kind, severity), text


@pytest.mark.parametrize("text", [
    "um my my chest hurts", "MY CHEST HURTS", "my chest hearts", "i cant breath", "helb me", "nurse nurse",
    "please call nine nine nine", "uh uh i i fell", "我我我不舒服", "嗯那个我心口疼", "就命啊", "護士快來",
    "着伙了", "我头好运啊",
    "I fell in the summer house", "help, I fell over in the winter garden",   # a season, but a place
    "头痛得比以前都厉害", "胸口比以前更闷了",        # 比以前 compares with before: now
    "I miss my wife and I've taken all my sleeping tablets at once",
])
def test_what_whisper_really_writes_still_alerts(text):
    assert detect(text) is not None, text


@pytest.mark.parametrize("text", [
    "the fire drill is at three", "I'm sick of this weather", "where is the nurse station?",
    "my heart belongs to my wife", "I stopped smoking years ago", "what should I do if there's a fire",
    "my husband had a stroke years ago, he is fine now", "can I stroke the cat", "the doctor's office is upstairs",
    "help yourself to a biscuit", "I'm dying for a cup of tea", "I fell asleep in my chair",
    "停车场在哪里", "这个药在哪里买", "我心疼我孙子", "火锅好吃", "消防演习几点开始", "如果着火了怎么办",
    "我昨晚睡得好没有头痛", "小心别摔倒",
    "有没有人陪我打两圈麻将啊", "有没有人会下象棋",          # "anyone for mahjong?" is not "is anyone there?!"
    "My sister died in the summer and I still can't believe it", "my father died in 1998",
])
def test_look_alikes_stay_quiet(text):
    assert evaluate(text).action is SafetyAction.NONE, (text, evaluate(text).pattern)


@pytest.mark.parametrize("text", [
    "Stop, you are blocking the door", "I said stop", "stop stop", "go away", "back off",
    "don't come any closer", "you're too close", "别过来", "走开", "快停下来", "不要再往前走了",
    "停一下，你挡住门了", "婷一下",
])
def test_stop_in_context_stops(text):
    decision = evaluate(text)
    assert decision.action is SafetyAction.STOP and decision.stop_robot, text


@pytest.mark.parametrize("text", [
    "where is the bus stop?", "I stopped smoking", "停车场在哪里？", "can you stop by my room later",
    "don't go away, I like talking to you", "the bus doesn't stop here anymore, does it", "听一下这首歌",
    "back up the photos on my tablet",
])
def test_stop_look_alikes_do_not_stop(text):
    assert evaluate(text).action is SafetyAction.NONE, (text, evaluate(text).pattern)


def test_emergency_wins_over_stop_and_says_what_it_did():
    decision = evaluate("stop, there's smoke coming from the kitchen")
    assert decision.action is SafetyAction.EMERGENCY and decision.alert.kind is AlertKind.FIRE
    assert "fire alert" in decision.reply and decision.cancel_motion


def _robot_sentences() -> list[str]:
    """Every fixed sentence the brain can say."""
    out = [t for pair in dialogue._T.values() for t in pair]
    out += [t for pair in safety_rules.REPLIES.values() for t in pair] + list(safety_rules.STOPPING.values())
    for module in (fall_response, __import__("carebot.brain.check_in", fromlist=["_"])):
        for name, value in vars(module).items():
            if name.startswith("_") and isinstance(value, dict) and set(value) == {"en", "zh"}:
                out += list(value.values())
    out += [t for name, value in vars(tools).items() if name.startswith("_") and isinstance(value, tuple)
            and len(value) == 2 and all(isinstance(v, str) for v in value) for t in value]
    return out


def test_the_robot_never_alarms_itself():
    """Any sentence the robot says, heard back from its loudspeaker, raises nothing."""
    sentences = _robot_sentences() + ["Do you need help?", "请不要动"]
    assert len(sentences) > 40
    voice = OwnVoice(clock=lambda: 100.0)
    for sentence in sentences:
        voice.said(sentence)
        if len(own_voice_tokens(sentence)) < MIN_ECHO_TOKENS:
            # Too short to be told from a resident's words: must not alarm anyone at all.
            assert evaluate(sentence).action is SafetyAction.NONE, sentence
            continue
        assert voice.is_own(sentence), sentence
        assert voice.is_own(sentence.lower().rstrip(".?!。？！")), sentence
    # The offers of help it asks are not distress even without the echo filter.
    for question in ("Do you need help?", "Are you all right? Do you need help?",
                     "I'm sorry you are not feeling well."):
        assert evaluate(question).action is SafetyAction.NONE, question


def test_own_voice_is_forgotten_and_never_swallows_a_short_call():
    now = [0.0]
    voice = OwnVoice(window_s=5.0, clock=lambda: now[0])
    voice.said("Hello, I am the care robot. Are you all right? Do you need help?")
    assert voice.is_own("are you all right do you need help")
    assert not voice.is_own("help")                       # one word is never taken for an echo
    assert not voice.is_own("my chest hurts, I need help")  # mostly the resident's own words
    now[0] = 60.0
    assert not voice.is_own("are you all right do you need help")


@pytest.fixture
def brain():
    return Brain("care_home", use_embeddings=False)


def test_yes_to_the_offer_of_staff_calls_them(brain):
    first = brain.decide("What is the capital of Peru?", person="mr_wong", session="s1")
    assert "staff" in first.reply and first.alert is None
    second = brain.decide("yes please", person="mr_wong", session="s1")
    assert [a.tool for a in second.actions][0] == "call_staff" and second.alert is not None
    assert "Peru" in second.actions[0].args["reason"]


def test_chinese_yes_to_the_offer_calls_staff_and_no_does_not(brain):
    first = brain.decide("今天股市怎么样？", person="li", session="s2")
    assert "工作人员" in first.reply
    assert brain.decide("好的", person="li", session="s2").alert is not None
    brain.decide("今天股市怎么样？", person="wang", session="s3")
    declined = brain.decide("不用了，谢谢", person="wang", session="s3")
    assert declined.alert is None and not any(a.tool == "call_staff" for a in declined.actions)


def test_an_offer_expires(brain):
    clock = [0.0]
    timed = Brain("care_home", use_embeddings=False, clock=lambda: clock[0])
    timed.decide("What is the capital of Peru?", person="p", session="s")
    clock[0] = Brain.OFFER_VALID_S + 1
    assert timed.decide("yes", person="p", session="s").alert is None


def test_distress_needs_no_llm_when_it_is_absent_down_or_talking_nonsense():
    from carebot.brain import scripted_llm as s
    from carebot.brain.llm_client import Backend, LLMClient, LLMConfig

    texts = ["my chest hurts", "快叫救护车", "there's a fire in the kitchen"]
    absent = Brain("care_home", llm=None, use_embeddings=False)
    down = Brain("care_home", use_embeddings=False, llm=LLMClient(LLMConfig(
        backend=Backend.OPENAI_COMPATIBLE, base_url="http://127.0.0.1:9/v1", timeout_s=0.5, deadline_s=1.0,
        max_retries=0)))
    with s.ScriptedLLMServer([s.Step("garbage")] * 10) as server:
        garbage = Brain("care_home", use_embeddings=False, llm=LLMClient(LLMConfig(
            backend=Backend.OPENAI_COMPATIBLE, base_url=server.url, timeout_s=2.0, deadline_s=3.0, max_retries=0)))
        for brain in (absent, down, garbage):
            for text in texts:
                decision = brain.decide(text, person="r1")
                assert decision.source is Source.RULE and decision.alert is not None, (text, decision)
                assert decision.alert.severity is Severity.CRITICAL
                assert decision.latency_ms < 500
        assert server.requests == []        # nobody asked the LLM
        # ... and an ordinary request still reaches the garbage LLM and falls back to speech.
        fallback = garbage.decide("Tell me something nice about the sea")
        assert fallback.source is Source.LLM and fallback.alert is None and "staff" in fallback.reply


def test_a_shout_check_in_answers_and_timeouts():
    check = ShoutCheckIn(CheckInConfig(answer_timeout_s=10.0, quiet_after_s=30.0))
    effects = check.on_shout(0.0, -3.0)
    assert isinstance(effects[0], Speak) and "Are you all right" in effects[0].text
    assert check.on_shout(1.0) == []                      # one check-in at a time
    assert isinstance(check.on_transcript("I'm fine, I just dropped a pan", 2.0)[0], Speak)
    assert not check.listening and check.on_shout(5.0) == []   # quiet for a while after
    check.on_shout(40.0, -2.0)
    assert check.tick(45.0) == []
    effects = check.tick(50.5)
    alert = next(e.alert for e in effects if isinstance(e, PublishAlert))
    assert alert.kind is AlertKind.HELP_REQUEST and "no answer" in alert.message
    check.on_shout(100.0)
    effects = check.on_transcript("no, my hip hurts", 101.0)
    assert next(e.alert for e in effects if isinstance(e, PublishAlert)).severity is Severity.CRITICAL
    check.on_shout(200.0, language="zh")
    assert "您还好吗" in check.on_transcript("嗯", 201.0)[0].text    # unclear: asks again, in Mandarin
    assert any(isinstance(e, PublishAlert) for e in check.on_transcript("啊", 202.0))


def test_utterance_forms():
    u = Utterance.of("Um, my MY chest... it hurts! Call nine nine nine")
    assert u.words == "my chest it hurts call 999"
    assert Utterance.of("護士，護士！").compact == "护士"
    assert Utterance.of("就命啊").repaired == "救命啊"
    assert Utterance.of("你听一下这首歌").repaired == ""          # 听 is never read as 停


# ----- words of ending one's life: staff must hear them at once (none of these alerted before 4 Dec)
@pytest.mark.parametrize("text", [
    "I don't want to live any more", "i dont want to live", "I want to end it all", "I want to kill myself",
    "I'd be better off dead", "I wish I was dead", "there's no point in living", "I'm sick and tired of living",
    "I want to die", "I don't want to be here any more, I want to end it", "I want to end my life",
    "我不想活了", "活着没意思，想死", "我真想死了算了", "活着还有什么意思", "我想自杀", "活不下去了",
    "life isn't worth living any more", "我想一了百了", "我觉得活着就是受罪",
])
def test_thoughts_of_ending_ones_life_alert_staff_with_a_fitting_reply(text):
    found = detect(text)
    assert found is not None and (found.kind, found.severity, found.topic) == (
        DistressKind.MEDICAL, Severity.CRITICAL, "self_harm"), (text, found)
    decision = evaluate(text)
    assert decision.action is SafetyAction.EMERGENCY
    language = "zh" if Utterance.of(text).language == "zh" else "en"
    assert decision.reply == safety_rules.TOPIC_REPLIES["self_harm"][1 if language == "zh" else 0]
    assert "lie down" not in decision.reply and "stay still" not in decision.reply


@pytest.mark.parametrize("text", [
    "I don't want to be here, I want to go home", "I don't want to live in this room", "I don't want to live alone",
    "let's end the call", "I want to end it here, thanks for the chat", "in the film he wanted to kill himself",
    "what if I want to end it", "I'm dying for a cup of tea", "the end of my life story is a happy one",
    "想死你了", "笑死我了", "电视剧里那个人想自杀", "我老伴走了两年了，我天天想他",
])
def test_look_alikes_of_those_words_stay_quiet(text):
    assert detect(text) is None, (text, detect(text))


@pytest.mark.parametrize("text", [
    "I don't know what's wrong with me, I just feel a bit down in the dumps",
    "what's wrong with me today, I'm so fed up",
])
def test_wrong_with_me_said_of_a_mood_is_no_emergency(text):
    assert detect(text) is None


@pytest.mark.parametrize("text, severity", [
    ("I don't know what's wrong with me", Severity.CRITICAL),
    ("something is seriously wrong with me", Severity.CRITICAL),
    ("something's wrong with me, I feel low", Severity.CRITICAL),      # "low" may be a hypo: not a mood word
    ("I feel a bit down, something's wrong with my chest", Severity.CRITICAL),
])
def test_wrong_with_me_stays_an_emergency_without_a_mood(text, severity):
    found = detect(text)
    assert found is not None and found.severity is severity and found.kind is DistressKind.MEDICAL


@pytest.mark.parametrize("text, mood_only", [
    ("I just feel a bit down in the dumps", True), ("I'm feeling so lonely and sad", True),
    ("我今天心情不太好", True), ("一个人待着，好孤单", True),
    ("I feel low", False), ("I'm down on the floor", False), ("I feel sad and my chest hurts", False),
    ("I feel a bit down and I can't get up", False), ("心情不好，头也晕", False), ("What time is lunch?", False),
])
def test_words_of_mood_only(text, mood_only):
    from carebot.brain.distress import speaks_only_of_mood
    assert speaks_only_of_mood(text) is mood_only


class _SaysUnwell:
    """Stand-in for the e5 half (measured by benchmarks/distress_bench.py): always the
    nearest example "I'm not feeling myself today", at the severity given."""

    def __init__(self, severity):
        self.severity = severity

    def check(self, utterance):
        from carebot.brain.distress import Distress
        return Distress(DistressKind.MEDICAL, self.severity, "like \"i'm not feeling myself today\"",
                        via="similarity"), False


def test_a_similarity_warning_on_words_of_mood_only_raises_no_alert():
    net = safety_rules.SafetyNet(_SaysUnwell(Severity.WARNING))
    assert net.evaluate("I just feel a bit down in the dumps").action is SafetyAction.NONE
    assert net.evaluate("我今天心情不太好").action is SafetyAction.NONE
    # a body word beside the mood, or no mood word at all: the finding stands
    assert net.evaluate("I feel sad and a bit dizzy").action is SafetyAction.EMERGENCY
    assert net.evaluate("I'm not quite right today").action is SafetyAction.EMERGENCY
    # a critical finding is never dropped
    critical = safety_rules.SafetyNet(_SaysUnwell(Severity.CRITICAL))
    assert critical.evaluate("I feel so sad and lonely").action is SafetyAction.EMERGENCY


class _SaysMedication:
    """A similarity check that finds a medication problem (non-critical) in anything."""

    def check(self, utterance):
        from carebot.brain.distress import Distress
        return Distress(DistressKind.MEDICATION, Severity.WARNING, "like \"pills twice i think i took them twice\"",
                        via="similarity"), False


def test_a_medication_finding_by_likeness_needs_a_medicine_named():
    net = safety_rules.SafetyNet(_SaysMedication())
    assert net.evaluate("I've read every book on that shelf twice").action is SafetyAction.NONE
    assert net.evaluate("这本书我看了两遍了").action is SafetyAction.NONE
    assert net.evaluate("I think I had my tablets already, did I have them twice?").action is SafetyAction.EMERGENCY
    assert net.evaluate("我刚才是不是吃过药了").action is SafetyAction.EMERGENCY


@pytest.mark.parametrize("text, mood_only", [
    ("老伴走了五年了，我还天天跟他说说话", True),             # a death long past: grief, company
    ("My wife passed away two years ago and I still talk to her", True),
    ("It has been three years since my husband died", True),
    ("我老伴走了，我胸口好疼", False),                         # the body named: the nurse decides
    ("老伴刚走了", False),                                     # no time gone by: not for this guard
    ("我头好晕", False),
])
def test_a_death_long_past_is_grief_not_a_medical_finding(text, mood_only):
    from carebot.brain.distress import speaks_only_of_mood

    assert speaks_only_of_mood(text) is mood_only
