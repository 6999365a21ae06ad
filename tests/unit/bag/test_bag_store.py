"""Bags without ROS processes: writing, reading back with independent readers, bad input, a full disk.

Messages are serialised with rclpy's serializer (no rclpy.init); the bags are read back
by ``rosbags`` (AnyReader, which also checks the RIHS01 type hashes against the
definitions) and by ``mcap`` with ``mcap_ros2``'s decoder, which rebuild the types from the
definitions stored in the file: neither shares code with carebot.bag.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from carebot.bag import msgdefs
from carebot.bag.store import (BagError, BagWriter, QosRecord, copy_bag, iter_messages, qos_from_text, qos_to_text,
                               read_info)

ser = pytest.importorskip("rclpy.serialization", reason="ROS 2 wheels not installed")
ROOT = Path(__file__).resolve().parents[3]
STRING = "std_msgs/msg/String"
ALERT = "carebot_interfaces/msg/Alert"
PERSONS = "carebot_interfaces/msg/PersonArray"


def _add(writer: BagWriter, topic: str, type_name: str, **qos) -> None:
    definition = msgdefs.full_definition(type_name)
    writer.add_topic(topic, type_name, definition, msgdefs.type_hash(type_name, definition), [QosRecord(**qos)])


def _sample_bag(folder: Path, strings: int = 50) -> dict:
    from carebot_interfaces.msg import Alert, Person, PersonArray
    from std_msgs.msg import String

    writer = BagWriter(folder)
    _add(writer, "/chatter", STRING)
    _add(writer, "/alerts", ALERT, durability=1)
    _add(writer, "/perception/persons", PERSONS, reliability=2)
    for i in range(strings):
        writer.write("/chatter", 1_000_000_000 + i * 10_000_000, ser.serialize_message(String(data=f"hello {i}")))
    alert = Alert(id="fall-1", kind=0, severity=2, message="Fall: lounge", room="lounge", position_known=True)
    alert.position.x, alert.position.y = 2.63, 3.34
    writer.write("/alerts", 1_500_000_000, ser.serialize_message(alert))
    persons = PersonArray(image_width=640, image_height=480)
    persons.persons.append(Person(track_id=3, state=1, score=0.9))
    writer.write("/perception/persons", 1_600_000_000, ser.serialize_message(persons))
    info = writer.close()
    return {"info": info, "alert": alert}


def test_definitions_are_rosbag2s_concatenation_and_hash_like_rclpy():
    text = msgdefs.full_definition(PERSONS)
    # The type's own file first, then each dependency once, after rosbag2's separator.
    assert text.startswith(Path(ROOT / "robot_ws/src/carebot_interfaces/msg/PersonArray.msg").read_text())
    names = [line[5:] for line in text.splitlines() if line.startswith("MSG: ")]
    assert names == sorted(set(names), key=names.index)     # no repeats
    assert {"std_msgs/Header", "carebot_interfaces/Person", "builtin_interfaces/Time",
            "geometry_msgs/Point"} <= set(names)
    assert ("=" * 80 + "\nMSG: std_msgs/Header\n") in text
    # The RIHS01 hash from the definition equals the one the Jazzy type store knows for standard types.
    from rosbags.typesys import Stores, get_typestore

    jazzy = get_typestore(Stores.ROS2_JAZZY)
    for name in ("sensor_msgs/msg/Image", "nav_msgs/msg/Odometry", "diagnostic_msgs/msg/DiagnosticArray"):
        assert msgdefs.type_hash(name, msgdefs.full_definition(name)) == jazzy.hash_rihs01(name)


def test_unknown_type_is_named():
    with pytest.raises(msgdefs.DefinitionNotFound, match="nope_msgs/msg/Thing"):
        msgdefs.full_definition("nope_msgs/msg/Thing")
    with pytest.raises(ValueError, match="not a ROS 2 message type"):
        msgdefs.full_definition("just a string")


def test_bag_folder_is_rosbag2s(tmp_path):
    bag = tmp_path / "incident"
    info = _sample_bag(bag)["info"]
    assert sorted(p.name for p in bag.iterdir()) == ["incident_0.mcap", "metadata.yaml"]
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 8 and meta["storage_identifier"] == "mcap"
    assert meta["relative_file_paths"] == ["incident_0.mcap"] and meta["message_count"] == 52
    topics = {t["topic_metadata"]["name"]: t for t in meta["topics_with_message_count"]}
    assert topics["/chatter"]["message_count"] == 50
    assert topics["/alerts"]["topic_metadata"]["type_description_hash"].startswith("RIHS01_")
    # Version 8 QoS: a YAML string with numeric policies; transient local kept for latched topics.
    assert qos_from_text(topics["/alerts"]["topic_metadata"]["offered_qos_profiles"])[0].transient_local
    assert info.complete and info.problems == [] and info.duration_s == pytest.approx(0.6)
    assert meta["duration"]["nanoseconds"] == 600_000_000


def test_rosbags_reads_it_back_and_checks_the_hashes(tmp_path):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    expected = _sample_bag(tmp_path / "b")["alert"]
    with AnyReader([tmp_path / "b"], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        decoded = {c.topic: reader.deserialize(raw, c.msgtype) for c, _t, raw in reader.messages()}
    assert counts == {"/chatter": 50, "/alerts": 1, "/perception/persons": 1}
    alert = decoded["/alerts"]
    assert (alert.id, alert.room, alert.position.x, alert.position.y) == ("fall-1", "lounge", expected.position.x, 3.34)
    assert decoded["/perception/persons"].persons[0].track_id == 3
    assert decoded["/chatter"].data == "hello 49"


def test_mcap_ros2_decodes_carebot_types_from_the_file_alone(tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    _sample_bag(tmp_path / "b")
    with open(tmp_path / "b" / "b_0.mcap", "rb") as handle:
        reader = make_reader(handle, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        out = {channel.topic: (schema.encoding, channel.message_encoding, decoded)
               for schema, channel, _m, decoded in reader.iter_decoded_messages()}
        meta = {m.name: m.metadata for m in reader.iter_metadata()}
    encoding, message_encoding, persons = out["/perception/persons"]
    assert (encoding, message_encoding) == ("ros2msg", "cdr")
    assert persons.persons[0].state == 1 and persons.image_width == 640
    # rosbag2 reads a single .mcap's bag metadata from this record.
    assert yaml.safe_load(meta["rosbag2"]["serialized_metadata"])["message_count"] == 52


def test_reader_window_and_topics(tmp_path):
    _sample_bag(tmp_path / "b")
    window = list(iter_messages(tmp_path / "b", ["/chatter"], 1_100_000_000, 1_200_000_000))
    assert [m.log_time_ns for m in window] == [1_100_000_000 + i * 10_000_000 for i in range(10)]
    clip = copy_bag(tmp_path / "b", tmp_path / "clip", topics=["/alerts", "/chatter"], start_ns=1_400_000_000)
    assert {t.name: t.count for t in clip.topics} == {"/alerts": 1, "/chatter": 10}
    assert clip.topic("/alerts").qos[0].transient_local


def test_a_bag_is_never_written_over(tmp_path):
    _sample_bag(tmp_path / "b")
    with pytest.raises(BagError, match="already exists"):
        BagWriter(tmp_path / "b")


def test_truncated_file_is_read_up_to_the_cut_and_said(tmp_path):
    from std_msgs.msg import String

    writer = BagWriter(tmp_path / "b", chunk_bytes=2048)
    _add(writer, "/chatter", STRING)
    for i in range(2000):
        writer.write("/chatter", 10 ** 9 + i * 10 ** 6, ser.serialize_message(String(data=f"message number {i}")))
    writer.close()
    data = (tmp_path / "b" / "b_0.mcap").read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) // 2])
    info = read_info(cut)
    assert not info.complete and 0 < info.message_count < 2000
    assert any("cut.mcap is truncated at byte" in p and "did not finish" in p for p in info.problems)
    assert len(list(iter_messages(cut))) == info.message_count
    # The same cut inside a bag folder: metadata.yaml still names it, the problem is reported.
    (tmp_path / "b" / "b_0.mcap").write_bytes(data[: len(data) // 3])
    assert not read_info(tmp_path / "b").complete
    # Cut before anything readable: a clear error naming the file.
    cut.write_bytes(data[:40])
    with pytest.raises(BagError, match=r"cut\.mcap: is truncated or damaged before its first topic"):
        read_info(cut)


@pytest.mark.parametrize("content, words", [
    (b"", "is empty"),
    (b"\x89MC", "is truncated: only 3 bytes"),
    (b"SQLite format 3\x00" + b"\x00" * 100, "SQLite database"),
    (b"#ROSBAG V2.0\n" + b"\x00" * 100, "ROS 1 bag"),
    (b"PNG stuff that is not a bag", "is not an MCAP file"),
])
def test_foreign_files_get_a_clear_error_naming_the_file(tmp_path, content, words):
    path = tmp_path / "thing.mcap"
    path.write_bytes(content)
    with pytest.raises(BagError, match=words) as raised:
        read_info(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("metadata, words", [
    ("version: [", "metadata.yaml: is not valid YAML"),
    ("just: text", "no rosbag2_bagfile_information"),
    ("rosbag2_bagfile_information: {version: 12, storage_identifier: mcap}", "version 12 is not supported"),
    ("rosbag2_bagfile_information: {version: 8, storage_identifier: sqlite3}", "storage 'sqlite3'"),
    ("rosbag2_bagfile_information: {version: 8, storage_identifier: mcap, relative_file_paths: [gone.mcap]}",
     "lists gone.mcap, which is missing"),
])
def test_bad_metadata_is_named(tmp_path, metadata, words):
    (tmp_path / "metadata.yaml").write_text(metadata)
    with pytest.raises(BagError, match=words):
        read_info(tmp_path)


def test_folder_without_a_bag(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(BagError, match="not a bag: no metadata.yaml and no .mcap file .it holds notes.txt"):
        read_info(tmp_path)
    with pytest.raises(BagError, match="not found"):
        read_info(tmp_path / "missing")


def test_qos_text_round_trip():
    profiles = [QosRecord(history=1, depth=5, reliability=2, durability=1, deadline_ns=2_500_000_000)]
    back = qos_from_text(qos_to_text(profiles))
    assert back == profiles
    # Version 9's names read too.
    assert qos_from_text([{"reliability": "best_effort", "durability": "transient_local"}])[0].reliability == 2


# A process whose file-size limit (ulimit -f) is the full disk: the writer must stop, close the
# file properly with the space it kept, and keep every message it took.
_FULL_DISK = textwrap.dedent('''
    import json, resource, signal, sys
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String
    from carebot.bag import msgdefs
    from carebot.bag.store import BagWriter, QosRecord
    limit, reserve, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # as the recorder does
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    w = BagWriter(out, chunk_bytes=16384, reserve_bytes=reserve)
    d = msgdefs.full_definition("std_msgs/msg/String")
    w.add_topic("/chatter", "std_msgs/msg/String", d, msgdefs.type_hash("std_msgs/msg/String", d), [QosRecord()])
    taken = 0
    for i in range(100000):
        if not w.write("/chatter", 10**9 + i * 10**6, serialize_message(String(data="x" * 200 + str(i)))):
            break
        taken += 1
        if w.stopped:
            break
    info = w.close()
    print(json.dumps({"taken": taken, "reason": w.stop_reason, "count": info.message_count,
                      "complete": info.complete, "size": info.size_bytes}))
''')


def _run_full_disk(tmp_path, limit: int, reserve: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", _FULL_DISK, str(limit), str(reserve), str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_full_disk_stops_cleanly_and_keeps_what_was_written(tmp_path):
    result = _run_full_disk(tmp_path, limit=400_000, reserve=64 * 1024)
    assert result["reason"].startswith("disk full")
    assert result["complete"] and result["size"] <= 400_000
    # Every message the writer took is in the file: the last chunk went out with the reserve.
    assert result["count"] == result["taken"] > 1000
    assert len(list(iter_messages(tmp_path / "b"))) == result["taken"]
    meta = yaml.safe_load((tmp_path / "b" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["custom_data"]["carebot.stop_reason"].startswith("disk full")


def test_full_disk_without_reserve_keeps_the_whole_chunks(tmp_path):
    # No reserve: the write itself fails, is cut back to the last whole chunk, the summary does not
    # fit either. The file stays a readable MCAP prefix and says it is incomplete.
    result = _run_full_disk(tmp_path, limit=300_000, reserve=0)
    assert result["reason"].startswith("disk full")
    info = read_info(tmp_path / "b")
    assert info.message_count > 500
    assert os.path.getsize(tmp_path / "b" / "b_0.mcap") <= 300_000
    assert len(list(iter_messages(tmp_path / "b"))) == info.message_count
    if not info.complete:
        assert any("truncated" in p for p in info.problems)
