"""Routing accuracy over a labelled request set (used by tests and the benchmark)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from carebot.brain.dialogue import Decision, Source

PRIMARY_SKIP = ("speak",)


@dataclass(frozen=True)
class Labelled:
    site: str
    text: str
    expect: dict


@dataclass(frozen=True)
class Outcome:
    item: Labelled
    decision: Decision
    correct: bool
    why: str


def load_labelled(path: str | Path) -> list[Labelled]:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return [Labelled(str(r["site"]), str(r["text"]), dict(r["expect"])) for r in data.get("requests", [])]


def primary_action(decision: Decision):
    """The first action that is not plain speech (None when the robot only talks)."""
    return next((a for a in decision.actions if a.tool not in PRIMARY_SKIP), None)


def judge(decision: Decision, expect: dict) -> tuple[bool, str]:
    """Whether a decision routes as labelled, and why not."""
    action = primary_action(decision)
    tool = action.tool if action else "speak"
    if tool != expect["tool"]:
        return False, f"tool {tool} != {expect['tool']}"
    args = action.args if action else {}
    if "place" in expect:
        place = args.get("place", "")
        if place != expect["place"]:
            return False, f"place {place!r} != {expect['place']!r}"
    if "cite" in expect and expect["cite"] not in decision.citations:
        return False, f"cites {decision.citations} not {expect['cite']}"
    if "alert" in expect:
        kind = decision.alert.kind.name if decision.alert else None
        if kind != expect["alert"]:
            return False, f"alert {kind} != {expect['alert']}"
    return True, ""


def run(brains: dict, items: list[Labelled]) -> list[Outcome]:
    """Decide every item with the brain of its site (brains: site -> Brain)."""
    outcomes = []
    for item in items:
        decision = brains[item.site].decide(item.text, person="eval", session=f"eval-{len(outcomes)}")
        ok, why = judge(decision, item.expect)
        outcomes.append(Outcome(item, decision, ok, why))
    return outcomes


def accuracy(outcomes: list[Outcome]) -> float:
    return sum(o.correct for o in outcomes) / max(1, len(outcomes))


def share_without_llm(outcomes: list[Outcome]) -> float:
    return sum(o.decision.source is not Source.LLM for o in outcomes) / max(1, len(outcomes))
