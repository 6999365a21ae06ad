"""The pure rules of carebot.bag: privacy, retention and pruning, replay timing, the live view's plan and layout,
the live view's parameter table in config-check, and `carebot bag info` on good and bad input."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from carebot import config_check
from carebot.bag import live_view, msgdefs
from carebot.bag.parameters import LIVE_VIEW
from carebot.bag.playback import PlaybackClock, parse_sync
from carebot.bag.prune import find_bags, prune
from carebot.bag.store import BagWriter, QosRecord, copy_bag, read_info
from carebot.bag.topics import (KEY_EXPIRES, KEY_REMOVED, Privacy, Selection, expired_topics, privacy_of,
                                retention_data, site_retention_s)

ROOT = Path(__file__).resolve().parents[3]
UTC = dt.timezone.utc


# --------------------------------------------------------------------------- privacy

@pytest.mark.parametrize("type_name, privacy", [
    ("sensor_msgs/msg/Image", Privacy.CAMERA), ("sensor_msgs/msg/CompressedImage", Privacy.CAMERA),
    ("carebot_interfaces/msg/AudioChunk", Privacy.AUDIO), ("carebot_interfaces/msg/Transcript", Privacy.TRANSCRIPT),
    ("sensor_msgs/msg/CameraInfo", Privacy.OPEN), ("sensor_msgs/msg/LaserScan", Privacy.OPEN),
])
def test_privacy_is_decided_by_type(type_name, privacy):
    assert privacy_of(type_name) is privacy


def test_default_recording_leaves_camera_and_audio_out_and_says_so():
    selection = Selection.make(None)
    camera = selection.decide("/camera/image_raw", "sensor_msgs/msg/Image")
    debug = selection.decide("/perception/debug_image", "sensor_msgs/msg/Image")
    renamed = selection.decide("/head_cam/frames", "sensor_msgs/msg/Image")     # by type, whatever the name
    audio = selection.decide("/speech/audio_in", "carebot_interfaces/msg/AudioChunk")
    assert not any(d.record for d in (camera, debug, renamed, audio))
    assert "left out for privacy unless named (--topics camera/image_raw)" in camera.reason
    assert audio.privacy is Privacy.AUDIO and "raw audio" in audio.reason
    assert selection.decide("/scan", "sensor_msgs/msg/LaserScan").record
    assert not selection.decide("/navigate_to/_action/status", "action_msgs/msg/GoalStatusArray").record


def test_named_private_topics_are_recorded():
    named = Selection.make(["camera/image_raw", "scan"])
    assert named.decide("/camera/image_raw", "sensor_msgs/msg/Image").record
    assert not named.decide("/perception/debug_image", "sensor_msgs/msg/Image").record
    assert not named.decide("/odom", "nav_msgs/msg/Odometry").record          # --topics: only those
    included = Selection.make(None, include=["camera/image_raw"])             # all, and this one too
    assert included.decide("/camera/image_raw", "sensor_msgs/msg/Image").record
    assert included.decide("/odom", "nav_msgs/msg/Odometry").record
    assert not included.decide("/perception/debug_image", "sensor_msgs/msg/Image").record
    excluded = Selection.make(None, exclude=["odom"])
    assert not excluded.decide("/odom", "nav_msgs/msg/Odometry").record
    assert Selection.make(None, namespace="/carebot").decide("/carebot/scan", "sensor_msgs/msg/LaserScan").record


def test_transcripts_follow_the_site_retention(tmp_path):
    # The site file's dashboard.transcript_retention_s decides: the care home keeps a day, the hall an hour.
    assert site_retention_s(ROOT / "config" / "care_home.yaml") == 86400.0
    assert site_retention_s(ROOT / "config" / "public_hall.yaml") == 3600.0
    assert site_retention_s(None) == 86400.0
    kept = Selection.make(None, retention_s=3600.0).decide("/speech/transcript", "carebot_interfaces/msg/Transcript")
    assert kept.record and "kept 3600 s (dashboard.transcript_retention_s)" in kept.reason
    none_kept = Selection.make(["speech/transcript"], retention_s=0.0)
    assert not none_kept.decide("/speech/transcript", "carebot_interfaces/msg/Transcript").record
    end = dt.datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    data = retention_data(["/speech/transcript"], 3600.0, end)
    assert data[KEY_EXPIRES] == "2026-12-03T13:00:00Z"
    assert expired_topics(data, end + dt.timedelta(minutes=59)) == []
    assert expired_topics(data, end + dt.timedelta(minutes=61)) == ["/speech/transcript"]
    assert expired_topics({**data, KEY_EXPIRES: "garbled"}, end) == ["/speech/transcript"]   # never kept forever


def _bag_with_transcripts(folder: Path, expires_in_s: float) -> None:
    from carebot_interfaces.msg import Transcript
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String

    end = dt.datetime.now(UTC)
    writer = BagWriter(folder, custom_data=retention_data(["/speech/transcript"], expires_in_s, end))
    for topic, type_name in (("/speech/transcript", "carebot_interfaces/msg/Transcript"),
                             ("/chatter", "std_msgs/msg/String")):
        definition = msgdefs.full_definition(type_name)
        writer.add_topic(topic, type_name, definition, msgdefs.type_hash(type_name, definition), [QosRecord()])
    for i in range(5):
        writer.write("/speech/transcript", 10 ** 9 + i, serialize_message(Transcript(text=f"help me {i}")))
        writer.write("/chatter", 10 ** 9 + i, serialize_message(String(data="x")))
    writer.close()


def test_prune_removes_only_expired_transcripts(tmp_path):
    _bag_with_transcripts(tmp_path / "site" / "old", expires_in_s=-10.0)      # retention already over
    _bag_with_transcripts(tmp_path / "site" / "new", expires_in_s=3600.0)
    assert find_bags(tmp_path / "site") == [tmp_path / "site" / "new", tmp_path / "site" / "old"]
    assert prune(tmp_path / "site" / "new") == []
    assert prune(tmp_path / "site" / "old") == ["/speech/transcript"]
    old = read_info(tmp_path / "site" / "old")
    assert [t.name for t in old.topics] == ["/chatter"] and old.topic("/chatter").count == 5
    assert old.custom_data[KEY_REMOVED] and old.complete
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["new", "old"]     # no leftovers
    assert read_info(tmp_path / "site" / "new").topic("/speech/transcript").count == 5
    assert prune(tmp_path / "site" / "old") == []                                      # once only
    # A clip without the transcript topic keeps its parent's expiry note and is left alone.
    clip = tmp_path / "clip"
    copy_bag(tmp_path / "site" / "new", clip, topics=["/chatter"],
             custom_data=retention_data(["/speech/transcript"], -10.0, dt.datetime.now(UTC)))
    before = (clip / "clip_0.mcap").stat().st_mtime_ns
    assert prune(clip) == [] and (clip / "clip_0.mcap").stat().st_mtime_ns == before


# --------------------------------------------------------------------------- replay timing

def test_playback_clock_rate_and_pause():
    clock = PlaybackClock(rate=2.0, bag_origin_ns=10 * 10 ** 9, wall_origin_s=100.0)
    assert clock.wall_for(12 * 10 ** 9) == pytest.approx(101.0)          # 2 s of bag at rate 2
    assert clock.bag_at(100.5) == 11 * 10 ** 9
    clock.pause(100.5)
    assert clock.bag_at(130.0) == 11 * 10 ** 9                           # bag time stands still
    clock.resume(103.5)                                                  # a 3 s wait for a reply
    assert clock.wall_for(12 * 10 ** 9) == pytest.approx(104.0)
    with pytest.raises(ValueError, match="rate must be above 0"):
        PlaybackClock(0.0, 0, 0.0)
    assert parse_sync("camera/image_raw=perception/persons") == ("camera/image_raw", "perception/persons")
    with pytest.raises(ValueError, match="TRIGGER=REPLY"):
        parse_sync("camera/image_raw")


# --------------------------------------------------------------------------- live view

def test_live_view_plan_relays_the_camera_only_when_allowed():
    off = live_view.channel_plan(camera=False)
    on = live_view.channel_plan(camera=True, namespace="/carebot")
    assert "/camera/image_raw" not in off and "/perception/debug_image" not in off
    assert {"/map", "/tf", "/scan", "/odom", "/navigator/path", "/alerts", "/diagnostics",
            "/perception/persons", "/live_view/people", "/live_view/alerts"} <= set(off)
    assert on["/carebot/camera/image_raw"] == "sensor_msgs/msg/Image" and "/diagnostics" in on
    for type_name in off.values():        # every relayed type has a full definition to send
        if not type_name.startswith("foxglove."):
            assert msgdefs.full_definition(type_name)


def test_layout_file_is_the_generated_one_and_names_offered_channels():
    text = live_view.LAYOUT_FILE.read_text(encoding="utf-8")
    assert text == live_view.layout_json(), "config/foxglove/live_view.json is stale: regenerate it"
    layout = json.loads(text)
    offered = set(live_view.channel_plan(camera=True))
    found = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("topicPath", "imageTopic", "topicToRender") and isinstance(value, str):
                    found.add(value.split(".")[0])
                if key == "topics" and isinstance(value, dict):
                    found.update(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(layout)
    assert found and found <= offered, found - offered


def test_markers_for_people_and_alerts():
    from carebot_interfaces.msg import Alert, Person, PersonArray

    msg = PersonArray()
    msg.header.frame_id = "base_link"
    msg.persons = [Person(track_id=1, state=0), Person(track_id=2, state=1, seconds_down=4.2)]
    msg.persons[1].position.x = 2.0
    standing, fallen = live_view.person_markers(msg)
    assert standing.colour == live_view.NORMAL_COLOUR and standing.size[2] > standing.size[0]
    assert fallen.colour == live_view.FALLEN_COLOUR and fallen.size[0] > fallen.size[2]   # lying down
    assert fallen.label == "#2 FALLEN 4 s" and fallen.position[0] == 2.0 and fallen.frame == "base_link"
    alert = Alert(id="a", kind=0, state=0, position_known=True, room="lounge")
    alert.header.frame_id = "map"
    marker = live_view.alert_marker(alert)
    assert marker.label == "FALL RAISED lounge" and marker.shape == "sphere" and marker.frame == "map"
    assert live_view.alert_marker(Alert(id="a", state=3, position_known=True)) is None       # resolved
    assert live_view.alert_marker(Alert(id="a", state=0, position_known=False)) is None      # nowhere


def test_fixed_joints_from_the_urdf():
    joints = {(t.parent, t.child): t for t in live_view.fixed_joints()}
    laser = joints[("base_link", "laser")]
    assert laser.translation == (0.14, 0.0, 0.21) and laser.rotation == pytest.approx((0, 0, 0, 1))


def test_live_view_section_is_checked_like_any_node():
    assert config_check.validate({"live_view": {"ros__parameters": {"camera": True, "port": 9000}}},
                                 config_check.node_tables()) == []
    issues = config_check.validate({"live_view": {"ros__parameters": {"host": "anywhere", "port": 70000}}},
                                   config_check.node_tables())
    assert {i.key for i in issues} == {"live_view.host", "live_view.port"}
    settings = LIVE_VIEW.load({})
    assert settings.host == "127.0.0.1" and settings.camera is False and settings.port == 8765


def test_the_view_has_no_login_so_a_host_beyond_loopback_needs_an_explicit_yes():
    tables = config_check.node_tables()
    for host in ("0.0.0.0", "192.168.1.20", "::"):
        issues = config_check.validate({"live_view": {"ros__parameters": {"host": host}}}, tables)
        assert [i.key for i in issues] == ["live_view.host"], (host, issues)
        assert "no login" in issues[0].reason
        assert config_check.validate({"live_view": {"ros__parameters": {
            "host": host, "allow_unauthenticated_remote": True}}}, tables) == []
    for host in ("127.0.0.1", "127.0.0.5", "localhost", "::1"):
        assert config_check.validate({"live_view": {"ros__parameters": {"host": host}}}, tables) == [], host


# --------------------------------------------------------------------------- carebot bag info

def _carebot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "carebot.cli", "bag", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_info_text_and_json_on_the_replay_clip():
    clip = ROOT / "tests" / "data" / "bags" / "resident_fall_clip"
    text = _carebot("info", str(clip))
    assert text.returncode == 0, text.stderr
    assert "/camera/image_raw   | sensor_msgs/msg/Image | 38 msgs | best effort" in text.stdout
    assert "Complete:          yes" in text.stdout and "(sim time)" in text.stdout
    data = json.loads(_carebot("info", "--json", str(clip)).stdout)
    assert data["complete"] and data["message_count"] == sum(t["count"] for t in data["topics"])
    assert {t["name"] for t in data["topics"]} >= {"/camera/image_raw", "/odom", "/alerts"}


def test_info_on_bad_input_names_the_file_and_fails(tmp_path):
    foreign = tmp_path / "notes.mcap"
    foreign.write_text("these are notes")
    result = _carebot("info", str(foreign))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == f"carebot bag: {foreign}: is not an MCAP file (it starts with b'these ar', " \
                                    "not the MCAP magic)"
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": {
        "version": 8, "storage_identifier": "sqlite3"}}))
    result = _carebot("info", str(tmp_path / "bag"))
    assert result.returncode == 1 and "storage 'sqlite3': only mcap bags are read here" in result.stderr
