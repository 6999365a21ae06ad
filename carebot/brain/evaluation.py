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


# ---------------------------------------------------------------- social talk (issue 13)
MOTION_TOOLS = ("navigate_to", "fetch", "stop")


@dataclass(frozen=True)
class SocialOutcome:
    """How the brain answered one social utterance (social_dev/heldout.yaml rows)."""

    text: str
    language: str
    topic: str               # the set's label
    reply: str
    source: str
    answered_topic: str      # the topic the companionship layer answered ('' if none)
    warm: bool
    why: str


def load_social(path: str | Path) -> list[dict]:
    """Rows of a social set (``items:``: site, lang, topic, text)."""
    with open(path, encoding="utf-8") as handle:
        return list((yaml.safe_load(handle) or {}).get("items") or [])


def judge_social(answer: dict, language: str) -> tuple[bool, str]:
    """A warm reply (the ``carebot ask`` JSON of one utterance): in the speaker's language, from the
    companionship layer or an LLM (not a refusal, not the spoken fallback, not a knowledge fact),
    no staff alert, no motion of the base (driving, fetching, stopping)."""
    from carebot.brain.dialogue import say

    reply = str(answer.get("reply") or "")
    if answer.get("alert"):
        return False, f"alert {answer['alert'].get('kind')}"
    tools = [a.get("tool") for a in answer.get("actions") or []]
    moved = [t for t in tools if t in MOTION_TOOLS]
    if moved:
        return False, f"motion {moved}"
    if answer.get("source") not in ("companion", "llm"):
        return False, f"source {answer.get('source')}"
    from carebot.brain import tools

    canned = {say(key, lang) for key in ("fallback", "not_found") for lang in ("en", "zh")}
    canned |= {t for pair in (tools._NOT_UNDERSTOOD, tools._NOT_ALLOWED, tools._UNKNOWN_PLACE, tools._TOO_OFTEN)
               for t in pair}
    if reply.strip() in canned:
        return False, "a refusal or the canned fallback"
    cjk = sum("\u4e00" <= c <= "\u9fff" for c in reply)
    if (language == "zh") != (cjk > 0) or (language == "zh" and cjk < len(reply) * 0.3):
        return False, "wrong language"
    return True, ""


# ---------------------------------------------------------------- the distress safety net
@dataclass(frozen=True)
class SafetyOutcome:
    """How the safety net judged one labelled utterance (distress_dev/heldout.yaml rows)."""

    text: str
    language: str
    label: str               # distress | stop | ordinary
    kind: str                # distress kind ('' otherwise)
    lookalike: bool
    action: str              # what the net did: emergency | stop | none
    via: str                 # rule | similarity | ''
    latency_ms: float

    @property
    def correct(self) -> bool:
        return self.action == {"distress": "emergency", "stop": "stop"}.get(self.label, "none")

    @property
    def false_alarm(self) -> bool:
        """An ordinary utterance that raised an alert or stopped the robot."""
        return self.label == "ordinary" and self.action != "none"


def load_safety_set(path: str | Path, unseen_by: list | None = None) -> list[dict]:
    """Rows of a labelled set; with ``unseen_by`` (similarity examples), rows whose normalised
    text is also an example are left out, so the similarity check is measured on new words."""
    from carebot.brain.utterance import normalize

    with open(path, encoding="utf-8") as handle:
        rows = list((yaml.safe_load(handle) or {}).get("items") or [])
    if unseen_by:
        known = {normalize(e.text) for e in unseen_by}
        rows = [r for r in rows if normalize(str(r["text"])) not in known]
    return rows


def judge_safety(net, rows: list[dict]) -> list[SafetyOutcome]:
    """Run every row through a ``safety_rules.SafetyNet`` and time it."""
    import time

    out = []
    for row in rows:
        start = time.perf_counter()
        decision = net.evaluate(str(row["text"]), language=str(row.get("lang", "")))
        elapsed = (time.perf_counter() - start) * 1000.0
        via = decision.pattern.split(":", 1)[0] if decision.pattern else ""
        out.append(SafetyOutcome(str(row["text"]), str(row.get("lang", "")), str(row["label"]),
                                 str(row.get("kind", "")), bool(row.get("lookalike", False)),
                                 decision.action.value, via, elapsed))
    return out


def rate(outcomes: list[SafetyOutcome], **where) -> tuple[int, int]:
    """(correct, total) over the outcomes whose fields equal ``where``."""
    chosen = [o for o in outcomes if all(getattr(o, k) == v for k, v in where.items())]
    return sum(o.correct for o in chosen), len(chosen)
