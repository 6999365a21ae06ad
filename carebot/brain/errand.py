"""The fetch errand as a state machine: drive to where the item is, come back, hand it over.

Pure logic with explicit time, like ``fall_response``: the node starts an errand when a
plan has a ``fetch`` call, hands back the result of each drive (``Navigate`` effects with
``reply_to="errand"``) and ticks it for the leg timeout. One errand at a time: a new one
replaces the running one, which then ends as failed (its drive is preempted).
"""
from __future__ import annotations

from enum import Enum

from carebot.brain.effects import Cancel, Effect, Gesture, Navigate, Speak

LEG_TIMEOUT_S = 300.0   # one drive of an errand (there, or back)
REPLY_TO = "errand"
TEXT = {"here": {"en": "Here is your {item}.", "zh": "您的{item}来了。"},
        "failed": {"en": "Sorry, I could not get the {item}. I will ask a member of staff.",
                   "zh": "对不起，我没能拿到{item}，我会请工作人员帮忙。"}}


class ErrandState(str, Enum):
    GOING = "going"             # driving to where the item is
    RETURNING = "returning"     # driving back to where it was asked for
    DONE = "done"
    FAILED = "failed"


class Errand:
    """One fetch: ``home`` is where the robot was asked (map x, y), None when its pose was unknown."""

    def __init__(self, item: str, place: str, language: str, home: tuple[float, float] | None,
                 leg_timeout_s: float = LEG_TIMEOUT_S):
        self.item, self.place, self.home = item, place, home
        self.language = language if language in ("en", "zh") else "en"
        self.leg_timeout_s = leg_timeout_s
        self.state = ErrandState.GOING
        self._since = 0.0

    @property
    def active(self) -> bool:
        return self.state in (ErrandState.GOING, ErrandState.RETURNING)

    def _say(self, key: str) -> Speak:
        return Speak(TEXT[key][self.language].format(item=self.item), self.language)

    def start(self, now: float) -> list[Effect]:
        self.state, self._since = ErrandState.GOING, now
        return [Navigate(self.place, None, 0.0, reply_to=REPLY_TO)]

    def on_navigated(self, ok: bool, now: float) -> list[Effect]:
        """A drive of this errand ended (ok: arrived)."""
        if not self.active:
            return []
        if not ok:
            return self._fail()
        if self.state is ErrandState.GOING and self.home is not None:
            self.state, self._since = ErrandState.RETURNING, now
            return [Navigate("", (self.home[0], self.home[1], 0.0), 0.0, "map", reply_to=REPLY_TO)]
        self.state = ErrandState.DONE
        return [Gesture("handover"), self._say("here")]

    def tick(self, now: float) -> list[Effect]:
        if self.active and now - self._since >= self.leg_timeout_s:
            return [Cancel("navigate_to")] + self._fail()
        return []

    def abandon(self) -> list[Effect]:
        """Replaced by a new errand: this one has failed (the new drive preempts its own)."""
        return self._fail() if self.active else []

    def _fail(self) -> list[Effect]:
        self.state = ErrandState.FAILED
        return [self._say("failed")]
