"""Cut the few seconds around an incident out of a scenario's recording (no rclpy).

``python -m carebot.bag.incident SOURCE_BAG TARGET_BAG`` finds the fall in a resident_fall
recording (the scenario's ``fall`` command on sim/control) and the FALL alert perception
raised for it, and copies the sensor topics perception needs (camera, odometry, joint
states) from ``BEFORE_S`` before the fall to ``AFTER_S`` after the alert, with the alert
and perception's output as the reference a replay is compared with. This is how
tests/data/bags/resident_fall_clip was made (docs/bag.md).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from carebot.bag.store import BagError, copy_bag, iter_messages, read_info

BEFORE_S = 1.0       # the resident seen standing before the fall: perception's track and pose history
AFTER_S = 0.4        # a frame or two after the alert
PLAYED = ("/camera/image_raw", "/camera/camera_info", "/odom", "/joint_states")
REFERENCE = ("/alerts", "/perception/persons", "/sim/control")
FALL_KIND = 0        # carebot_interfaces/Alert KIND_FALL
RAISED = 0


@dataclass(frozen=True)
class Incident:
    fall_ns: int          # bag time of the fall command
    alert_ns: int         # bag time the alert was received
    alert_stamp_ns: int   # the alert's header stamp: the camera frame it was decided on
    alert_id: str
    position: tuple[float, float]
    room: str


def decoder(info, topic: str):
    """A function bytes -> message object for one topic, built from the definition stored in the bag
    (mcap_ros2's decoder: no ROS install or rclpy needed)."""
    from mcap.records import Schema
    from mcap_ros2.decoder import DecoderFactory

    entry = info.topic(topic)
    if entry is None:
        raise BagError(info.path, f"has no topic {topic}")
    schema = Schema(id=1, name=entry.type, encoding="ros2msg", data=entry.definition.encode("utf-8"))
    return DecoderFactory().decoder_for("cdr", schema)


def find_fall(bag: Path) -> Incident:
    """The first fall command and the first FALL alert raised after it; BagError when absent."""
    info = read_info(bag)
    missing = [t for t in ("/sim/control", "/alerts") if info.topic(t) is None]
    if missing:
        raise BagError(bag, f"has no {', '.join(missing)}: not a resident_fall recording")
    decode = {t: decoder(info, t) for t in ("/sim/control", "/alerts")}
    fall_ns = None
    for message in iter_messages(bag, ["/sim/control", "/alerts"]):
        msg = decode[message.topic](message.data)
        if message.topic == "/sim/control" and fall_ns is None:
            if msg.tool == "fall":
                fall_ns = message.log_time_ns
        elif message.topic == "/alerts" and fall_ns is not None:
            if msg.kind == FALL_KIND and msg.state == RAISED:
                stamp = msg.header.stamp.sec * 10 ** 9 + msg.header.stamp.nanosec
                return Incident(fall_ns, message.log_time_ns, stamp, msg.id,
                                (msg.position.x, msg.position.y), msg.room)
    raise BagError(bag, "no fall command on /sim/control followed by a FALL alert on /alerts "
                        "(record the resident_fall scenario with --bag-include camera/image_raw)")


def cut(source: Path, target: Path) -> Incident:
    """Copy the incident's window of ``source`` to the new bag ``target``."""
    incident = find_fall(source)
    start = incident.fall_ns - int(BEFORE_S * 1e9)
    end = incident.alert_ns + int(AFTER_S * 1e9)
    copy_bag(source, target, topics=list(PLAYED + REFERENCE), start_ns=start, end_ns=end,
             custom_data={"carebot.clip.source": str(source), "carebot.clip.fall_s": f"{incident.fall_ns / 1e9:.3f}",
                          "carebot.clip.alert_s": f"{incident.alert_ns / 1e9:.3f}",
                          "carebot.clip.alert_id": incident.alert_id})
    return incident


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carebot.bag.incident", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a resident_fall recording with camera/image_raw")
    parser.add_argument("target", type=Path, help="the clip's bag folder (must not exist)")
    args = parser.parse_args(argv)
    try:
        incident = cut(args.source, args.target)
    except BagError as exc:
        print(f"carebot.bag.incident: {exc}", file=sys.stderr)
        return 1
    print(f"{args.target}: fall at {incident.fall_ns / 1e9:.2f} s, alert {incident.alert_id} at "
          f"{incident.alert_ns / 1e9:.2f} s at ({incident.position[0]:.2f}, {incident.position[1]:.2f}) "
          f"in {incident.room or '?'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
