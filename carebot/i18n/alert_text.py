"""Alert texts staff can act on, in the site's language (pure; no ROS).

An alert's ``message`` is written for staff in the site's language: its first line is the
headline (kind, room, nearest named place, what happened and what the robot is doing:
"跌倒：休息室，沙发旁，已倒地 3 秒" / "Fall: lounge, by the sofa, down 3 s"); the lines after
it are the details (track ids, scores, what the person said). The headline has no scores
or ids. Kind, room and place also travel as the Alert's own fields, so a view in another
language (the staff page of a nurse who switched to English) says them in its own words
from those fields (docs/interfaces.md, Alert).
"""
from __future__ import annotations

from typing import Iterable

from carebot.i18n import number, text
from carebot.world import World

DETAILS_SEP = "\n"
QUOTE_CHARS = 120          # of what a person said, quoted in the details


def compose(headline: str, details: Iterable[str] = ()) -> str:
    """A message: the headline line, then one line per detail (empty ones left out)."""
    lines = [headline.strip().replace("\n", " ")]
    lines += [d.strip().replace("\n", " ") for d in details if d and d.strip()]
    return DETAILS_SEP.join(lines)


def split(message: str) -> tuple[str, list[str]]:
    """(headline, details) of a message; a message of one line has no details."""
    lines = [line.strip() for line in (message or "").split(DETAILS_SEP) if line.strip()]
    return (lines[0] if lines else ""), lines[1:]


def label(world: World | None, name: str, language: str) -> str:
    """A room, place or furniture name as staff read it (the world file's labels)."""
    if world is not None:
        return world.label(name, language)
    return name.replace("_", " ")


def where(world: World | None, language: str, room: str = "", place: str = "") -> str:
    """Room and nearby place as staff read them: "休息室，沙发旁" / "lounge, by the sofa"; the
    place alone, the room alone, or "place not known" when the alert has neither."""
    parts = []
    if room:
        parts.append(label(world, room, language))
    if place and place != room:
        parts.append(text("alert.near", language, place=label(world, place, language)))
    return text("alert.where_sep", language).join(parts) or text("alert.where_unknown", language)


def headline(kind: str, language: str, where_text: str, *more: str) -> str:
    """The first line of a message, "{kind}：{where}，more...", with the language's separators;
    ``kind`` is an AlertKind name."""
    head = text("alert.headline", language, kind=text(f"kind.{kind}", language), where=where_text)
    return text("alert.where_sep", language).join([head, *(m for m in more if m)])


def said(quote: str, language: str) -> str:
    """What a person said, quoted for the details (shortened)."""
    quote = " ".join(quote.split())
    if len(quote) > QUOTE_CHARS:
        quote = quote[:QUOTE_CHARS - 1] + "…"
    return text("alert.said", language, quote=quote)


# ------------------------------------------------------------------ falls (perception, brain)
def fall_raised(language: str, world: World | None, room: str, place: str, seconds_down: float,
                track_id: int, fall_score: float) -> str:
    """Perception's message when it raises a fall."""
    down = text("fall.down", language, s=number(seconds_down))
    return compose(headline("FALL", language, where(world, language, room, place), down),
                   [text("fall.details", language, track=track_id, score=f"{fall_score:.2f}")])


def fall_up_again(language: str, raised_message: str) -> str:
    """Perception's update when the person is seen up again: the raised words stay readable."""
    head, details = split(raised_message)
    return compose(text("fall.up_again", language, headline=head), details)


ESCALATION_REASONS = ("no_answer", "needs_help", "called_for_help", "unclear", "unreachable", "late")


def fall_escalated(language: str, message: str, reason: str, with_person: bool, quote: str = "",
                   **values: object) -> str:
    """The brain's words when it escalates a fall: the raised headline, why, and what the robot
    does (stays with the person, or not when it could not reach them); ``reason`` is one of
    ESCALATION_REASONS; what the person said goes to the details."""
    if reason not in ESCALATION_REASONS:
        raise ValueError(f"unknown escalation reason {reason!r}")
    head, details = split(message)
    why = text(f"reason.{reason}", language, **values)
    key = "fall.escalated" if with_person else "fall.escalated_away"
    return compose(text(key, language, headline=head, reason=why), [*details, said(quote, language) if quote else ""])


# ------------------------------------------------------------------ the brain's other alerts
def help_message(language: str, what: str, critical: bool, quote: str, world: World | None = None,
                 room: str = "", place: str = "") -> str:
    """The safety net's alert: what was recognised (a DistressKind name), how urgent, where
    when known; the person's words in the details."""
    head = text("help.headline", language, what=text(f"help.{what}", language),
                urgency=text("help.urgent" if critical else "help.check", language))
    if room or place:
        head = text("alert.where_sep", language).join([head, where(world, language, room, place)])
    return compose(head, [said(quote, language)])


def staff_message(language: str, reason: str) -> str:
    """A request for staff (the call_staff tool): the reason goes to the details."""
    return compose(text("staff.headline", language), [reason])


def shout_message(language: str, reason: str, level_dbfs: float, quote: str = "", **values: object) -> str:
    """The check-in after a shout ended without a clear "I'm fine"."""
    why = text(f"reason.{reason}", language, **values)
    return compose(text("shout.headline", language, why=why),
                   [text("shout.details", language, db=number(level_dbfs)), said(quote, language) if quote else ""])


def reminder_missed(language: str, reminder_text: str, due: str, prompts: int) -> str:
    """A reminder nobody confirmed."""
    return compose(text("reminder.missed", language, text=reminder_text),
                   [text("reminder.details", language, time=due, n=prompts)])
