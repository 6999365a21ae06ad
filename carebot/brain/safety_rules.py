"""The deterministic layer in front of the LLM.

Runs on every transcript before anything else and needs no model: an emergency
phrase raises a HELP_REQUEST alert for staff at once and reassures the person; a
stop phrase stops the robot at once. Nothing a transcript says can switch these
rules off (they are code, not prompt).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from carebot.brain.alerts import AlertInfo, AlertKind, AlertState, Severity, new_alert_id
from carebot.brain.phrases import PhraseKind, match
from carebot.brain.tools import ToolCall, ToolName

REASSURE = {
    "en": "I have called the staff, help is on the way. Please stay still; I am staying with you.",
    "zh": "我已经通知工作人员，马上有人来帮您。请不要动，我在这里陪着您。",
}
STOPPING = {"en": "Stopping.", "zh": "好的，我停下。"}


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
    alert: AlertInfo | None = None
    pattern: str = ""               # the phrase that matched, for logs
    stop_robot: bool = False        # publish safety/estop + call safety/trigger_estop
    cancel_motion: bool = False     # cancel navigation and gestures in progress
    extra: dict = field(default_factory=dict)


def language_of(text: str, hint: str = "") -> str:
    """'zh' when the text has CJK characters (or the hint says so), else 'en'."""
    if hint in ("zh", "en"):
        return hint
    return "zh" if any("\u3400" <= ch <= "\u9fff" for ch in text or "") else "en"


def evaluate(text: str, person: str = "", place: str = "", language: str = "") -> SafetyDecision:
    """Apply the emergency and stop rules to one utterance."""
    found = match(text)
    lang = language_of(text, language)
    if found.kind is PhraseKind.EMERGENCY:
        alert = AlertInfo(id=new_alert_id("help"), kind=AlertKind.HELP_REQUEST,
                          severity=Severity.CRITICAL, state=AlertState.RAISED, person=person,
                          place=place, message=f"Call for help: \"{text.strip()[:160]}\"")
        calls = (ToolCall(ToolName.CALL_STAFF.value, {"reason": alert.message[:200], "urgency": "critical"}),
                 ToolCall(ToolName.SPEAK.value, {"text": REASSURE[lang], "language": lang}))
        return SafetyDecision(SafetyAction.EMERGENCY, REASSURE[lang], calls, alert, found.pattern,
                              stop_robot=False, cancel_motion=True)
    if found.kind is PhraseKind.STOP:
        calls = (ToolCall(ToolName.STOP.value, {"reason": "stop phrase"}),
                 ToolCall(ToolName.SPEAK.value, {"text": STOPPING[lang], "language": lang}))
        return SafetyDecision(SafetyAction.STOP, STOPPING[lang], calls, None, found.pattern,
                              stop_robot=True, cancel_motion=True)
    return SafetyDecision(SafetyAction.NONE)
