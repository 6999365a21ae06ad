"""The brain node's conversation over real DDS: streamed replies, resident memory, staff listing.

The LLM is the scripted DeepSeek-format server over real HTTP, streaming its reply in small
pieces with pauses as a model writes (a stand-in for DeepSeek's cloud, which cannot run
here). The test process stands in for the speech node (a Speak action server that records
when each goal arrives) and calls brain/ask as a resident's words would come in.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carebot.brain import scripted_llm as s
from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for

from brain_support import BrainPeer

pytestmark = pytest.mark.ros

QUESTION = "Can you explain how a rainbow is made?"
SENTENCES = ["A rainbow appears when sunlight shines through raindrops.",
             "Each drop bends the light and splits it into its colours.",
             "That is why we see red on the outside and violet inside."]
CHUNK_CHARS, CHUNK_DELAY_S = 4, 0.04      # ~1.7 s for the whole reply: a model writing
STREAM_S = len(" ".join(SENTENCES)) / CHUNK_CHARS * CHUNK_DELAY_S


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    log = tmp_path_factory.mktemp("brain_conversation") / "brain.log"
    env = isolated_env()
    asked: list[float] = []                 # when each LLM request came in

    def responder(request: dict) -> s.Step:
        asked.append(time.monotonic())
        return s.Step("text", content=" ".join(SENTENCES), chunk_chars=CHUNK_CHARS, chunk_delay_s=CHUNK_DELAY_S,
                      reasoning="The user asks about rainbows; I think about refraction first.")

    llm = s.ScriptedLLMServer(responder=responder).start()
    args = python_module("carebot.brain.brain_node", "--ros-args")
    for key, value in dict(site="care_home", llm_backend="openai_compatible", llm_base_url=llm.url,
                           use_embeddings="false", safety_similarity="false", action_server_wait_s=2.0,
                           resident_memory_path="residents.sqlite").items():
        args += ["-p", f"{key}:={value}"]
    proc = start(args, env, log)
    peer = BrainPeer(env)
    assert wait_for(lambda: peer.ask.wait_for_service(timeout_sec=0.5), 60), log.read_text()
    yield peer, log, llm, asked, env
    peer.close()
    assert stop(proc) == 0, log.read_text()[-2000:]
    llm.stop()


def residents_cli(env: dict[str, str], *args: str):
    """`carebot residents ... --json` as staff run it, finding the file by the site's settings."""
    result = subprocess.run([sys.executable, "-m", "carebot.cli", "residents", *args, "--site", "care_home", "--json"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_llm_reply_is_spoken_sentence_by_sentence_while_it_streams(stack):
    peer, log, _, asked, _ = stack
    peer.speak_goals.clear()
    asked.clear()
    peer.say(QUESTION, language="en")
    assert wait_for(lambda: len(peer.speak_goals) >= len(SENTENCES), 30), (peer.speak_goals, log.read_text()[-3000:])
    time.sleep(1.0)                                      # a whole-reply Speak after the stream would come now
    goals = list(peer.speak_goals)
    assert [text for _, text, _ in goals] == SENTENCES   # each sentence once, in order; the reasoning never
    assert [queue for _, _, queue in goals] == [False, True, True]   # a new reply, then its next parts
    first, last = goals[0][0], goals[-1][0]
    # The first sentence plays while the model is still writing: it reached speech well before
    # the stream could have ended, and the sentences came apart as the model wrote them.
    assert first - asked[0] < 0.8 * STREAM_S, (first - asked[0], STREAM_S)
    assert last - first > 0.3 * STREAM_S, (last - first, STREAM_S)


def test_what_a_resident_tells_is_kept_with_consent_used_listed_and_forgotten(stack):
    peer, log, llm, _, env = stack
    state = Path(env["CAREBOT_STATE_DIR"])
    told = peer.call_ask("My daughter's name is Mary.", person="room_104", language="en")
    assert "remember" in told.reply.lower(), told.reply              # consent is asked first
    assert residents_cli(env, "list") == []                          # nothing kept before the yes
    peer.call_ask("Yes please.", person="room_104", language="en")
    assert (state / "residents.sqlite").is_file()                     # relative path: the robot's state folder
    assert residents_cli(env, "list") == [{"resident": "room_104", "consent": True, "facts": 1}]
    assert residents_cli(env, "show", "room_104") == [
        {"kind": "family", "relation": "daughter", "value": "Mary", "language": "en"}]

    # Used: a local LLM gets the fact as data in its prompt (only for this resident).
    peer.call_ask("Why do leaves change colour in autumn?", person="room_104", language="en")
    system = llm.requests[-1]["messages"][0]["content"]
    assert re.search(r"<resident>.*daughter is called mary", system, re.IGNORECASE | re.DOTALL), system[-400:]
    peer.call_ask("Why do leaves change colour in autumn?", person="room_105", language="en")
    assert "<resident>" not in llm.requests[-1]["messages"][0]["content"]

    forgot = peer.call_ask("Forget what I told you.", person="room_104", language="en")
    assert forgot.reply
    assert residents_cli(env, "list") == []
    peer.call_ask("Why do leaves change colour in autumn?", person="room_104", language="en")
    assert "<resident>" not in llm.requests[-1]["messages"][0]["content"]
    assert "mary" not in log.read_text().lower()                      # what residents tell stays out of the log
