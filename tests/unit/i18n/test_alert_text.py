"""Alert texts staff can act on: kind, room and nearest named place in the site's language in the
headline, numbers in the details; the world files name every room in both languages."""
import re

import pytest

from carebot.alert_enums import AlertKind, Severity
from carebot.brain.check_in import CheckInConfig, ShoutCheckIn
from carebot.brain.effects import reminder_effects
from carebot.brain.fall_response import FallConfig, FallResponder, PublishAlert
from carebot.brain.reminders import Reminder, ReminderEvent, ReminderEventKind
from carebot.brain.safety_rules import SafetyNet
from carebot.alerts import AlertState, new_alert
from carebot.i18n import alert_text
from carebot.world import WorldError, available_sites, load_world, parse_world

CARE_HOME = load_world("care_home")
FELL_AT = (2.67, 3.24)        # the demo's fall alert position (issue 20): in the lounge


def test_the_demo_fall_is_said_with_its_room_and_the_nearest_thing_in_both_languages():
    room, place = CARE_HOME.room_at(*FELL_AT), CARE_HOME.landmark_near(*FELL_AT)
    assert (room, place) == ("lounge", "coffee_table")
    zh = alert_text.fall_raised("zh-CN", CARE_HOME, room, place, 3.04, 2, 0.81)
    en = alert_text.fall_raised("en", CARE_HOME, room, place, 3.04, 2, 0.81)
    assert zh.split("\n") == ["跌倒：休息室，茶几旁，已倒地 3 秒", "跟踪编号 2，跌倒置信度 0.81"]
    assert en.split("\n") == ["Fall: lounge, by the coffee table, down 3 s", "track 2, fall score 0.81"]
    for message in (zh, en):
        headline, details = alert_text.split(message)
        assert "0.81" not in headline and "2" not in headline       # scores and track ids: details only
        assert details and "0.81" in details[0]


def test_a_fall_with_no_map_position_says_so():
    assert alert_text.fall_raised("en", None, "", "", 4.0, 7, 0.5).startswith("Fall: place not known, down 4 s\n")
    assert alert_text.fall_raised("zh", None, "", "", 4.0, 7, 0.5).startswith("跌倒：位置不明，已倒地 4 秒\n")


def test_escalation_says_why_and_what_the_robot_does_in_the_sites_language():
    raised = new_alert("fall", AlertKind.FALL, Severity.CRITICAL, room="lounge", place="sofa",
                       message=alert_text.fall_raised("zh-CN", CARE_HOME, "lounge", "sofa", 3.0, 2, 0.81))
    # the resident answers in English in a Chinese site: the robot answers in English, staff read Chinese
    responder = FallResponder(FallConfig(answer_timeout_s=10.0), language="zh", alert_language="zh")
    responder.on_fall_alert(raised, 0.0)
    assert responder.on_arrived(True, 5.0)[-1].text.startswith("您好")         # asks in Mandarin first
    effects = responder.on_transcript("No, my leg hurts badly", 8.0)
    alert = next(e.alert for e in effects if isinstance(e, PublishAlert))
    head, details = alert_text.split(alert.message)
    assert alert.state is AlertState.ESCALATED
    assert head == "跌倒：休息室，沙发旁，已倒地 3 秒。本人表示需要帮助，已升级通知工作人员，机器人在旁陪护"
    assert details == ["跟踪编号 2，跌倒置信度 0.81", "原话：“No, my leg hurts badly”"]
    assert effects[-1].language == "en"                               # the spoken reassurance follows them

    english = FallResponder(FallConfig(answer_timeout_s=10.0))
    english.on_fall_alert(new_alert("fall", AlertKind.FALL, Severity.CRITICAL, message="Fall: lounge, down 3 s"), 0.0)
    english.on_arrived(True, 1.0)
    alert = next(e.alert for e in english.tick(12.0) if isinstance(e, PublishAlert))
    assert alert.message == "Fall: lounge, down 3 s; no answer within 10 s; staff called, the robot is staying with them"


def test_the_safety_net_alert_is_in_the_sites_language_and_the_reply_in_the_speakers():
    decision = SafetyNet().evaluate("Help! Help me please!", person="resident_1", alert_language="zh-CN")
    head, details = alert_text.split(decision.alert.message)
    assert head == "有人呼救（紧急）" and details == ["原话：“Help! Help me please!”"]
    assert "staff" in decision.reply                                      # spoken in English
    assert decision.calls[0].args["reason"] == "有人呼救（紧急） · 原话：“Help! Help me please!”"
    english = SafetyNet().evaluate("I fell and I can't get up")
    assert alert_text.split(english.alert.message)[0] in ("Fall reported (urgent)", "Call for help (urgent)")


def test_shout_and_missed_reminder_alerts():
    check = ShoutCheckIn(CheckInConfig(answer_timeout_s=10.0), language="zh")
    check.on_shout(0.0, -6.2)
    alert = next(e.alert for e in check.tick(11.0) if isinstance(e, PublishAlert))
    assert alert.message == "机器人附近有人大喊：10 秒内无应答\n-6 dBFS；机器人已询问“您还好吗？”"
    from datetime import datetime
    reminder = Reminder("r1", "Zhang", datetime(2026, 12, 3, 8, 0), "take the blue pill", prompts=2)
    effect = reminder_effects(ReminderEvent(ReminderEventKind.MISSED, reminder), "en", "zh-CN")[0]
    assert effect.alert.message == "提醒未确认：take the blue pill\n应在 08:00，已提醒 2 次"
    assert effect.alert.person == "Zhang"


def test_compose_and_split():
    message = alert_text.compose("Fall: lounge", ["track 1", "", "a\nb"])
    assert message == "Fall: lounge\ntrack 1\na b"
    assert alert_text.split(message) == ("Fall: lounge", ["track 1", "a b"])
    assert alert_text.split("") == ("", [])
    with pytest.raises(ValueError, match="unknown escalation reason"):
        alert_text.fall_escalated("en", "x", "bored", True)


# ---------------------------------------------------------------- world labels
@pytest.mark.parametrize("site", available_sites())
def test_every_room_place_and_furniture_has_both_languages(site):
    world = load_world(site)
    for name in [*world.rooms, *world.places, *(box.name for box in world.furniture)]:
        labels = world.labels.get(name, {})
        assert set(labels) == {"en", "zh-CN"}, f"{site}: {name} needs en and zh-CN labels"
        assert re.search(r"[\u3400-\u9fff]", labels["zh-CN"]), f"{site}: {name}: {labels['zh-CN']!r}"


def test_landmarks_are_in_the_same_room_and_near():
    assert CARE_HOME.landmark_near(1.5, 1.0) == "sofa"               # inside the sofa's footprint
    assert CARE_HOME.landmark_near(5.0, 5.0) == ""                    # the middle of the lounge: the room says it
    assert CARE_HOME.landmark_near(7.9, 0.8) == "armchair"
    assert CARE_HOME.landmark_near(8.1, 0.8) == ""                    # through the wall: not the armchair
    assert CARE_HOME.landmark_near(1.2, 7.0) == "charging_dock"       # a named place that is not a room
    assert CARE_HOME.label("room_101", "zh") == "101 房" and CARE_HOME.label("nowhere", "zh") == "nowhere"


@pytest.mark.parametrize("labels, message", [
    ({"lobby": {"en": "lobby", "zh-CN": "大堂"}}, "no room, place or furniture"),
    ({"hall": {"en": "hall", "fr": "salle"}}, "unknown language"),
    ({"hall": {"en": " "}}, "non-empty"),
    ({"hall": "hall"}, "expected"),
])
def test_bad_labels_are_refused(labels, message):
    data = {"name": "t", "size": [4, 4], "robot_start": [1, 1, 0], "rooms": {"hall": [0, 0, 4, 4]}, "labels": labels}
    with pytest.raises(WorldError, match=message):
        parse_world(data)
