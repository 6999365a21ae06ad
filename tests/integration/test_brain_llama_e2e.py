"""End to end over real HTTP against the local llama.cpp server with the bundled model.

The server is started once for the module (the brain's embedded backend, a child
process running carebot.brain.llama_server with SmolLM2-135M). Answers of a 135M
model are not smart; what must hold is the structure: constrained output parses,
every action passes the validator, nothing falls back, and the safety layer still
answers first.
"""
import pytest

from carebot.brain.dialogue import Brain, SmallTalk, Source
from carebot.brain.llm_client import Backend, EmbeddedServer, LLMClient, LLMConfig, OutputMode
from carebot.brain.tools import LLM_TOOLS

pytestmark = pytest.mark.slow

PROMPTS = ["I feel like a change of scenery", "Tell me something about the garden"]


@pytest.fixture(scope="module")
def server():
    with EmbeddedServer(n_threads=1) as srv:
        yield srv


@pytest.fixture(scope="module")
def brain(server):
    # The model's structure is under test, so the prompts (social talk, one in Mandarin) go to
    # it: by default the companionship layer answers them and Mandarin replies of the 135M
    # model are not spoken.
    llm = LLMClient(LLMConfig(backend=Backend.EMBEDDED, timeout_s=60, deadline_s=90, reply_languages="en,zh"),
                    embedded=server)
    return Brain("care_home", llm=llm, use_embeddings=False, small_talk=SmallTalk.LLM)


@pytest.mark.parametrize("text", PROMPTS)
def test_embedded_model_returns_a_valid_plan(brain, text):
    d = brain.decide(text)
    assert d.source is Source.LLM, d
    assert not d.fallback, d.llm_error
    assert d.reply.strip()
    allowed = {t.value for t in LLM_TOOLS}
    for action in d.actions:
        assert action.tool in allowed
        if "place" in action.args:
            assert action.args["place"] in brain.places.names


def test_a_mandarin_reply_is_spoken_in_mandarin_whoever_writes_it(brain):
    """The 135M model often answers Mandarin in English: the reply guard must refuse that and
    the companionship layer answer in Mandarin instead; a Mandarin reply of the model may stand."""
    d = brain.decide("我有点无聊，想走走")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in d.reply), d
    assert d.source is Source.LLM or (d.source is Source.COMPANION and d.guard == "not Mandarin"), d


def test_safety_answers_without_waiting_for_the_model(brain):
    d = brain.decide("救命！我摔倒了")
    assert d.source is Source.RULE and d.alert is not None and d.latency_ms < 1000


def test_self_hosted_backend_in_tools_mode(server):
    """The same server as a 'self-hosted' openai_compatible endpoint with native tools."""
    llm = LLMClient(LLMConfig(backend=Backend.OPENAI_COMPATIBLE, base_url=server.url,
                              output_mode=OutputMode.TOOLS, timeout_s=60, deadline_s=90, max_tokens=60))
    d = Brain("public_hall", llm=llm, use_embeddings=False).decide("Tell me something nice")
    assert d.source is Source.LLM and not d.fallback, d.llm_error
    assert d.actions and all(a.tool in {t.value for t in LLM_TOOLS} for a in d.actions)


ORPHAN = """
import os
from carebot.brain.llm_client import EmbeddedServer
server = EmbeddedServer(n_threads=1)
server.start()
print(server._proc.pid, flush=True)
os._exit(0)   # the brain dies without cleaning up
"""


def test_llm_server_dies_with_its_parent():
    import os
    import subprocess
    import sys
    import time

    out = subprocess.run([sys.executable, "-c", ORPHAN], capture_output=True, text=True, timeout=120)
    pid = int(out.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + 10
    alive = True
    while alive and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            time.sleep(0.2)
        except ProcessLookupError:
            alive = False
    assert not alive, "the embedded LLM server outlived the process that started it"
