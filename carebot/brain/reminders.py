"""Reminders (medication, water, appointments): parse times, fire on schedule,
re-prompt, and escalate to staff when the resident does not confirm.

Pure logic with an injected clock: the node calls ``tick(now)`` once a second
and turns the returned events into speech and alerts.
"""
from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Callable

from carebot.brain.phrases import normalize

DEFAULT_CONFIRM_TIMEOUT_S = 120.0   # wait this long for "yes, done" after each prompt
DEFAULT_MAX_PROMPTS = 2             # prompts before the reminder counts as missed
MAX_AHEAD = timedelta(days=7)       # reminders further ahead are refused

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}


def chinese_number(text: str) -> int | None:
    """Value of a Chinese or Arabic numeral below 100 ('二十五' -> 25, '15' -> 15)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _ZH_DIGITS and ch != "十" for ch in text):
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _ZH_DIGITS[tens] if tens else 1
        o = _ZH_DIGITS[ones] if ones else 0
        if len(tens) > 1 or len(ones) > 1:
            return None
        return t * 10 + o
    if len(text) == 1:
        return _ZH_DIGITS[text]
    return None


_NUM = r"(\d{1,2}|[零〇一二两三四五六七八九十]{1,3})"
_EN_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
             "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
             "twenty": 20, "thirty": 30, "forty": 40, "forty five": 45, "sixty": 60,
             "a": 1, "an": 1, "half an": 0.5}


def _at(now: datetime, hour: int, minute: int) -> datetime | None:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    when = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return when if when > now else when + timedelta(days=1)


def parse_time_expression(text: str, now: datetime | None = None) -> datetime | None:
    """The next moment a time expression names, or None when it is not understood.

    English: "15:30", "at 3 pm", "3:15pm", "in 20 minutes", "in an hour", ISO dates.
    Mandarin: "下午三点", "晚上8点半", "15点30分", "二十分钟后", "一小时后".
    """
    now = now or datetime.now()
    if not isinstance(text, str) or not text.strip():
        return None
    raw = text.strip()
    try:
        when = datetime.fromisoformat(raw)
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)
        return when if now < when <= now + MAX_AHEAD else None
    except ValueError:
        pass
    low = normalize(raw)
    compact = low.replace(" ", "")
    # relative: in N minutes / hours
    m = re.search(r"\bin (\d{1,3}|" + "|".join(sorted(_EN_WORDS, key=len, reverse=True)) +
                  r") (minute|minutes|min|mins|hour|hours)\b", low)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _EN_WORDS[m.group(1)]
        delta = timedelta(hours=n) if m.group(2).startswith("hour") else timedelta(minutes=n)
        return now + delta if timedelta(0) < delta <= MAX_AHEAD else None
    m = re.search(_NUM + r"(分钟|分鐘|个小时|個小時|小时|小時)(以)?后", compact)
    if m:
        n = chinese_number(m.group(1))
        if n is None:
            return None
        delta = timedelta(minutes=n) if m.group(2).startswith("分") else timedelta(hours=n)
        return now + delta if delta > timedelta(0) else None
    if re.search(r"半(个|個)?小(时|時)(以)?后", compact):
        return now + timedelta(minutes=30)
    # Mandarin clock time: [上午|下午|晚上|中午|早上] N 点 [M 分 | 半]
    m = re.search(r"(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上)?" + _NUM + r"(点|點|时|時)(" + _NUM[1:-1] + r"|半)?(分)?", compact)
    if m:
        hour = chinese_number(m.group(2))
        minute = 30 if m.group(4) == "半" else (chinese_number(m.group(4)) if m.group(4) else 0)
        if hour is None or minute is None:
            return None
        if m.group(1) in ("下午", "傍晚", "晚上") and hour < 12:
            hour += 12
        elif m.group(1) == "中午" and hour < 6:
            hour += 12
        elif not m.group(1):
            return _soonest(now, hour, minute)
        return _at(now, hour, minute)
    # English clock time: 15:30, 3:30 pm, 3 pm, at 3 o'clock
    m = re.search(r"\b(\d{1,2})(?: (\d{2}))? ?(am|pm|a m|p m)\b", low)
    if not m:
        m = re.search(r"\b(\d{1,2}) ?: ?(\d{2})\b()", raw.lower())
    if m:
        hour = int(m.group(1))
        minute = int(m.group(2)) if m.group(2) else 0
        suffix = (m.group(3) or "").replace(" ", "")
        if suffix:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if suffix == "pm" else 0)
        return _at(now, hour, minute)
    m = re.search(r"\bat (\d{1,2})(?: o ?clock)?\b", low)
    if m:
        return _soonest(now, int(m.group(1)), 0)
    return None


def _soonest(now: datetime, hour: int, minute: int) -> datetime | None:
    """A bare "at 3" / "三点": the sooner of 3:00 and 15:00."""
    first = _at(now, hour, minute)
    if first is None or not 1 <= hour <= 11:
        return first
    second = _at(now, hour + 12, minute)
    return min(first, second)


_CONFIRM_EN = re.compile(r"\b(yes|yeah|yep|done|ok|okay|i did|i have|i ve|taken|took it|i took|"
                         r"drank|i drank|already|got it|will do|thank you|thanks|sure)\b")
_CONFIRM_ZH = ("好的", "好了", "是的", "吃了", "吃过", "喝了", "喝过", "知道了", "已经", "收到", "谢谢", "行", "嗯")


def is_confirmation(text: str) -> bool:
    """True when a reply confirms a reminder ("yes, I took it", "吃过了")."""
    norm = normalize(text)
    if not norm or re.search(r"\b(no|not yet|later|didn t|did not|haven t)\b", norm) or "没" in norm or "不" in norm:
        return False
    return bool(_CONFIRM_EN.search(norm)) or any(p in norm.replace(" ", "") for p in _CONFIRM_ZH)


class ReminderState(str, Enum):
    PENDING = "pending"       # not due yet
    ACTIVE = "active"         # fired, waiting for confirmation
    CONFIRMED = "confirmed"
    MISSED = "missed"         # escalated to staff


class ReminderEventKind(str, Enum):
    FIRE = "fire"             # say the reminder for the first time
    REPROMPT = "reprompt"     # say it again
    MISSED = "missed"         # raise REMINDER_MISSED to staff


@dataclass
class Reminder:
    id: str
    resident: str
    due: datetime
    text: str
    place: str = ""
    daily: bool = False
    state: ReminderState = ReminderState.PENDING
    prompts: int = 0
    last_prompt: datetime | None = None


@dataclass(frozen=True)
class ReminderEvent:
    kind: ReminderEventKind
    reminder: Reminder
    message: str = ""


class ReminderScheduler:
    """Holds reminders, fires them on ``tick`` and escalates unconfirmed ones."""

    def __init__(self, confirm_timeout_s: float = DEFAULT_CONFIRM_TIMEOUT_S,
                 max_prompts: int = DEFAULT_MAX_PROMPTS,
                 clock: Callable[[], datetime] = datetime.now):
        if confirm_timeout_s <= 0 or max_prompts < 1:
            raise ValueError("confirm_timeout_s must be > 0 and max_prompts >= 1")
        self.confirm_timeout = timedelta(seconds=confirm_timeout_s)
        self.max_prompts = max_prompts
        self._clock = clock
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.reminders: dict[str, Reminder] = {}

    def add(self, resident: str, when: str | datetime, text: str, place: str = "",
            daily: bool = False) -> Reminder:
        """Schedule a reminder; ``when`` is a datetime or a time expression."""
        now = self._clock()
        due = when if isinstance(when, datetime) else parse_time_expression(when, now)
        if due is None:
            raise ValueError(f"time not understood: {when!r}")
        with self._lock:
            reminder = Reminder(f"reminder-{next(self._ids)}", resident, due, text, place, daily)
            self.reminders[reminder.id] = reminder
        return reminder

    def active_for(self, resident: str = "") -> list[Reminder]:
        with self._lock:
            return [r for r in self.reminders.values() if r.state is ReminderState.ACTIVE
                    and (not resident or not r.resident or r.resident == resident)]

    def confirm(self, text: str, resident: str = "") -> Reminder | None:
        """Mark the oldest active reminder of the resident confirmed if the text confirms."""
        if not is_confirmation(text):
            return None
        active = sorted(self.active_for(resident), key=lambda r: r.due)
        if not active:
            return None
        with self._lock:
            reminder = active[0]
            self._finish(reminder, ReminderState.CONFIRMED)
        return reminder

    def _finish(self, reminder: Reminder, state: ReminderState) -> None:
        reminder.state = state
        if reminder.daily:  # the next day's occurrence is a fresh reminder
            reminder.due += timedelta(days=1)
            reminder.state = ReminderState.PENDING
            reminder.prompts = 0
            reminder.last_prompt = None

    def tick(self, now: datetime | None = None) -> list[ReminderEvent]:
        """Events due at ``now``: first prompts, re-prompts and misses."""
        now = now or self._clock()
        events: list[ReminderEvent] = []
        with self._lock:
            for reminder in self.reminders.values():
                if reminder.state is ReminderState.PENDING and now >= reminder.due:
                    reminder.state = ReminderState.ACTIVE
                    reminder.prompts = 1
                    reminder.last_prompt = now
                    events.append(ReminderEvent(ReminderEventKind.FIRE, reminder))
                elif (reminder.state is ReminderState.ACTIVE and reminder.last_prompt is not None
                      and now - reminder.last_prompt >= self.confirm_timeout):
                    if reminder.prompts < self.max_prompts:
                        reminder.prompts += 1
                        reminder.last_prompt = now
                        events.append(ReminderEvent(ReminderEventKind.REPROMPT, reminder))
                    else:
                        events.append(ReminderEvent(
                            ReminderEventKind.MISSED, reminder,
                            f"{reminder.resident or 'A resident'} did not confirm the reminder "
                            f"'{reminder.text}' due at {reminder.due:%H:%M} after {reminder.prompts} prompts"))
                        self._finish(reminder, ReminderState.MISSED)
        return events
