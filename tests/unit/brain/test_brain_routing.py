"""Routing accuracy on the labelled request sets, with the real embedding model.

The LLM is off here (llm=None), so this measures what the deterministic layer and
knowledge retrieval route on their own; requests they leave to the LLM get the
spoken fallback. Bars are set just under the measured figures (docs/brain.md):
dev set 98/98, held-out set 44/45 when measured.
"""
from pathlib import Path

import pytest

from carebot.brain.dialogue import Brain
from carebot.brain.evaluation import accuracy, load_labelled, run, share_without_llm
from carebot.brain.tools import DEFAULT_RATE_LIMITS

DATA = Path(__file__).resolve().parents[2] / "data" / "brain"
# The evaluation asks many questions in a row: rate limits are a separate concern.
UNLIMITED = {tool: (10 ** 6, 1.0) for tool in DEFAULT_RATE_LIMITS}


@pytest.fixture(scope="module")
def brains():
    return {site: Brain(site, rate_limits=UNLIMITED) for site in ("care_home", "public_hall")}


def _report(outcomes):
    return "\n".join(f"{o.item.site}: {o.item.text!r}: {o.why}" for o in outcomes if not o.correct)


def test_labelled_set_is_large_and_bilingual():
    items = load_labelled(DATA / "requests.yaml")
    assert len(items) >= 60
    zh = [i for i in items if any("\u4e00" <= c <= "\u9fff" for c in i.text)]
    assert len(zh) >= 25 and len(items) - len(zh) >= 25
    assert {i.site for i in items} == {"care_home", "public_hall"}


@pytest.mark.slow
def test_routing_accuracy_dev_set(brains):
    outcomes = run(brains, load_labelled(DATA / "requests.yaml"))
    acc = accuracy(outcomes)
    print(f"dev routing accuracy {acc:.3f}, answered without LLM {share_without_llm(outcomes):.3f}")
    assert acc >= 0.97, _report(outcomes)


@pytest.mark.slow
def test_routing_accuracy_held_out_set(brains):
    outcomes = run(brains, load_labelled(DATA / "requests_heldout.yaml"))
    acc = accuracy(outcomes)
    print(f"held-out routing accuracy {acc:.3f}, answered without LLM {share_without_llm(outcomes):.3f}")
    assert acc >= 0.95, _report(outcomes)
    # Every emergency and stop of the held-out set is caught by the rules.
    for o in outcomes:
        if o.item.expect["tool"] in ("stop",) or o.item.expect.get("alert"):
            assert o.correct, o.item.text
