"""What the brain asks the robot to do: one vocabulary of effects (pure, no ROS).

Every part of the brain that decides something - the safety net and the dialogue
(through their ``Decision``), the fall response, the shout check-in, the errand and
the reminders - returns effects from this module; ``brain_node`` has one dispatcher
that turns each kind into a ROS call. A state machine that waits for a drive to end
names itself in ``Navigate.reply_to``; the node hands the result back to it.
"""
from __future__ import annotations

from dataclasses import dataclass

from carebot.alerts import AlertKind, AlertRecord, Severity, new_alert
from carebot.brain.tools import ToolCall, ToolName
from carebot.i18n import alert_text


@dataclass(frozen=True)
class Speak:
    text: str
    language: str
    queue: bool = False             # False: a new reply (what is being said ends); True: its next part


@dataclass(frozen=True)
class PublishAlert:
    alert: AlertRecord


@dataclass(frozen=True)
class LookAt:
    track_id: int
    duration: float = 10.0          # s; 0 = until the next goal


@dataclass(frozen=True)
class Gesture:
    name: str                       # wave, point, nod, handover, rest
    place: str = ""                 # point at this named place of the site


@dataclass(frozen=True)
class Navigate:
    place: str                                            # a named place, or "" with a position
    position: tuple[float, float, float] | None           # in frame_id, m
    max_speed: float                                      # m/s, 0 = the navigator's default
    frame_id: str = "map"                                 # of position; base frames are turned into map
    reply_to: str = ""                                    # who gets the result: "fall", "errand", "" nobody
    yaw: float | None = None                              # rad, heading at the goal (None: any)


@dataclass(frozen=True)
class StopRobot:
    reason: str                     # latch the e-stop (safety/estop + safety/trigger_estop), cancel motion


@dataclass(frozen=True)
class Cancel:
    action: str                     # "navigate_to" or "gesture": the goal in progress, if any


@dataclass(frozen=True)
class CommitReminder:
    call: ToolCall                  # a validated set_reminder call


@dataclass(frozen=True)
class StartErrand:
    item: str
    place: str                      # where the item is fetched
    language: str


Effect = Speak | PublishAlert | LookAt | Gesture | Navigate | StopRobot | Cancel | CommitReminder | StartErrand


def decision_effects(decision) -> list[Effect]:
    """The effects of a validated ``dialogue.Decision``, safety first: stop and alert before
    anything that moves. ``call_staff`` is its alert; ``stop`` is ``stop_robot``. A reply in
    several parts is one reply: the parts after the first queue behind it. A reply already
    said sentence by sentence while it streamed (``spoken_live``) is not said again."""
    effects: list[Effect] = []
    speaking = False
    if decision.stop_robot:
        effects.append(StopRobot("stop phrase"))
    if decision.cancel_motion:
        effects += [Cancel("navigate_to"), Cancel("gesture")]
    if decision.alert is not None:
        effects.append(PublishAlert(decision.alert))
    for action in decision.actions:
        tool, args = action.tool, action.args
        if tool in (ToolName.SPEAK.value, ToolName.ANSWER.value):
            if not decision.spoken_live:
                effects.append(Speak(args["text"], args.get("language", decision.language), queue=speaking))
                speaking = True
        elif tool == ToolName.NAVIGATE_TO.value:
            effects.append(Navigate(args["place"], None, float(args.get("max_speed", 0.0))))
        elif tool == ToolName.GESTURE.value:
            effects.append(Gesture(args["name"], args.get("place", "")))
        elif tool == ToolName.LOOK_AT.value:
            effects.append(LookAt(int(args["track_id"]), float(args.get("duration", 0.0))))
        elif tool == ToolName.SET_REMINDER.value:
            effects.append(CommitReminder(action))
        elif tool == ToolName.FETCH.value:
            effects.append(StartErrand(args["item"], args["place"], decision.language))
    return effects


REMINDER_TEXT = {"en": "Reminder: {text}. Please tell me when it is done.",
                 "zh": "提醒您：{text}。完成后请告诉我。"}


def reminder_effects(event, language: str, alert_language: str = "en") -> list[Effect]:
    """A reminder firing or prompted again is said (in ``language``); one nobody confirmed goes
    to staff, in ``alert_language`` (the site's)."""
    from carebot.brain.reminders import ReminderEventKind

    reminder = event.reminder
    if event.kind in (ReminderEventKind.FIRE, ReminderEventKind.REPROMPT):
        return [Speak(REMINDER_TEXT[language].format(text=reminder.text), language)]
    message = alert_text.reminder_missed(alert_language, reminder.text, f"{reminder.due:%H:%M}", reminder.prompts)
    return [PublishAlert(new_alert("reminder", AlertKind.REMINDER_MISSED, Severity.WARNING,
                                   person=reminder.resident, place=reminder.place, message=message))]
