"""The deterministic layer in front of the LLM: the brain's safety net.

Runs on every utterance before anything else (transcripts, ``brain/ask``, the
dashboard chat) and needs no LLM:
- distress (``distress.py`` rules, then the ``distress_similarity`` check against
  labelled examples when an embedding model is loaded) raises an alert of the
  right kind and severity for staff at once, and the robot says what it did;
- a stop command stops the robot at once.
Nothing a transcript says can switch these rules off (they are code, not prompt).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from carebot.alerts import AlertRecord, Severity, new_alert
from carebot.brain.distress import Distress, DistressKind, names_a_medicine, speaks_only_of_mood
from carebot.brain.distress import detect as detect_distress
from carebot.brain.phrases import is_stop_phrase
from carebot.brain.tools import ToolCall, ToolName
from carebot.brain.utterance import Utterance, has_cjk
from carebot.i18n import alert_text

# What the robot says after raising the alert: what it did, and what to do now.
REPLIES = {
    (DistressKind.CALL_FOR_HELP, Severity.CRITICAL): (
        "I have called the staff, help is on the way. Please stay still; I am staying with you.",
        "我已经通知工作人员，马上有人来帮您。请不要动，我在这里陪着您。"),
    (DistressKind.MEDICAL, Severity.CRITICAL): (
        "I have called the staff as an emergency; a nurse is coming now. Please sit or lie down and stay still; "
        "I am staying with you.",
        "我已经紧急通知了工作人员，护士马上就来。请坐下或躺下，不要动，我在这里陪着您。"),
    (DistressKind.MEDICAL, Severity.WARNING): (
        "I'm sorry you are not feeling well. I have asked a member of staff to come and see you.",
        "您不舒服，我很难过。我已经请工作人员过来看看您。"),
    (DistressKind.OTHER_PERSON, Severity.CRITICAL): (
        "I have called the staff as an emergency; they are coming now. Please stay with them if you can.",
        "我已经紧急通知了工作人员，他们马上就来。如果可以，请陪在他们身边。"),
    (DistressKind.OTHER_PERSON, Severity.WARNING): (
        "Thank you for telling me. I have asked a member of staff to go and see them.",
        "谢谢您告诉我。我已经请工作人员过去看看。"),
    (DistressKind.FIRE, Severity.CRITICAL): (
        "I have raised a fire alert with the staff. Please move away from the smoke and towards the exit, "
        "and wait for the staff there.",
        "我已经向工作人员报告了火情。请远离烟雾，往出口走，在那里等工作人员。"),
    (DistressKind.MEDICATION, Severity.CRITICAL): (
        "I have called the staff about your medicine; a nurse is coming now. Please don't take anything else "
        "until they arrive.",
        "我已经就用药的事紧急通知了工作人员，护士马上就来。在他们到之前请不要再吃任何东西。"),
    (DistressKind.FALL, Severity.CRITICAL): (
        "I have called the staff, help is on the way. Please don't try to get up; I am staying with you.",
        "我已经通知工作人员，马上有人来帮您。请先不要起来，我在这里陪着您。"),
}
# By topic within a kind: words of ending one's life are a medical emergency for staff, but
# "sit or lie down and stay still" is not what to say to the person.
TOPIC_REPLIES = {
    "self_harm": (
        "I'm so sorry you feel like this. I have asked a nurse to come and be with you now, "
        "and I am staying here with you.",
        "听到您这么说，我很难过。我已经请护士马上过来陪您，我也在这里陪着您。"),
}
REASSURE = {"en": REPLIES[(DistressKind.CALL_FOR_HELP, Severity.CRITICAL)][0],
            "zh": REPLIES[(DistressKind.CALL_FOR_HELP, Severity.CRITICAL)][1]}
STOPPING = {"en": "Stopping.", "zh": "好的，我停下。"}


def reply_for(distress: Distress, language: str) -> str:
    """What the robot says after raising this kind of alert (the call-for-help text by default)."""
    pair = (TOPIC_REPLIES.get(distress.topic)
            or REPLIES.get((distress.kind, distress.severity))
            or REPLIES.get((distress.kind, Severity.CRITICAL))
            or REPLIES[(DistressKind.CALL_FOR_HELP, Severity.CRITICAL)])
    return pair[1 if language == "zh" else 0]


class SafetyAction(str, Enum):
    NONE = "none"
    STOP = "stop"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class SafetyDecision:
    """What the safety layer decided; ``action`` NONE means: go on to the dialogue."""

    action: SafetyAction
    reply: str = ""
    calls: tuple[ToolCall, ...] = ()
    alert: AlertRecord | None = None
    pattern: str = ""               # the rule or example that matched, for logs
    stop_robot: bool = False        # publish safety/estop + call safety/trigger_estop
    cancel_motion: bool = False     # cancel navigation and gestures in progress
    distress: Distress | None = None
    extra: dict = field(default_factory=dict)


class SimilarityCheck(Protocol):
    """The model half of the net (``distress_similarity.DistressSimilarity``)."""

    def check(self, utterance: Utterance) -> tuple[Distress | None, bool]: ...


def language_of(text: str, hint: str = "") -> str:
    """'zh' when the text has CJK characters (or the hint says so), else 'en'."""
    if hint in ("zh", "en"):
        return hint
    return "zh" if has_cjk(text) else "en"


def distress_decision(found: Distress, text: str, person: str, place: str, language: str,
                      alert_language: str = "") -> SafetyDecision:
    """The alert, staff call and spoken reply for one distress finding: the robot answers in
    ``language`` (the speaker's), staff read ``alert_language`` (the site's; default: the same)."""
    severity = Severity.CRITICAL if found.severity is Severity.CRITICAL else Severity.WARNING
    message = alert_text.help_message(alert_language or language, found.kind.name,
                                      severity is Severity.CRITICAL, text)
    alert = new_alert("help", found.kind.alert_kind, severity, person=person, place=place, message=message)
    reply = reply_for(found, language)
    urgency = "critical" if severity is Severity.CRITICAL else "normal"
    head, details = alert_text.split(alert.message)
    reason = " · ".join([head, *details])[:200]      # one line for the call_staff tool
    calls = (ToolCall(ToolName.CALL_STAFF.value, {"reason": reason, "urgency": urgency}),
             ToolCall(ToolName.SPEAK.value, {"text": reply, "language": language}))
    return SafetyDecision(SafetyAction.EMERGENCY, reply, calls, alert, f"{found.via}: {found.evidence}",
                          stop_robot=False, cancel_motion=True, distress=found)


def stop_decision(pattern: str, language: str) -> SafetyDecision:
    calls = (ToolCall(ToolName.STOP.value, {"reason": "stop phrase"}),
             ToolCall(ToolName.SPEAK.value, {"text": STOPPING[language], "language": language}))
    return SafetyDecision(SafetyAction.STOP, STOPPING[language], calls, None, pattern,
                          stop_robot=True, cancel_motion=True)


class SafetyNet:
    """Distress and stop, rules first, then the similarity check (when one is given)."""

    def __init__(self, similarity: SimilarityCheck | None = None):
        self.similarity = similarity

    def evaluate(self, text: str, person: str = "", place: str = "", language: str = "",
                 alert_language: str = "") -> SafetyDecision:
        """The verdict on one utterance; ``alert_language``: what staff read (the site's)."""
        u = Utterance.of(text, language)
        lang = language_of(text, language)
        if u.empty:
            return SafetyDecision(SafetyAction.NONE)
        found = detect_distress(u)
        if found is None and is_stop_phrase(u):
            return stop_decision("rule", lang)
        if found is None and self.similarity is not None:
            found, stop = self.similarity.check(u)
            if stop:
                return stop_decision("similarity", lang)
            if found is not None and found.severity is not Severity.CRITICAL and (
                    speaks_only_of_mood(u) or (found.kind is DistressKind.MEDICATION and not names_a_medicine(u))):
                found = None          # "I feel a bit down", "read every book twice": not a nurse (distress.py)
        if found is not None:
            return distress_decision(found, text, person, place, lang, alert_language)
        return SafetyDecision(SafetyAction.NONE)


_RULES_ONLY = SafetyNet()


def evaluate(text: str, person: str = "", place: str = "", language: str = "") -> SafetyDecision:
    """Apply the distress and stop rules (no model) to one utterance."""
    return _RULES_ONLY.evaluate(text, person, place, language)
