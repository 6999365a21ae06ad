"""Which topics a recording takes, and why the others are left out (no rclpy).

Privacy by default (README, Privacy): camera images and raw audio are personal data that
the stack never writes to disk unless someone turns it on, so a recording leaves them out
unless they are named one by one (``--topics camera/image_raw``); the command prints each
topic left out and the reason. Transcripts are recorded as the dashboard keeps them: for
the site's ``dashboard.transcript_retention_s``, after which ``carebot bag prune`` (also run
by every ``carebot bag record`` on the bags beside the new one) removes them from the bag.

Which topics are private is decided by type, not by name, so a remapped or new camera topic
is still left out: sensor_msgs Image and CompressedImage (camera and debug images), raw
audio types (carebot_interfaces/AudioChunk, audio_common_msgs), transcripts
(carebot_interfaces/Transcript).
"""
from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import yaml


class Privacy(enum.Enum):
    """What a topic carries, as far as privacy goes."""

    OPEN = "open"
    CAMERA = "camera images"
    AUDIO = "raw audio"
    TRANSCRIPT = "transcripts"


CAMERA_TYPES = frozenset({"sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage",
                          "theora_image_transport/msg/Packet", "ffmpeg_image_transport_msgs/msg/FFMPEGPacket"})
AUDIO_TYPES = frozenset({"carebot_interfaces/msg/AudioChunk", "audio_common_msgs/msg/AudioData",
                         "audio_common_msgs/msg/AudioDataStamped", "audio_common_msgs/msg/AudioStamped"})
TRANSCRIPT_TYPES = frozenset({"carebot_interfaces/msg/Transcript"})
# Custom data keys a carebot bag carries (metadata.yaml custom_data).
KEY_LEFT_OUT = "carebot.privacy.left_out"
KEY_RETENTION = "carebot.transcripts.retention_s"
KEY_EXPIRES = "carebot.transcripts.expire_at"
KEY_TRANSCRIPT_TOPICS = "carebot.transcripts.topics"
KEY_REMOVED = "carebot.transcripts.removed_at"
RETENTION_PARAMETER = "dashboard.transcript_retention_s"
DEFAULT_RETENTION_S = 86400.0      # the dashboard table's default (carebot/dashboard/parameters.py)


def privacy_of(type_name: str) -> Privacy:
    """The privacy class of a message type."""
    if type_name in CAMERA_TYPES:
        return Privacy.CAMERA
    if type_name in AUDIO_TYPES:
        return Privacy.AUDIO
    if type_name in TRANSCRIPT_TYPES:
        return Privacy.TRANSCRIPT
    return Privacy.OPEN


def absolute(name: str, namespace: str = "/") -> str:
    """A topic name as the graph reports it: 'camera/image_raw' -> '/camera/image_raw'."""
    name = name.strip()
    if name.startswith("/"):
        return name
    namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
    return f"{namespace}/{name}"


def is_hidden(name: str) -> bool:
    """A hidden topic (a name part starting with '_', e.g. action feedback): rosbag2 leaves them
    out of ``--all`` too."""
    return any(part.startswith("_") for part in name.split("/") if part)


@dataclass(frozen=True)
class Decision:
    """Whether one topic is recorded, and the reason the command prints."""

    topic: str
    type: str
    record: bool
    reason: str
    privacy: Privacy = Privacy.OPEN


@dataclass(frozen=True)
class Selection:
    """What the user asked for: named topics (None = all), exclusions, the transcript retention."""

    topics: frozenset[str] | None = None       # absolute names; None = every topic but the private ones
    exclude: frozenset[str] = frozenset()
    retention_s: float = DEFAULT_RETENTION_S    # 0: the site keeps no transcripts, none are recorded
    include_hidden: bool = False
    include: frozenset[str] = frozenset()       # with all topics: these named ones too, private or hidden

    @classmethod
    def make(cls, topics: Iterable[str] | None, exclude: Iterable[str] = (), namespace: str = "/",
             retention_s: float = DEFAULT_RETENTION_S, include_hidden: bool = False,
             include: Iterable[str] = ()) -> "Selection":
        named = None if topics is None else frozenset(absolute(t, namespace) for t in topics)
        return cls(named, frozenset(absolute(t, namespace) for t in exclude), float(retention_s), include_hidden,
                   frozenset(absolute(t, namespace) for t in include))

    def decide(self, topic: str, type_name: str) -> Decision:
        """Record ``topic`` or not, and why."""
        privacy = privacy_of(type_name)
        if topic in self.exclude:
            return Decision(topic, type_name, False, "excluded (--exclude)", privacy)
        if privacy is Privacy.TRANSCRIPT and self.retention_s <= 0:
            return Decision(topic, type_name, False, "transcripts: the site keeps none (retention 0)", privacy)
        if self.topics is not None:
            if topic not in self.topics:
                return Decision(topic, type_name, False, "not named (--topics)", privacy)
            return Decision(topic, type_name, True, self._kept(privacy, named=True), privacy)
        if topic in self.include:
            return Decision(topic, type_name, True, self._kept(privacy, named=True), privacy)
        if is_hidden(topic) and not self.include_hidden:
            return Decision(topic, type_name, False, "hidden topic (name it with --topics)", privacy)
        if privacy in (Privacy.CAMERA, Privacy.AUDIO):
            return Decision(topic, type_name, False,
                            f"{privacy.value}: left out for privacy unless named (--topics {topic.lstrip('/')})", privacy)
        return Decision(topic, type_name, True, self._kept(privacy, named=False), privacy)

    def _kept(self, privacy: Privacy, named: bool) -> str:
        if privacy is Privacy.TRANSCRIPT:
            return (f"transcripts: kept {self.retention_s:g} s ({RETENTION_PARAMETER}), "
                    "then removed by `carebot bag prune`")
        if privacy in (Privacy.CAMERA, Privacy.AUDIO):
            return f"{privacy.value}: recorded because named"
        return "named" if named else "all topics"


def site_retention_s(config: Path | None) -> float:
    """The site's transcript retention from a parameter file's dashboard section (the dashboard
    table's default when the file does not set it or there is no file)."""
    if config is None or not Path(config).is_file():
        return DEFAULT_RETENTION_S
    try:
        data = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        value = data["dashboard"]["ros__parameters"]["transcript_retention_s"]
    except (KeyError, TypeError, yaml.YAMLError):
        return DEFAULT_RETENTION_S
    return float(value)


def _iso(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def retention_data(transcript_topics: Iterable[str], retention_s: float, end: _dt.datetime) -> dict[str, str]:
    """Custom data that makes a bag's transcripts expire ``retention_s`` after ``end`` (wall time)."""
    names = sorted(set(transcript_topics))
    if not names:
        return {}
    return {KEY_TRANSCRIPT_TOPICS: ",".join(names), KEY_RETENTION: f"{retention_s:g}",
            KEY_EXPIRES: _iso(end + _dt.timedelta(seconds=retention_s))}


def expired_topics(custom_data: Mapping[str, str], now: _dt.datetime) -> list[str]:
    """The transcript topics of a bag whose retention has run out at ``now`` (none: keep all)."""
    expires = custom_data.get(KEY_EXPIRES)
    topics = [t for t in custom_data.get(KEY_TRANSCRIPT_TOPICS, "").split(",") if t]
    if not expires or not topics or custom_data.get(KEY_REMOVED):
        return []
    try:
        moment = _dt.datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return topics          # an unreadable date must not keep personal data forever
    return topics if now >= moment else []


def removal_data(now: _dt.datetime) -> dict[str, str]:
    return {KEY_REMOVED: _iso(now)}
