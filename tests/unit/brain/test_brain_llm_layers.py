"""Layers that know their limits (issue 13), against the scripted DeepSeek-format server over real HTTP.

The site's knowledge answers what it covers without an LLM request; the LLM answers the
rest; the reply guard replaces a refused LLM reply with the companionship reply or the
spoken fallback; a streamed reply is handed over sentence by sentence before the
decision returns, and reasoning (``reasoning_content``, ``<think>``) is never spoken.
"""
import re
import time
from datetime import datetime

import openai  # noqa: F401 - imported with the module, not inside the first test's timing
import pytest

from carebot.brain import scripted_llm as s
from carebot.brain.dialogue import Brain, Source, say
from carebot.brain.llm_client import Backend, LLMClient, LLMConfig
from carebot.brain.tools import ToolPolicy

NOW = datetime(2026, 11, 29, 10, 0)
NONSENSE_EN = "Blorf snazzle quimbly tronk wib."
POLICY = ToolPolicy(places=("lounge",))
_CJK = re.compile(r"[\u3400-\u9fff]")


def config(server, backend: Backend = Backend.OPENAI_COMPATIBLE, **kw) -> LLMConfig:
    return LLMConfig(backend=backend, base_url=server.url, timeout_s=kw.pop("timeout_s", 3.0), backoff_s=0.05,
                     max_backoff_s=0.5, **kw)


def llm_brain(server, backend: Backend = Backend.OPENAI_COMPATIBLE, **kw) -> Brain:
    return Brain("care_home", llm=LLMClient(config(server, backend, **kw)), use_embeddings=False,
                 wall_clock=lambda: NOW)


def user_text(request: dict) -> str:
    return request["messages"][-1]["content"]


def in_language(request: dict) -> s.Step:
    """A model that answers in the language it was asked in."""
    if _CJK.search(user_text(request)):
        return s.text("这个我不太清楚，我可以帮您问问工作人员。")
    return s.text("I'm not sure about that, but I can ask a member of staff for you.")


# ------------------------------------------------------------------ knowledge first, the LLM for the rest
@pytest.mark.parametrize("known, cited, unknown", [
    ("When does the hairdresser come?", "hairdresser", "When does the podiatrist come?"),
    ("What time is lunch?", "lunch", "What time is the church service?"),
    ("理发师什么时候来？", "hairdresser", "邮递员几点来？"),
])
def test_knowledge_answers_what_the_site_knows_and_the_llm_the_rest(known, cited, unknown):
    with s.ScriptedLLMServer(responder=in_language) as server:
        brain = llm_brain(server)
        k = brain.decide(known, person="room_102")
        assert k.source is Source.KNOWLEDGE and k.citations == [cited] and not k.fallback
        assert server.requests == []                       # the LLM was not asked
        u = brain.decide(unknown, person="room_102")
        assert u.source is Source.LLM and not u.fallback and u.guard == ""
        assert len(server.requests) == 1 and user_text(server.requests[0]) == unknown
        assert u.reply == in_language(server.requests[0]).content


# ------------------------------------------------------------------ the guard replaces a refused reply
def test_a_nonsense_reply_to_social_talk_is_replaced_by_the_companionship_reply():
    with s.ScriptedLLMServer([s.text(NONSENSE_EN)]) as server:
        d = llm_brain(server).decide("I feel so lonely today", person="room_102")
    assert len(server.requests) == 1                          # a capable LLM was asked (small_talk auto)
    assert d.source is Source.COMPANION and d.topic == "lonely" and d.fallback
    assert "real words" in d.guard and "Blorf" not in d.reply
    assert "?" in d.reply and [a.tool for a in d.actions] == ["speak"]


def test_a_nonsense_reply_to_anything_else_is_replaced_by_the_spoken_fallback():
    with s.ScriptedLLMServer([s.text(NONSENSE_EN)]) as server:
        d = llm_brain(server).decide("I feel like a change of scenery", person="room_102")
    assert d.source is Source.LLM and d.fallback and d.guard
    assert d.reply == say("fallback", "en") and [a.tool for a in d.actions] == ["speak"]


@pytest.mark.parametrize("reply", ["哈哈哈哈哈哈哈哈哈哈。", "Sure, I can help with that.", "我我我我我我我。"])
def test_a_looping_or_wrong_language_reply_to_mandarin_is_replaced(reply):
    with s.ScriptedLLMServer([s.text(reply)]) as server:
        d = llm_brain(server).decide("我想换换环境", person="room_102")
    assert d.fallback and d.guard and d.reply == say("fallback", "zh") and d.language == "zh"


def test_the_same_llm_reply_as_last_time_is_not_said_again():
    same = "A change of scenery sounds lovely. Shall we go to the lounge?"
    with s.ScriptedLLMServer([s.text(same)]) as server:
        brain = llm_brain(server)
        first = brain.decide("I feel like a change of scenery", person="room_102")
        second = brain.decide("I would like a change of scenery", person="room_102")
    assert first.reply == same and not first.fallback
    assert second.fallback and "last time" in second.guard and second.reply != same


def test_the_embedded_models_mandarin_is_never_asked_for():
    """The bundled model's Mandarin is nonsense: Mandarin social talk goes to the companion, the rest to
    the fallback."""
    with s.ScriptedLLMServer([s.text("没有什么可能的话,我是老师. 家里看到你")]) as server:
        brain = llm_brain(server, Backend.EMBEDDED)
        social = brain.decide("我有点孤单，陪我聊聊天吧", person="room_102")
        other = brain.decide("我想换换环境", person="room_103")
    assert server.requests == []
    assert social.source is Source.COMPANION and social.topic == "lonely" and "老师" not in social.reply
    assert other.fallback and other.reply == say("fallback", "zh") and "not spoken" in other.llm_error


def test_a_correct_answer_that_names_what_was_asked_is_spoken():
    """The guard's echo check must not refuse a plain answer ("The capital of Peru is Lima.")."""
    answer = "The capital of Peru is Lima."
    with s.ScriptedLLMServer([s.text(answer)]) as server:
        d = llm_brain(server).decide("What is the capital of Peru?", person="room_102")
    assert len(server.requests) == 1
    assert d.source is Source.LLM and not d.fallback and d.guard == "" and d.reply == answer


# ------------------------------------------------------------------ streaming, sentence by sentence
REPLY = ("A walk in the garden would be lovely this morning. The roses are still in bloom near the bench. "
         "Shall we go out after lunch?")
SENTENCES = ["A walk in the garden would be lovely this morning.", "The roses are still in bloom near the bench.",
             "Shall we go out after lunch?"]


def decide_live(brain: Brain, text: str, person: str = "room_102"):
    heard: list[tuple[float, str, str]] = []
    start = time.monotonic()
    d = brain.decide(text, person=person, on_sentence=lambda sentence, lang: heard.append(
        (time.monotonic(), sentence, lang)))
    return d, heard, start, time.monotonic()


def test_a_streamed_reply_is_handed_over_sentence_by_sentence_before_decide_returns(monkeypatch):
    delay, size = 0.03, 6
    sent: list[float] = []             # when the server took each chunk to send (it sleeps delay, then writes)
    chunks = s.deepseek_chunks

    def timed_chunks(step, model="deepseek-chat"):
        for chunk in chunks(step, model):
            sent.append(time.monotonic())
            yield chunk

    monkeypatch.setattr(s, "deepseek_chunks", timed_chunks)
    step = s.Step("text", content=REPLY, chunk_chars=size, chunk_delay_s=delay)
    with s.ScriptedLLMServer([step]) as server:
        d, heard, _, returned = decide_live(llm_brain(server), "I feel like a change of scenery")
    assert server.requests[0].get("stream") is True
    assert [h[1] for h in heard] == SENTENCES and {h[2] for h in heard} == {"en"}
    times = [h[0] for h in heard]
    assert times == sorted(times) and times[-1] <= returned
    # The first sentence was handed over while the model was still writing: clearly before the
    # server even took its last chunk (about ten chunks, delay apart, were still to come).
    assert times[0] < sent[-1] - 5 * delay, (sent[-1] - times[0])
    assert returned - times[0] >= 0.8 * ((len(REPLY) - len(SENTENCES[0]) - 1) // size) * delay
    assert times[1] - times[0] >= 0.5 * (len(SENTENCES[1]) // size) * delay       # one by one, not in a batch
    assert d.spoken_live and d.source is Source.LLM and not d.fallback
    assert d.reply == " ".join(SENTENCES) and [a.tool for a in d.actions] == ["speak"]


def test_reasoning_never_reaches_the_listener():
    step = s.Step("text", content="<think>They sound restless; the garden is a secret idea.</think>" + REPLY,
                  reasoning="The resident wants a change. Private reasoning: suggest the garden.",
                  chunk_chars=5, chunk_delay_s=0.002)
    with s.ScriptedLLMServer([step]) as server:
        d, heard, _, _ = decide_live(llm_brain(server), "I feel like a change of scenery")
    assert [h[1] for h in heard] == SENTENCES
    said = " ".join(h[1] for h in heard) + d.reply + " ".join(str(a.args) for a in d.actions)
    assert "secret" not in said and "Private" not in said and "think" not in said
    assert d.spoken_live and d.reply == " ".join(SENTENCES)


def test_a_sentence_refused_mid_stream_ends_the_reply_and_what_was_said_stands():
    content = "The garden is lovely today. The garden is lovely today. Shall we go out?"
    step = s.Step("text", content=content, chunk_chars=6, chunk_delay_s=0.002)
    with s.ScriptedLLMServer([step]) as server:
        d, heard, _, _ = decide_live(llm_brain(server), "I feel like a change of scenery")
    assert [h[1] for h in heard] == ["The garden is lovely today."]
    assert d.spoken_live and d.reply == "The garden is lovely today." and "repeats" in d.guard
    assert [a.args["text"] for a in d.actions if a.tool == "speak"] == ["The garden is lovely today."]


def test_a_stream_refused_from_the_start_says_nothing_live_and_is_replaced():
    step = s.Step("text", content=NONSENSE_EN + " " + NONSENSE_EN, chunk_chars=6, chunk_delay_s=0.002)
    with s.ScriptedLLMServer([step]) as server:
        d, heard, _, _ = decide_live(llm_brain(server), "I feel so lonely today")
    assert heard == [] and not d.spoken_live
    assert d.source is Source.COMPANION and d.topic == "lonely" and d.fallback and "Blorf" not in d.reply


def test_a_streamed_speak_tool_call_is_handed_over_as_it_arrives():
    step = s.tool_calls(("speak", {"text": REPLY}), ("gesture", {"name": "wave"}))
    step.chunk_chars, step.chunk_delay_s = 6, 0.002
    with s.ScriptedLLMServer([step]) as server:
        d, heard, _, _ = decide_live(llm_brain(server), "I feel like a change of scenery")
    assert [h[1] for h in heard] == SENTENCES
    assert d.spoken_live and [a.tool for a in d.actions] == ["speak", "gesture"]


# ------------------------------------------------------------------ the client alone
def test_the_client_drops_reasoning_content_and_think_blocks_while_streaming():
    reasoning, thought = "Secret plan: be kind.", "hidden musing"
    step = s.Step("text", content=f"<think>{thought}</think>Hello there. How are you?", reasoning=reasoning,
                  chunk_chars=3)
    with s.ScriptedLLMServer([step]) as server:
        client = LLMClient(config(server))
        pieces: list[str] = []
        result = client.decide([{"role": "user", "content": "hi"}], POLICY, on_text=pieces.append)
        client.close()
    assert "".join(pieces) == "Hello there. How are you?" == result.streamed == result.text
    assert not any("Secret" in p or "musing" in p or "<" in p for p in pieces)
    assert result.reasoning_chars == len(reasoning) + len(thought)


def test_the_client_drops_think_blocks_without_streaming():
    with s.ScriptedLLMServer([s.text("<think>The user greets me.</think>Hello there.")]) as server:
        client = LLMClient(config(server))
        result = client.decide([{"role": "user", "content": "hi"}], POLICY)
        client.close()
    assert result.text == "Hello there." and result.streamed == "" and server.requests[0].get("stream") is None


def test_a_schema_decision_streams_only_its_reply():
    content = '<think>{"reply": "secret"}</think>{"reply": "Good morning. Lovely to see you.", "action": "none"}'
    with s.ScriptedLLMServer([s.Step("text", content=content, chunk_chars=4)]) as server:
        client = LLMClient(config(server, Backend.EMBEDDED))
        pieces: list[str] = []
        result = client.decide([{"role": "user", "content": "hi"}], POLICY, on_text=pieces.append)
        client.close()
    assert "".join(pieces) == "Good morning. Lovely to see you."
    assert [c.tool for c in result.calls] == ["speak"] and "response_format" in server.requests[0]
