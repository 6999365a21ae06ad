"""carebot bag record -> info -> play over real DDS, between real processes.

A talker process publishes standard and carebot types with the stack's QoS; `carebot bag
record` (its own process) records them; `carebot bag info --json` reads the bag; `rosbags`
reads it back independently; `carebot bag play` publishes it into a listener node, which
must get the very messages that were recorded (reliable topics: all of them, in order; the
latched alerts: transient local again). Privacy defaults: camera images and raw audio are
left out unless named, and the command says so. A full disk (a 6 MB tmpfs) stops the
recorder cleanly with what it wrote kept.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 wheels not installed")

from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

from carebot.alert_delivery import ALERTS_LIVE_QOS  # noqa: E402
from carebot.bag.store import iter_messages, read_info  # noqa: E402
from carebot.scenarios import ros_env  # noqa: E402
from bag_support import Listener  # noqa: E402

pytestmark = [pytest.mark.ros]

ROOT = Path(__file__).resolve().parents[2]
TALKER = [sys.executable, str(ROOT / "tests" / "integration" / "bag_support.py")]
RECORD_S = 6.0
BEST_EFFORT = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)


def _carebot(*args: str, env: dict[str, str], timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "carebot.cli", "bag", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One talker, two recordings side by side: the default set and some named topics."""
    tmp = tmp_path_factory.mktemp("bags")
    env = ros_env.isolated_env()
    talker = ros_env.start([*TALKER, "20"], env, tmp / "talker.log")
    try:
        time.sleep(2.0)
        default = subprocess.Popen([sys.executable, "-m", "carebot.cli", "bag", "record", "--out", str(tmp / "default"),
                                    "--stop-after", str(RECORD_S)], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        named = _carebot("record", "--topics", "camera/image_raw", "chatter", "--out", str(tmp / "named"),
                         "--stop-after", str(RECORD_S), env=env)
        default_out = default.communicate(timeout=120)[0]
    finally:
        ros_env.stop(talker)
    assert default.returncode == 0, default_out
    assert named.returncode == 0, named.stdout + named.stderr
    return {"tmp": tmp, "env": env, "default": tmp / "default", "named": tmp / "named",
            "default_out": default_out, "named_out": named.stdout}


def test_default_recording_keeps_camera_and_audio_out_and_says_so(recorded):
    info = read_info(recorded["default"])
    topics = {t.name: t for t in info.topics}
    assert {"/chatter", "/alerts", "/perception/persons", "/speech/transcript", "/scan", "/odom"} <= set(topics)
    assert "/camera/image_raw" not in topics and "/speech/audio_in" not in topics
    out = recorded["default_out"]
    assert "left out  /camera/image_raw [sensor_msgs/msg/Image]: camera images: left out for privacy" in out
    assert "left out  /speech/audio_in [carebot_interfaces/msg/AudioChunk]: raw audio" in out
    assert "transcripts are kept 86400 s (dashboard.transcript_retention_s" in out
    assert info.custom_data["carebot.privacy.left_out"] == \
        "/camera/image_raw (camera images), /speech/audio_in (raw audio)"
    assert info.custom_data["carebot.transcripts.topics"] == "/speech/transcript"
    # Named explicitly, the camera is recorded (and nothing else).
    named = read_info(recorded["named"])
    assert {t.name for t in named.topics} == {"/camera/image_raw", "/chatter"}
    assert named.topic("/camera/image_raw").count > 0.5 * RECORD_S * 20


def test_recorded_qos_types_and_counts(recorded):
    result = _carebot("info", "--json", str(recorded["default"]), env=recorded["env"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    topics = {t["name"]: t for t in data["topics"]}
    assert data["complete"] and data["problems"] == []
    assert topics["/perception/persons"]["type"] == "carebot_interfaces/msg/PersonArray"
    assert topics["/alerts"]["qos"][0]["durability"] == 1                    # transient local, as offered
    assert topics["/perception/persons"]["qos"][0]["reliability"] == 2       # best effort, as offered
    assert all(t["type_hash"].startswith("RIHS01_") for t in data["topics"])
    # 20 Hz for ~6 s on a loaded machine: most of it, and nothing twice.
    chatter = _strings([m.data for m in iter_messages(recorded["default"], ["/chatter"])])
    numbers = [int(text.split()[1]) for text in chatter]
    gaps = [(a, b) for a, b in zip(numbers, numbers[1:]) if b != a + 1]
    assert topics["/chatter"]["count"] > 0.6 * RECORD_S * 20, (topics["/chatter"]["count"], gaps)
    assert numbers == sorted(set(numbers)) and gaps == [], gaps        # reliable: in order, no gap


def test_an_independent_reader_decodes_carebot_types(recorded):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    with AnyReader([recorded["default"]], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        connections = [c for c in reader.connections if c.topic in ("/alerts", "/perception/persons")]
        decoded = [(c.topic, reader.deserialize(raw, c.msgtype)) for c, _t, raw in reader.messages(connections)]
    alerts = [m for topic, m in decoded if topic == "/alerts"]
    persons = [m for topic, m in decoded if topic == "/perception/persons"]
    assert alerts and all(a.room == "lounge" and a.position.x == 2.5 and a.id.startswith("alert-") for a in alerts)
    assert persons and persons[-1].persons[0].position.x == 1.5 and persons[-1].image_width == 640


def test_play_publishes_the_recorded_messages(recorded):
    from carebot_interfaces.msg import Alert, PersonArray
    from rosgraph_msgs.msg import Clock
    from std_msgs.msg import String

    info = read_info(recorded["default"])
    expected = [m.data for m in iter_messages(recorded["default"], ["/chatter"])]
    listener = Listener(recorded["env"], {"/chatter": (String, QoSProfile(depth=1000)),
                                          "/alerts": (Alert, ALERTS_LIVE_QOS),
                                          "/perception/persons": (PersonArray, BEST_EFFORT),
                                          "/clock": (Clock, BEST_EFFORT)})
    try:
        player = subprocess.Popen([sys.executable, "-m", "carebot.cli", "bag", "play", str(recorded["default"]),
                                   "--rate", "2", "--clock", "--delay", "6"], env=recorded["env"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        # --delay: discovery between the player and the listener took ~4 s on the loaded 2-core CI
        # machine (the first 49 messages were lost with 1.5 s).
        listener.spin_until(lambda: player.poll() is not None, 120)
        out = player.communicate(timeout=10)[0]
        listener.spin_until(lambda: len(listener.received["/chatter"]) >= len(expected), 5)
    finally:
        listener.close()
    assert player.returncode == 0, out
    got = listener.received
    assert [m.data for m in got["/chatter"]] == _strings(expected)
    assert [a.id for a in got["/alerts"]] == [f"alert-{n}" for n in _alert_numbers(recorded["default"])]
    assert len(got["/perception/persons"]) >= 0.8 * info.topic("/perception/persons").count
    # /clock follows the bag's time (the receive times of the recording).
    clock = [c.clock.sec * 10 ** 9 + c.clock.nanosec for c in got["/clock"]]
    assert clock == sorted(clock) and info.start_ns <= clock[0] and clock[-1] <= info.end_ns
    assert clock[-1] - clock[0] > 0.8 * (info.end_ns - info.start_ns)


def _strings(raw: list[bytes]) -> list[str]:
    from rclpy.serialization import deserialize_message
    from std_msgs.msg import String

    return [deserialize_message(d, String).data for d in raw]


def _alert_numbers(bag: Path) -> list[int]:
    from rclpy.serialization import deserialize_message
    from carebot_interfaces.msg import Alert

    return [int(deserialize_message(m.data, Alert).id.split("-")[1]) for m in iter_messages(bag, ["/alerts"])]


def test_a_full_disk_stops_the_recorder_cleanly(tmp_path):
    """A 6 MB tmpfs as the disk, 100 kB camera frames at 20 Hz: full within a few seconds."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); "
                    "tests/unit/bag/test_bag_store.py covers a full disk with a file-size limit")
    env = ros_env.isolated_env()
    talker = ros_env.start([*TALKER, "20", "100000"], env, tmp_path / "talker.log")
    try:
        time.sleep(2.0)
        result = _carebot("record", "--topics", "camera/image_raw", "chatter", "--out", str(disk / "bag"),
                          "--stop-after", "60", env=env)
        info = read_info(disk / "bag")
        frames = sum(1 for _ in iter_messages(disk / "bag", ["/camera/image_raw"]))
    finally:
        ros_env.stop(talker)
        subprocess.run(["umount", str(disk)], check=False)
    assert result.returncode == 1, result.stdout + result.stderr         # stopped, not finished
    assert "recording stopped: disk full" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    # What was written is kept and readable: closed properly with the space kept for it.
    assert info.complete and info.topic("/camera/image_raw").count == frames > 5
    assert info.custom_data["carebot.stop_reason"].startswith("disk full")
