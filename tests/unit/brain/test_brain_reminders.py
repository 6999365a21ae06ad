"""Reminder times, scheduling, re-prompts and escalation when unconfirmed."""
from datetime import datetime, timedelta

import pytest

from carebot.brain.reminders import (ReminderEventKind, ReminderScheduler, ReminderState, chinese_number,
                                     is_confirmation, parse_time_expression)

NOW = datetime(2026, 11, 29, 10, 0)


@pytest.mark.parametrize("text,expected", [
    ("15:30", NOW.replace(hour=15, minute=30)),
    ("at 3 pm", NOW.replace(hour=15)),
    ("3:15pm", NOW.replace(hour=15, minute=15)),
    ("at 3", NOW.replace(hour=15)),                 # the sooner of 3:00 and 15:00
    ("in 20 minutes", NOW + timedelta(minutes=20)),
    ("in an hour", NOW + timedelta(hours=1)),
    ("下午三点", NOW.replace(hour=15)),
    ("晚上8点半", NOW.replace(hour=20, minute=30)),
    ("二十分钟后", NOW + timedelta(minutes=20)),
    ("上午九点", NOW.replace(hour=9) + timedelta(days=1)),  # already past today
    ("2026-11-29T12:00", NOW.replace(hour=12)),
])
def test_time_expressions(text, expected):
    assert parse_time_expression(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "someday", "25:00", "2031-01-01T00:00", "in 0 minutes", "13 pm"])
def test_bad_or_far_times_are_refused(text):
    assert parse_time_expression(text, NOW) is None


def test_chinese_numbers():
    assert [chinese_number(t) for t in ("十", "十五", "二十", "二十五", "两", "12", "百")] == [10, 15, 20, 25, 2, 12, None]


def test_confirmations():
    assert is_confirmation("Yes, I took it")
    assert is_confirmation("吃过了，谢谢")
    assert not is_confirmation("not yet")
    assert not is_confirmation("我还没吃")
    assert not is_confirmation("what is for dinner")


def test_fire_reprompt_then_missed_escalation():
    clock = [NOW]
    sched = ReminderScheduler(confirm_timeout_s=60, max_prompts=2, clock=lambda: clock[0])
    r = sched.add("Zhang", "in 5 minutes", "take your blood pressure pill")
    assert sched.tick(NOW + timedelta(minutes=4)) == []
    events = sched.tick(NOW + timedelta(minutes=5))
    assert [e.kind for e in events] == [ReminderEventKind.FIRE]
    assert sched.tick(NOW + timedelta(minutes=5, seconds=30)) == []
    assert [e.kind for e in sched.tick(NOW + timedelta(minutes=6))] == [ReminderEventKind.REPROMPT]
    missed = sched.tick(NOW + timedelta(minutes=7))
    assert [e.kind for e in missed] == [ReminderEventKind.MISSED]
    assert "Zhang" in missed[0].message and r.state is ReminderState.MISSED
    assert sched.tick(NOW + timedelta(minutes=30)) == []


def test_confirmation_closes_the_reminder():
    sched = ReminderScheduler(confirm_timeout_s=60, clock=lambda: NOW)
    r = sched.add("Chen", NOW + timedelta(minutes=1), "drink a glass of water")
    sched.tick(NOW + timedelta(minutes=1))
    assert sched.confirm("no, later", "Chen") is None
    assert sched.confirm("OK, done", "Chen") is r
    assert r.state is ReminderState.CONFIRMED
    assert sched.tick(NOW + timedelta(hours=1)) == []


def test_daily_reminder_comes_back_next_day():
    sched = ReminderScheduler(confirm_timeout_s=60, clock=lambda: NOW)
    r = sched.add("Huang", NOW + timedelta(minutes=1), "medication", daily=True)
    sched.tick(NOW + timedelta(minutes=1))
    sched.confirm("yes", "Huang")
    assert r.state is ReminderState.PENDING and r.due == NOW + timedelta(days=1, minutes=1)


def test_unparseable_time_raises():
    with pytest.raises(ValueError):
        ReminderScheduler(clock=lambda: NOW).add("x", "whenever", "y")
