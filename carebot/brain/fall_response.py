"""Fall response: a state machine from a fall alert to staff acknowledgement.

fall alert (perception) -> go to the person at low speed -> ask whether they are
all right -> listen -> "I'm fine": stay, staff still checks (alert stays raised);
a call for help, "no", or no answer within ``answer_timeout_s`` -> escalate the
alert to staff (state ESCALATED, critical). Staff acknowledging or resolving the
incident closes it. Pure logic with explicit time; the node turns the returned
effects (``carebot.brain.effects``) into ROS goals and messages, and plans the drive to
the person with ``plan_approach``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

from carebot.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.brain.effects import LookAt, Navigate, PublishAlert, Speak  # noqa: F401  (part of this API)
from carebot.brain.phrases import is_emergency_phrase, normalize
from carebot.brain.safety_rules import language_of
from carebot.frames import PlanarPose
from carebot.i18n import alert_text

REPLY_TO = "fall"       # Navigate.reply_to of the drive to the person
MAP_FRAMES = ("", "map")


class FallState(str, Enum):
    IDLE = "idle"
    APPROACHING = "approaching"     # driving to the person at low speed
    LISTENING = "listening"         # asked "are you all right?", waiting for an answer
    WAITING_STAFF = "waiting_staff"  # the person says they are fine; staff still checks
    ESCALATED = "escalated"         # staff called with high priority, staying with the person
    CLOSED = "closed"


@dataclass(frozen=True)
class FallConfig:
    approach_speed_mps: float = 0.25   # low speed near a person on the floor
    answer_timeout_s: float = 20.0     # no answer this long after asking -> escalate
    arrive_timeout_s: float = 120.0    # not arrived this long -> escalate from where we are
    max_questions: int = 2             # ask again once after an unclear answer

    def __post_init__(self):
        if not (0 < self.approach_speed_mps <= 0.5):
            raise ValueError("approach_speed_mps must be in (0, 0.5] m/s")
        if self.answer_timeout_s <= 0 or self.arrive_timeout_s <= 0 or self.max_questions < 1:
            raise ValueError("fall response timeouts must be > 0 and max_questions >= 1")


def standoff_goal(robot: tuple[float, float], person: tuple[float, float],
                  standoff_m: float) -> tuple[float, float, float] | None:
    """Where to stop near a person on the floor: ``standoff_m`` short of them on the line
    from the robot, facing them (x, y, yaw in rad). None when the robot is already that close."""
    dx, dy = person[0] - robot[0], person[1] - robot[1]
    distance = math.hypot(dx, dy)
    if distance <= standoff_m:
        return None
    scale = (distance - standoff_m) / distance
    return robot[0] + dx * scale, robot[1] + dy * scale, math.atan2(dy, dx)


@dataclass(frozen=True)
class Approach:
    """How to drive to a fallen person: ``goal`` (map x, y; facing ``yaw`` when known) or
    ``place``; ``person`` is where they are on the map when known. Neither goal nor place
    (and not already there): nowhere to go."""

    goal: tuple[float, float] | None = None
    yaw: float | None = None
    place: str = ""
    person: tuple[float, float] | None = None
    already_there: bool = False

    def arrived(self, ok: bool, robot: tuple[float, float] | None, near_m: float) -> bool:
        """A drive that ended, or was blocked, within ``near_m`` of the person counts as arrived
        (they, or a chair, are in the way): close enough to ask."""
        return ok or (self.person is not None and robot is not None
                      and math.hypot(self.person[0] - robot[0], self.person[1] - robot[1]) <= near_m)


def plan_approach(effect: Navigate, robot: PlanarPose | None, standoff_m: float) -> Approach:
    """Where to drive for the fall response's Navigate: the person's position on the map
    (a base-frame position needs the robot's pose), stopping ``standoff_m`` short and facing
    them when the robot's pose is known; else the alert's named place."""
    person = None
    if effect.position is not None:
        if effect.frame_id in MAP_FRAMES:
            person = (effect.position[0], effect.position[1])
        elif robot is not None:
            person = robot.to_map(effect.position[0], effect.position[1])
    if person is not None and robot is not None:
        goal = standoff_goal((robot.x, robot.y), person, standoff_m)
        if goal is None:
            return Approach(person=person, already_there=True)
        return Approach(goal=(goal[0], goal[1]), yaw=goal[2], person=person)
    if person is not None:
        return Approach(goal=person, person=person)
    return Approach(place=effect.place)


_ASK = {"en": "Hello, I am the care robot. Are you all right? Do you need help?",
        "zh": "您好，我是护理机器人。您还好吗？需要帮助吗？"}
_FINE = {"en": "I am glad. I will stay here; a member of staff will still come to check on you.",
         "zh": "那就好。我在这里陪您，工作人员还是会过来看看您。"}
_ESCALATED = {"en": "I have called the staff, help is coming. Please stay still; I am staying with you.",
              "zh": "我已经通知工作人员，马上有人来帮您。请不要动，我在这里陪着您。"}
_ASK_AGAIN = {"en": "Sorry, I did not understand. Are you all right?", "zh": "对不起，我没听清。您还好吗？"}
_STAFF_COMING = {"en": "A member of staff has seen the alert and is on the way.", "zh": "工作人员已经收到通知，正在赶来。"}

_FINE_EN = re.compile(r"\b(?:i m|i am|im) (?:ok|okay|fine|alright|all right|good|not hurt)\b|^(?:yes|yeah|yep|ok|okay|"
                      r"fine|i m fine|all good|no problem|no worries)\b|\bdon ?t need (?:any )?help\b|\bno need\b")
_NOT_FINE_EN = re.compile(r"^no\b|\bnot (?:ok|okay|fine|alright|all right|good)\b|\bhurt|\bpain\b|\bache\b|\bcan ?t\b|"
                          r"\bcannot\b|\bbleeding\b|\bdizzy\b|\bbroken\b")
_FINE_ZH = ("我没事", "没事", "还好", "我很好", "没关系", "不要紧", "挺好", "不用帮", "不需要帮", "不用了")
_NOT_FINE_ZH = ("不好", "疼", "痛", "起不来", "站不起来", "动不了", "头晕", "流血", "不行", "难受", "需要帮")


class Answer(str, Enum):
    FINE = "fine"
    NEEDS_HELP = "needs_help"
    UNCLEAR = "unclear"


def classify_answer(text: str, distress: bool | None = None) -> Answer:
    """How a person answered "are you all right?". ``distress``: the safety net's verdict on the
    same text when the caller has it (the rules are not matched again); None: match them here."""
    norm = normalize(text)
    compact = norm.replace(" ", "")
    if not norm:
        return Answer.UNCLEAR
    if distress is None:
        distress = is_emergency_phrase(text)
    if distress or _NOT_FINE_EN.search(norm) or any(p in compact for p in _NOT_FINE_ZH):
        return Answer.NEEDS_HELP
    if _FINE_EN.search(norm) or any(p in compact for p in _FINE_ZH):
        return Answer.FINE
    return Answer.UNCLEAR


class FallResponder:
    """One fall incident at a time; later incidents stay with staff via their own alerts."""

    def __init__(self, config: FallConfig | None = None, language: str = "en", alert_language: str = ""):
        self.config = config or FallConfig()
        self.language = language          # spoken: the site's, then the language the person answers in
        self.alert_language = alert_language or language   # staff read the site's language, always
        self.state = FallState.IDLE
        self.alert: AlertRecord | None = None
        self.track_id = -1
        self._since = 0.0
        self._questions = 0

    @property
    def active(self) -> bool:
        return self.state not in (FallState.IDLE, FallState.CLOSED)

    def _enter(self, state: FallState, now: float) -> None:
        self.state, self._since = state, now

    def _say(self, table: dict) -> Speak:
        return Speak(table[self.language], self.language)

    def _escalate(self, reason: str, now: float, with_person: bool, quote: str = "", **values) -> list:
        """``reason``: one of alert_text.ESCALATION_REASONS; ``with_person``: the robot is with
        them (and stays); ``quote``: what they said, for the details."""
        assert self.alert is not None
        message = alert_text.fall_escalated(self.alert_language, self.alert.message, reason, with_person,
                                            quote, **values)
        self.alert = self.alert.with_state(AlertState.ESCALATED, message, severity=Severity.CRITICAL)
        self._enter(FallState.ESCALATED, now)
        return [PublishAlert(self.alert), self._say(_ESCALATED)]

    def on_fall_alert(self, alert: AlertRecord, now: float, track_id: int = -1) -> list:
        """A FALL alert (RAISED) from perception starts the response."""
        if alert.kind is not AlertKind.FALL or alert.state is not AlertState.RAISED:
            return []
        if self.active:
            return []    # busy with another incident; that alert is with staff already
        self.alert, self.track_id, self._questions = alert, track_id, 0
        self._enter(FallState.APPROACHING, now)
        effects: list = [Navigate(alert.place, alert.position, self.config.approach_speed_mps, alert.frame_id,
                                  reply_to=REPLY_TO)]
        if not alert.place and alert.position is None:
            effects = []   # nowhere to go: ask from here
            return effects + self.on_arrived(True, now)
        return effects

    def on_arrived(self, success: bool, now: float) -> list:
        """Navigation to the person finished (or failed: ask from here, and escalate)."""
        if self.state is not FallState.APPROACHING:
            return []
        effects: list = [LookAt(self.track_id)] if self.track_id >= 0 else []
        if not success:
            effects += self._escalate("unreachable", now, with_person=False)
            return effects
        self._questions = 1
        self._enter(FallState.LISTENING, now)
        return effects + [self._say(_ASK)]

    def on_transcript(self, text: str, now: float, distress: bool | None = None) -> list:
        """What the person said while the robot listens. ``distress``: the safety net's verdict
        on the text when the caller has it (see ``classify_answer``)."""
        if distress is None and self.state in (FallState.APPROACHING, FallState.LISTENING):
            distress = is_emergency_phrase(text)
        if self.state is FallState.APPROACHING and distress:
            return self._escalate("called_for_help", now, with_person=False, quote=text)
        if self.state is not FallState.LISTENING:
            return []
        self.language = language_of(text, "") if text.strip() else self.language
        answer = classify_answer(text, distress)
        if answer is Answer.NEEDS_HELP:
            return self._escalate("needs_help", now, with_person=True, quote=text)
        if answer is Answer.FINE:
            self._enter(FallState.WAITING_STAFF, now)
            return [self._say(_FINE)]
        if self._questions < self.config.max_questions:
            self._questions += 1
            self._since = now   # a fresh answer window after asking again
            return [self._say(_ASK_AGAIN)]
        return self._escalate("unclear", now, with_person=True)

    def on_alert_update(self, alert: AlertRecord, now: float) -> list:
        """Staff acknowledged or resolved the incident: close it."""
        if self.alert is None or alert.id != self.alert.id or not self.active:
            return []
        if alert.state in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
            self.alert = alert
            self._enter(FallState.CLOSED, now)
            return [self._say(_STAFF_COMING)] if alert.state is AlertState.ACKNOWLEDGED else []
        return []

    def tick(self, now: float) -> list:
        """Timeouts: not arrived, or no answer."""
        if self.state is FallState.APPROACHING and now - self._since >= self.config.arrive_timeout_s:
            return self._escalate("late", now, with_person=False)
        if self.state is FallState.LISTENING and now - self._since >= self.config.answer_timeout_s:
            return self._escalate("no_answer", now, with_person=True, s=f"{self.config.answer_timeout_s:.0f}")
        return []
