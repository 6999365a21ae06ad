"""Check in after a loud shout nobody could understand: "Are you all right?"

A scream or a shout that Whisper turns into no words (the speech node publishes it
as a transcript with ``shout`` set and no text) is not thrown away: the robot asks
whether the person is all right. "I'm fine" ends it; a call for help, "no", two
unclear answers or no answer within ``answer_timeout_s`` raise a HELP_REQUEST alert
for staff, the way the fall response escalates. Pure logic with explicit time; the
node turns the effects (the fall response's Speak and PublishAlert) into goals and
messages.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from carebot.alerts import AlertKind, Severity, new_alert
from carebot.brain.fall_response import Answer, PublishAlert, Speak, classify_answer
from carebot.brain.safety_rules import language_of
from carebot.i18n import alert_text


class CheckInState(str, Enum):
    IDLE = "idle"
    LISTENING = "listening"      # asked "are you all right?", waiting for an answer


@dataclass(frozen=True)
class CheckInConfig:
    answer_timeout_s: float = 15.0   # no answer this long after asking -> alert staff
    max_questions: int = 2           # ask again once after an unclear answer
    quiet_after_s: float = 30.0      # a new shout this soon after a check-in ends does not ask again

    def __post_init__(self):
        if self.answer_timeout_s <= 0 or self.max_questions < 1 or self.quiet_after_s < 0:
            raise ValueError("check-in: answer_timeout_s > 0, max_questions >= 1, quiet_after_s >= 0")


_ASK = {"en": "I heard a shout. Are you all right? Do you need help?",
        "zh": "我听到有人大声喊。您还好吗？需要帮助吗？"}
_ASK_AGAIN = {"en": "Sorry, I did not understand. Are you all right?", "zh": "对不起，我没听清。您还好吗？"}
_FINE = {"en": "All right, I am glad. Tell me if you need anything.", "zh": "好的，那就好。需要什么请告诉我。"}
_CALLED = {"en": "I have asked a member of staff to come and check. I am staying here.",
           "zh": "我已经请工作人员过来看看。我在这里陪着您。"}


class ShoutCheckIn:
    """One check-in at a time; shouts during a check-in do not start another."""

    def __init__(self, config: CheckInConfig | None = None, language: str = "en"):
        self.config = config or CheckInConfig()
        self.default_language = language
        self.language = language
        self.state = CheckInState.IDLE
        self._since = 0.0
        self._ended = -1e9
        self._questions = 0
        self._level_dbfs = 0.0

    @property
    def listening(self) -> bool:
        return self.state is CheckInState.LISTENING

    def on_shout(self, now: float, level_dbfs: float = 0.0, language: str = "") -> list:
        """A loud utterance without intelligible words was heard."""
        if self.listening or now - self._ended < self.config.quiet_after_s:
            return []
        self.language = language if language in ("en", "zh") else self.default_language
        self.state, self._since, self._questions, self._level_dbfs = CheckInState.LISTENING, now, 1, level_dbfs
        return [Speak(_ASK[self.language], self.language)]

    def on_transcript(self, text: str, now: float) -> list:
        """An answer while listening (callers route transcripts here only while listening)."""
        if not self.listening:
            return []
        if text.strip():
            self.language = language_of(text, "")
        answer = classify_answer(text)
        if answer is Answer.FINE:
            self._close(now)
            return [Speak(_FINE[self.language], self.language)]
        if answer is Answer.NEEDS_HELP:
            return self._alert("needs_help", Severity.CRITICAL, now, quote=text)
        if self._questions < self.config.max_questions:
            self._questions += 1
            self._since = now
            return [Speak(_ASK_AGAIN[self.language], self.language)]
        return self._alert("unclear", Severity.WARNING, now)

    def tick(self, now: float) -> list:
        if self.listening and now - self._since >= self.config.answer_timeout_s:
            return self._alert("no_answer", Severity.WARNING, now, s=f"{self.config.answer_timeout_s:.0f}")
        return []

    def close(self, now: float) -> None:
        """End a check-in without an alert (the safety net has raised one already)."""
        if self.listening:
            self._close(now)

    def _close(self, now: float) -> None:
        self.state, self._ended = CheckInState.IDLE, now

    def _alert(self, reason: str, severity: Severity, now: float, quote: str = "", **values) -> list:
        """Staff alert in the site's language (``default_language``); ``reason`` as in
        alert_text.shout_message, what the person said in the details."""
        self._close(now)
        alert = new_alert("shout", AlertKind.HELP_REQUEST, severity,
                          message=alert_text.shout_message(self.default_language, reason, self._level_dbfs, quote,
                                                           **values))
        return [PublishAlert(alert), Speak(_CALLED[self.language], self.language)]
