"""Where one transcript, or one alert heard on ``alerts``, goes inside the brain (pure, no ROS).

The safety net (distress and stop: rules, then the similarity check) is evaluated once per
transcript, here, and its verdict is handed to whatever takes the utterance next (the
fall response or the shout check-in answer "are you all right?" with it; nobody matches
the phrases again). Order:

1. no words: a loud shout starts the shout check-in; anything else is dropped;
2. the robot's own voice heard back is dropped (it must not raise an alert or stop it);
3. the safety net: a stop or distress decision is carried out at once; an open shout
   check-in closes (the alert is raised already) and a fall response hears the call;
4. a fall response or a shout check-in waiting for an answer takes the utterance;
5. a low-confidence transcript is dropped (unless ``act_on_low_confidence``);
6. everything else goes to the dialogue (a worker thread: it may wait on the LLM).

Callers serialise ``route``, ``on_alert`` and the fall response's other inputs (the node
holds one lock around them); the returned effects are carried out outside it.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

from carebot.alerts import AlertKind, AlertRecord, AlertState
from carebot.brain.check_in import ShoutCheckIn
from carebot.brain.dialogue import Brain, Decision
from carebot.brain.effects import Effect, decision_effects
from carebot.brain.fall_response import FallResponder, FallState
from carebot.brain.own_voice import OwnVoice
from carebot.brain.safety_rules import language_of

LANGUAGES = ("en", "zh")
OWN_ALERTS_KEPT = 1000         # ids of incidents this node opened, remembered to ignore them on 'alerts'


@dataclass(frozen=True)
class Heard:
    """A transcript as the router needs it (from carebot_interfaces/Transcript)."""

    text: str
    person: str = ""
    language: str = ""              # ISO 639-1 from speech; other values: guessed from the text
    shout: bool = False             # loud or clipped, voice-like
    level_dbfs: float = 0.0
    low_confidence: bool = False
    confidence: float = 1.0


class Route(str, Enum):
    EMPTY = "empty"                 # no words, no shout
    SHOUT = "shout"                 # no words, a shout: check in
    OWN_VOICE = "own_voice"
    SAFETY = "safety"               # stop or distress, carried out now
    FALL_RESPONSE = "fall_response"
    CHECK_IN = "check_in"
    LOW_CONFIDENCE = "low_confidence"
    DIALOGUE = "dialogue"           # for the dialogue worker: text, person, language


@dataclass
class Routed:
    route: Route
    text: str = ""
    person: str = ""
    language: str = ""
    effects: list[Effect] = field(default_factory=list)
    decision: Decision | None = None     # the safety net's decision (route SAFETY)


class TranscriptRouter:
    """Routes transcripts and incidents to the safety net, the fall response, the shout
    check-in or the dialogue; keeps which incidents this brain opened."""

    def __init__(self, brain: Brain, fall: FallResponder, check_in: ShoutCheckIn, own_voice: OwnVoice,
                 act_on_low_confidence: bool = False):
        self.brain, self.fall, self.check_in, self.own_voice = brain, fall, check_in, own_voice
        self.act_on_low_confidence = act_on_low_confidence
        self._own_alerts: OrderedDict[str, None] = OrderedDict()

    # ------------------------------------------------------------------ transcripts
    def route(self, heard: Heard, now: float) -> Routed:
        text = heard.text.strip()
        if not text:
            if not heard.shout:
                return Routed(Route.EMPTY)
            return Routed(Route.SHOUT, effects=self.check_in.on_shout(now, heard.level_dbfs, heard.language))
        language = heard.language if heard.language in LANGUAGES else language_of(text)
        routed = Routed(Route.DIALOGUE, text, heard.person.strip(), language)
        if self.own_voice.is_own(text):
            routed.route = Route.OWN_VOICE
            return routed
        decision = self.brain.decide_safety(text, person=routed.person, language=language)
        if decision is not None:
            routed.route, routed.decision = Route.SAFETY, decision
            routed.effects = decision_effects(decision)
            self.check_in.close(now)
            # An answer to "are you all right?" that is a call for help escalates the fall too.
            routed.effects += self.fall.on_transcript(text, now, distress=decision.alert is not None)
            return routed
        if self.fall.state in (FallState.LISTENING, FallState.APPROACHING):
            routed.route, routed.effects = Route.FALL_RESPONSE, self.fall.on_transcript(text, now, distress=False)
        elif self.check_in.listening:
            routed.route, routed.effects = Route.CHECK_IN, self.check_in.on_transcript(text, now)
        elif heard.low_confidence and not self.act_on_low_confidence:
            routed.route = Route.LOW_CONFIDENCE
        return routed

    # ------------------------------------------------------------------ incidents
    def opened(self, alert: AlertRecord) -> None:
        """This brain published ``alert``; a RAISED one is an incident it opened."""
        if alert.state is AlertState.RAISED:
            self._own_alerts[alert.id] = None
            self._own_alerts.move_to_end(alert.id)
            while len(self._own_alerts) > OWN_ALERTS_KEPT:
                self._own_alerts.popitem(last=False)

    def on_alert(self, alert: AlertRecord, now: float, fallen_track: int = -1) -> list[Effect]:
        """An alert heard on ``alerts``: a new fall starts the fall response, staff closing the
        incident ends it. Incidents this brain opened itself (a fall said aloud: the person is
        talking to the robot already) are not answered again."""
        if alert.id in self._own_alerts:
            return []
        if alert.kind is AlertKind.FALL and alert.state is AlertState.RAISED:
            return self.fall.on_fall_alert(alert, now, fallen_track)
        if alert.state in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
            return self.fall.on_alert_update(alert, now)
        return []
