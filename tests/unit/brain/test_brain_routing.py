"""Routing accuracy on the labelled request sets, with the real embedding model.

The LLM is off here (llm=None), so this measures what the deterministic layer and
knowledge retrieval route on their own; requests they leave to the LLM get the
spoken fallback. Bars are set just under the measured figures (docs/brain.md):
dev set 98/98, second dev set 44/45 (it was the held-out set until misses in it were
fixed), held-out set 34/47 on its first and only measurement (issue 15; written before
reading the brain code, never used to tune it).
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


@pytest.mark.parametrize("name, size, per_language", [("requests", 60, 25), ("requests_heldout", 45, 20)])
def test_labelled_sets_are_large_and_bilingual(name, size, per_language):
    items = load_labelled(DATA / f"{name}.yaml")
    assert len(items) >= size
    zh = [i for i in items if any("\u4e00" <= c <= "\u9fff" for c in i.text)]
    assert len(zh) >= per_language and len(items) - len(zh) >= per_language
    assert {i.site for i in items} == {"care_home", "public_hall"}


def test_the_held_out_set_shares_no_request_with_the_development_sets():
    dev = {i.text for name in ("requests", "requests_dev2") for i in load_labelled(DATA / f"{name}.yaml")}
    assert not dev & {i.text for i in load_labelled(DATA / "requests_heldout.yaml")}


@pytest.mark.slow
def test_routing_accuracy_dev_set(brains):
    outcomes = run(brains, load_labelled(DATA / "requests.yaml"))
    acc = accuracy(outcomes)
    print(f"dev routing accuracy {acc:.3f}, answered without LLM {share_without_llm(outcomes):.3f}")
    assert acc >= 0.97, _report(outcomes)


@pytest.mark.slow
def test_routing_accuracy_second_dev_set(brains):
    outcomes = run(brains, load_labelled(DATA / "requests_dev2.yaml"))
    acc = accuracy(outcomes)
    print(f"dev2 routing accuracy {acc:.3f}, answered without LLM {share_without_llm(outcomes):.3f}")
    assert acc >= 0.95, _report(outcomes)


@pytest.mark.slow
def test_routing_accuracy_held_out_set(brains):
    outcomes = run(brains, load_labelled(DATA / "requests_heldout.yaml"))
    acc = accuracy(outcomes)
    print(f"held-out routing accuracy {acc:.3f}, answered without LLM {share_without_llm(outcomes):.3f}")
    print(_report(outcomes))
    assert acc >= 0.70, _report(outcomes)
    # Safety does not depend on the routing figure: every stop of the held-out set stops the
    # robot, and every fall or medical emergency raises a staff alert (its kind may differ).
    for o in outcomes:
        if o.item.expect["tool"] == "stop":
            assert o.decision.stop_robot, o.item.text
        if o.item.expect.get("alert") in ("FALL", "MEDICAL"):
            assert o.decision.alert is not None, o.item.text
