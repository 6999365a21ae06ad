"""rosbag2-compatible MCAP bags: a writer that survives a full disk, a reader with clear errors.

No rclpy here: messages come in and go out as serialized CDR bytes, exactly as the
middleware carries them, so recording costs no deserialisation and replay publishes
the very bytes that were received.

A bag is a folder as ``ros2 bag record -s mcap`` leaves it (Iron and later)::

    NAME/metadata.yaml      rosbag2_bagfile_information, version 8 (Iron and Jazzy read it)
    NAME/NAME_0.mcap        profile "ros2": one schema per type (encoding ros2msg, the full
                            definition from carebot.bag.msgdefs), one channel per topic
                            (encoding cdr; metadata offered_qos_profiles, topic_type_hash),
                            zstd chunks, a "rosbag2" metadata record, summary and index

Writing goes through ``_CommittedFile``: the MCAP writer's records are buffered and each
group (a chunk with its message indexes) reaches the disk whole or not at all. Before a
group is written the free space is checked (the file system's, and the process's file-size
limit, ``ulimit -f``) against a reserve kept for the summary; when the group does not fit
the recording stops and the reserve closes the file properly. A write that fails anyway
(another process filled the disk) is cut back to the last whole group, so the file stays
a readable MCAP prefix, and the summary is tried once more at close.
"""
from __future__ import annotations

import datetime as _dt
import errno
import io
import os
import resource
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml
from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, Message, Metadata, Schema
from mcap.stream_reader import StreamReader
from mcap.writer import CompressionType, Writer

MCAP_MAGIC = b"\x89MCAP0\r\n"
METADATA_FILE = "metadata.yaml"
METADATA_VERSION = 8           # offered_qos_profiles as a YAML string with numeric policies (Iron, Jazzy)
ROS_DISTRO = "jazzy"
LIBRARY = "carebot.bag (mcap python writer)"
CHUNK_BYTES = 768 * 1024       # rosbag2's MCAP default chunk size
SUMMARY_RESERVE_BYTES = 1024 * 1024   # kept free for the summary and the last chunk's indexes
# Free space is asked of the file system at most this often (bytes written in between);
# statvfs per chunk is cheap, but a 1 kB chunk stream should not call it every write.
FOREIGN_SIGNATURES = (
    (b"SQLite format 3\x00", "a SQLite database (a rosbag2 sqlite3 bag?): only MCAP storage is read here; "
                             "convert it with `ros2 bag convert` to storage mcap"),
    (b"#ROSBAG V2.0", "a ROS 1 bag: only ROS 2 MCAP bags are read here"),
)
# rmw QoS policy values as rosbag2's metadata version 8 writes them.
INFINITE = {"sec": 9223372036, "nsec": 854775807}


class BagError(Exception):
    """A bag that cannot be written or read: names the file and what is wrong with it."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class RecordingStopped(Exception):
    """The writer stopped taking messages (limit reached, disk full); ``reason`` says which."""


# --------------------------------------------------------------------------- QoS in metadata

@dataclass(frozen=True)
class QosRecord:
    """One offered QoS profile in rosbag2's metadata terms (rmw enum values, durations in ns)."""

    history: int = 3                 # 1 keep last, 2 keep all, 3 unknown (what discovery reports)
    depth: int = 0
    reliability: int = 1             # 1 reliable, 2 best effort
    durability: int = 2              # 1 transient local, 2 volatile
    deadline_ns: int | None = None   # None = infinite
    lifespan_ns: int | None = None
    liveliness: int = 1              # 1 automatic, 3 manual by topic
    liveliness_lease_ns: int | None = None
    avoid_ros_namespace_conventions: bool = False

    def to_yaml_dict(self) -> dict[str, Any]:
        def duration(ns: int | None) -> dict[str, int]:
            if ns is None or ns >= INFINITE["sec"] * 10 ** 9:
                return dict(INFINITE)
            return {"sec": ns // 10 ** 9, "nsec": ns % 10 ** 9}
        return {"history": self.history, "depth": self.depth, "reliability": self.reliability,
                "durability": self.durability, "deadline": duration(self.deadline_ns),
                "lifespan": duration(self.lifespan_ns), "liveliness": self.liveliness,
                "liveliness_lease_duration": duration(self.liveliness_lease_ns),
                "avoid_ros_namespace_conventions": self.avoid_ros_namespace_conventions}

    @classmethod
    def from_yaml_dict(cls, data: Mapping[str, Any]) -> "QosRecord":
        def ns(value) -> int | None:
            if not isinstance(value, Mapping):
                return None
            sec, nsec = int(value.get("sec", 0)), int(value.get("nsec", 0))
            return None if (sec, nsec) == (INFINITE["sec"], INFINITE["nsec"]) else sec * 10 ** 9 + nsec

        def policy(key: str, default: int, names: Mapping[str, int]) -> int:
            value = data.get(key, default)
            if isinstance(value, str):          # version 9 writes names ("reliable")
                return names.get(value.lower(), default)
            return int(value)
        return cls(history=policy("history", 3, {"keep_last": 1, "keep_all": 2}),
                   depth=int(data.get("depth", 0)),
                   reliability=policy("reliability", 1, {"reliable": 1, "best_effort": 2}),
                   durability=policy("durability", 2, {"transient_local": 1, "volatile": 2}),
                   deadline_ns=ns(data.get("deadline")), lifespan_ns=ns(data.get("lifespan")),
                   liveliness=policy("liveliness", 1, {"automatic": 1, "manual_by_topic": 3}),
                   liveliness_lease_ns=ns(data.get("liveliness_lease_duration")),
                   avoid_ros_namespace_conventions=bool(data.get("avoid_ros_namespace_conventions", False)))

    @property
    def reliable(self) -> bool:
        return self.reliability != 2

    @property
    def transient_local(self) -> bool:
        return self.durability == 1


def qos_to_text(profiles: list[QosRecord]) -> str:
    """The offered_qos_profiles string of metadata version 8 (and of the MCAP channel)."""
    if not profiles:
        return ""
    return yaml.safe_dump([p.to_yaml_dict() for p in profiles], sort_keys=False, default_flow_style=False).rstrip()


def qos_from_text(text: Any) -> list[QosRecord]:
    """Profiles from a version 8 string or a version 9 list; unreadable text gives none."""
    data = text
    if isinstance(text, str):
        try:
            data = yaml.safe_load(text) if text.strip() else []
        except yaml.YAMLError:
            return []
    if not isinstance(data, list):
        return []
    return [QosRecord.from_yaml_dict(item) for item in data if isinstance(item, Mapping)]


# --------------------------------------------------------------------------- writing

def free_bytes(path: Path, size_now: int) -> int:
    """Bytes this process may still add to the file at ``path``: the file system's free space
    for unprivileged users, and the room left under the process's file-size limit."""
    stat = os.statvfs(path)
    room = stat.f_bavail * stat.f_frsize
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        room = min(room, soft - size_now)
    return room


class _CommittedFile:
    """The file-like object the MCAP writer writes to: whole record groups or nothing."""

    def __init__(self, path: Path, reserve: int):
        self.path = path
        self.reserve = reserve
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self.committed = 0           # bytes on disk, ending at a record boundary
        self._pending = bytearray()

    # The writer's interface.
    def write(self, data: bytes) -> int:
        self._pending += data
        return len(data)

    def tell(self) -> int:
        return self.committed + len(self._pending)

    def flush(self) -> None:
        """The writer's flush: nothing, the recorder commits at group boundaries."""

    @property
    def pending(self) -> int:
        return len(self._pending)

    def room(self) -> int:
        return free_bytes(self.path.parent, self.committed)

    def commit(self, use_reserve: bool = False) -> None:
        """Write the buffered records. Raises OSError(ENOSPC) without writing anything when they do
        not fit beside the reserve (unless ``use_reserve``); a failing write is cut back."""
        if not self._pending:
            return
        need = len(self._pending) + (0 if use_reserve else self.reserve)
        if need > self.room():
            raise OSError(errno.ENOSPC, f"{len(self._pending)} bytes to write and {self.reserve} kept for closing "
                                        f"the file do not fit in the space left ({max(0, self.room())} bytes)")
        view = memoryview(self._pending)
        written = 0
        try:
            while written < len(view):
                written += os.write(self._fd, view[written:])
        except OSError:
            # Cut back to the last whole group: the file stays a readable MCAP prefix.
            os.ftruncate(self._fd, self.committed)
            os.lseek(self._fd, self.committed, os.SEEK_SET)
            raise
        finally:
            view.release()
        self.committed += written
        self._pending.clear()

    def drop_pending(self) -> None:
        self._pending.clear()

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = -1


@dataclass
class _Topic:
    name: str
    type: str
    type_hash: str
    qos: list[QosRecord]
    channel_id: int
    count: int = 0


def default_bag_name(now: _dt.datetime | None = None) -> str:
    """rosbag2's folder name: rosbag2_YYYY_MM_DD-HH_MM_SS."""
    return (now or _dt.datetime.now()).strftime("rosbag2_%Y_%m_%d-%H_%M_%S")


class BagWriter:
    """Writes one bag folder. Once the bag stops taking messages (a limit, a full disk) ``stopped``
    is true and ``stop_reason`` says why; ``close`` finishes the file and writes metadata.yaml."""

    def __init__(self, folder: Path | str, *, max_bytes: int = 0, max_duration_ns: int = 0,
                 chunk_bytes: int = CHUNK_BYTES, reserve_bytes: int | None = None,
                 compression: str = "zstd", custom_data: Mapping[str, str] | None = None,
                 file_stem: str | None = None):
        self.folder = Path(folder)
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise BagError(self.folder, "already exists and is not an empty folder; a bag is never written over")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BagError(self.folder, f"cannot create the bag folder: {exc.strerror or exc}") from exc
        self.file_name = f"{file_stem or self.folder.name}_0.mcap"
        self.path = self.folder / self.file_name
        self.max_bytes = int(max_bytes)
        self.max_duration_ns = int(max_duration_ns)
        self.custom_data: dict[str, str] = {str(k): str(v) for k, v in (custom_data or {}).items()}
        reserve = SUMMARY_RESERVE_BYTES + 2 * chunk_bytes if reserve_bytes is None else reserve_bytes
        try:
            self._file = _CommittedFile(self.path, reserve)
        except OSError as exc:
            raise BagError(self.path, f"cannot create: {exc.strerror or exc}") from exc
        compression_type = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4,
                            "none": CompressionType.NONE}[compression]
        self._writer = Writer(self._file, chunk_size=chunk_bytes, compression=compression_type)
        self._writer.start(profile="ros2", library=LIBRARY)
        self._schemas: dict[str, int] = {}
        self._topics: dict[str, _Topic] = {}
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.message_count = 0
        self.stop_reason = ""
        self.closed = False
        self._commit()

    # ------------------------------------------------------------------ topics and messages
    @property
    def stopped(self) -> bool:
        return bool(self.stop_reason)

    @property
    def bytes_written(self) -> int:
        return self._file.tell()

    def add_topic(self, name: str, type_name: str, definition: str, type_hash: str = "",
                  qos: list[QosRecord] | None = None) -> str:
        """Register a topic (once) with its type's full definition; returns the topic name."""
        if name in self._topics:
            return name
        schema_id = self._schemas.get(type_name)
        if schema_id is None:
            schema_id = self._writer.register_schema(type_name, "ros2msg", definition.encode("utf-8"))
            self._schemas[type_name] = schema_id
        profiles = list(qos or [])
        channel_id = self._writer.register_channel(name, "cdr", schema_id, {
            "offered_qos_profiles": qos_to_text(profiles), "topic_type_hash": type_hash})
        self._topics[name] = _Topic(name, type_name, type_hash, profiles, channel_id)
        self._commit()
        return name

    def write(self, topic: str, log_time_ns: int, data: bytes, publish_time_ns: int | None = None) -> bool:
        """Add one serialized message: True when it is in the bag. False (nothing written) once the
        bag stopped; a message that fills the bag is kept and ``stopped`` turns true after it."""
        if self.stopped or self.closed:
            return False
        entry = self._topics[topic]
        if self.max_duration_ns and self.first_ns is not None and log_time_ns - self.first_ns > self.max_duration_ns:
            self.stop(f"duration limit of {self.max_duration_ns / 1e9:g} s reached")
            return False
        entry.count += 1
        self.message_count += 1
        self.first_ns = log_time_ns if self.first_ns is None else min(self.first_ns, log_time_ns)
        self.last_ns = log_time_ns if self.last_ns is None else max(self.last_ns, log_time_ns)
        self._writer.add_message(entry.channel_id, log_time_ns, bytes(data),
                                 log_time_ns if publish_time_ns is None else publish_time_ns, entry.count)
        self._commit()
        return True

    def flush(self) -> None:
        """Close the open chunk and put it on disk (a crash then loses nothing before this point)."""
        if self.stopped or self.closed:
            return
        self._writer.flush()
        self._commit()

    def stop(self, reason: str) -> None:
        """Take no more messages (the first reason is kept)."""
        if not self.stop_reason:
            self.stop_reason = reason

    def _commit(self) -> None:
        if not self._file.pending:
            return
        try:
            self._file.commit()
        except OSError as exc:
            self.stop(f"disk full: {exc.strerror or exc}" if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
                      else f"write failed: {exc.strerror or exc}")
            return
        if self.max_bytes and self._file.committed >= self.max_bytes:
            self.stop(f"size limit of {self.max_bytes} bytes reached")

    # ------------------------------------------------------------------ closing
    def topic_counts(self) -> dict[str, int]:
        return {name: t.count for name, t in self._topics.items()}

    def metadata(self) -> dict[str, Any]:
        """The rosbag2_bagfile_information this bag's metadata.yaml holds."""
        start = self.first_ns or 0
        duration = (self.last_ns - self.first_ns) if self.first_ns is not None else 0
        custom = dict(self.custom_data)
        if self.stop_reason:
            custom["carebot.stop_reason"] = self.stop_reason
        return {
            "version": METADATA_VERSION,
            "storage_identifier": "mcap",
            "duration": {"nanoseconds": duration},
            "starting_time": {"nanoseconds_since_epoch": start},
            "message_count": self.message_count,
            "topics_with_message_count": [
                {"topic_metadata": {"name": t.name, "type": t.type, "serialization_format": "cdr",
                                    "offered_qos_profiles": qos_to_text(t.qos),
                                    "type_description_hash": t.type_hash},
                 "message_count": t.count} for t in self._topics.values()],
            "compression_format": "",
            "compression_mode": "",
            "relative_file_paths": [self.file_name],
            "files": [{"path": self.file_name, "starting_time": {"nanoseconds_since_epoch": start},
                       "duration": {"nanoseconds": duration}, "message_count": self.message_count}],
            "custom_data": custom or None,
            "ros_distro": ROS_DISTRO,
        }

    def close(self) -> "BagInfo":
        """Finish the MCAP (summary, index) and write metadata.yaml; returns what the bag holds.

        Never raises for a full disk: when even the summary does not fit, the file keeps every
        whole chunk written so far (readers scan it; ``carebot bag info`` says so) and
        metadata.yaml, a few kB, is still tried.
        """
        if self.closed:
            return read_info(self.folder)
        self.closed = True
        meta = self.metadata()
        summary_ok = True
        try:
            self._writer.add_metadata("rosbag2", {
                "serialized_metadata": yaml.safe_dump(meta, sort_keys=False), "ROS_DISTRO": ROS_DISTRO})
            self._writer.finish()
            self._file.commit(use_reserve=True)
        except OSError as exc:
            summary_ok = False
            self._file.drop_pending()
            self.stop(f"disk full: {exc.strerror or exc}")
            meta = self.metadata()
        finally:
            self._file.close()
        if not summary_ok:
            meta.setdefault("custom_data", {})
            meta["custom_data"] = dict(meta["custom_data"] or {}, **{"carebot.file_complete": "false"})
        text = yaml.safe_dump({"rosbag2_bagfile_information": meta}, sort_keys=False, allow_unicode=True)
        tmp = self.folder / (METADATA_FILE + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(self.folder / METADATA_FILE)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.stop(f"metadata.yaml not written: {exc.strerror or exc}")
        return read_info(self.folder)


# --------------------------------------------------------------------------- reading

@dataclass
class TopicInfo:
    """One topic of a bag as its files and metadata say."""

    name: str
    type: str
    count: int
    qos: list[QosRecord] = field(default_factory=list)
    type_hash: str = ""
    definition: str = ""


@dataclass
class BagInfo:
    """What ``carebot bag info`` prints: topics, types, counts, duration, and every problem."""

    path: Path
    files: list[Path]
    topics: list[TopicInfo]
    start_ns: int
    end_ns: int
    message_count: int
    size_bytes: int
    complete: bool                 # every file has its summary and the counts come from it
    problems: list[str] = field(default_factory=list)
    custom_data: dict[str, str] = field(default_factory=dict)
    has_metadata: bool = True

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9

    def topic(self, name: str) -> TopicInfo | None:
        return next((t for t in self.topics if t.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "files": [str(f) for f in self.files], "complete": self.complete,
                "has_metadata": self.has_metadata, "problems": list(self.problems),
                "start_ns": self.start_ns, "end_ns": self.end_ns, "duration_s": round(self.duration_s, 9),
                "message_count": self.message_count, "size_bytes": self.size_bytes,
                "custom_data": dict(self.custom_data),
                "topics": [{"name": t.name, "type": t.type, "count": t.count,
                            "qos": [q.to_yaml_dict() for q in t.qos], "type_hash": t.type_hash} for t in self.topics]}


@dataclass(frozen=True)
class BagMessage:
    topic: str
    type: str
    log_time_ns: int
    data: bytes


def _check_mcap_file(path: Path) -> bool:
    """Raises BagError for a file that is not MCAP; returns whether it ends with the footer magic."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(max(len(MCAP_MAGIC), 16))
            if size >= 2 * len(MCAP_MAGIC):
                handle.seek(-len(MCAP_MAGIC), io.SEEK_END)
                tail = handle.read(len(MCAP_MAGIC))
            else:
                tail = b""
    except FileNotFoundError:
        raise BagError(path, "file not found") from None
    except IsADirectoryError:
        raise BagError(path, "is a folder without metadata.yaml or .mcap file") from None
    except OSError as exc:
        raise BagError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise BagError(path, "is empty (0 bytes): not an MCAP file")
    if not head.startswith(MCAP_MAGIC):
        for signature, what in FOREIGN_SIGNATURES:
            if head.startswith(signature):
                raise BagError(path, f"is {what}")
        if MCAP_MAGIC.startswith(head[:size]):
            raise BagError(path, f"is truncated: only {size} bytes, less than an MCAP header")
        raise BagError(path, f"is not an MCAP file (it starts with {head[:8]!r}, not the MCAP magic)")
    return tail == MCAP_MAGIC


def _scan(path: Path) -> tuple[dict[int, Schema], dict[int, Channel], list[Message], list[Metadata], int, str]:
    """Read a file record by record (no summary needed): what it holds and where it ends.

    Returns schemas, channels, messages, metadata records, the byte offset of the last whole
    record, and the problem that stopped the scan ('' when it reached the footer).
    """
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    messages: list[Message] = []
    metadata: list[Metadata] = []
    good = 0
    problem = ""
    with open(path, "rb") as handle:
        reader = StreamReader(handle, record_size_limit=1 << 31)
        records = reader.records
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except (McapError, EOFError, struct.error, ValueError, OSError) as exc:   # zstd errors are ValueError
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                break
            if isinstance(record, Schema):
                schemas[record.id] = record
            elif isinstance(record, Channel):
                channels[record.id] = record
            elif isinstance(record, Message):
                messages.append(record)
            elif isinstance(record, Metadata):
                metadata.append(record)
            good = handle.tell()
    return schemas, channels, messages, metadata, good, problem


def _bag_files(path: Path) -> tuple[Path, list[Path], dict[str, Any] | None]:
    """The bag folder, its MCAP files and its metadata (None when there is no metadata.yaml)."""
    if not path.exists():
        raise BagError(path, "not found")
    if path.is_file():
        if path.name == METADATA_FILE:
            path = path.parent
        else:
            return path.parent, [path], None
    meta_path = path / METADATA_FILE
    if not meta_path.exists():
        files = sorted(path.glob("*.mcap"))
        if not files:
            others = sorted(p.name for p in path.iterdir())[:5]
            raise BagError(path, "is not a bag: no metadata.yaml and no .mcap file"
                                 + (f" (it holds {', '.join(others)})" if others else " (empty folder)"))
        return path, files, None
    try:
        data = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BagError(meta_path, f"is not valid YAML: {str(exc).splitlines()[0]}") from exc
    except OSError as exc:
        raise BagError(meta_path, f"cannot be read: {exc.strerror or exc}") from exc
    info = data.get("rosbag2_bagfile_information") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        raise BagError(meta_path, "has no rosbag2_bagfile_information mapping: not a rosbag2 metadata file")
    version = info.get("version")
    if not isinstance(version, int) or version > 9:
        raise BagError(meta_path, f"rosbag2 metadata version {version!r} is not supported (versions up to 9 are)")
    storage = info.get("storage_identifier")
    if storage != "mcap":
        raise BagError(meta_path, f"storage {storage!r}: only mcap bags are read here; "
                                  "convert with `ros2 bag convert` to storage mcap")
    if info.get("compression_mode"):
        raise BagError(meta_path, f"file compression {info.get('compression_format')!r} "
                                  f"({info.get('compression_mode')}) is not supported; decompress the bag first")
    names = info.get("relative_file_paths") or []
    if not isinstance(names, list) or not names:
        raise BagError(meta_path, "lists no files (relative_file_paths is empty)")
    files = [path / str(name) for name in names]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise BagError(meta_path, f"lists {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} missing")
    return path, files, info


def read_info(path: Path | str) -> BagInfo:
    """What a bag holds, from its files (the summary when complete, a scan when not).

    Raises BagError for what cannot be read at all (not found, not MCAP, bad metadata.yaml,
    a file cut before its first message); a file cut later is reported in ``problems``
    with what could be read.
    """
    folder, files, meta = _bag_files(Path(path))
    topics: dict[str, TopicInfo] = {}
    start, end, total, size = None, None, 0, 0
    complete = True
    problems: list[str] = []
    for file in files:
        size += file.stat().st_size
        ends_well = _check_mcap_file(file)
        summary = None
        if ends_well:
            try:
                with open(file, "rb") as handle:
                    summary = make_reader(handle).get_summary()
            except (McapError, struct.error, ValueError, EOFError) as exc:
                problems.append(f"{file.name}: summary unreadable ({exc}); read record by record")
        if summary is not None and summary.statistics is not None:
            stats = summary.statistics
            for cid, channel in summary.channels.items():
                schema = summary.schemas.get(channel.schema_id)
                _merge_topic(topics, channel, schema, stats.channel_message_counts.get(cid, 0))
            if stats.message_count:
                start = stats.message_start_time if start is None else min(start, stats.message_start_time)
                end = stats.message_end_time if end is None else max(end, stats.message_end_time)
            total += stats.message_count
            continue
        complete = False
        schemas, channels, messages, _meta, good, problem = _scan(file)
        if not channels and not messages:
            raise BagError(file, f"is truncated or damaged before its first topic ({problem or 'no records'}); "
                                 "nothing can be read")
        counts: dict[int, int] = {}
        for msg in messages:
            counts[msg.channel_id] = counts.get(msg.channel_id, 0) + 1
            start = msg.log_time if start is None else min(start, msg.log_time)
            end = msg.log_time if end is None else max(end, msg.log_time)
        for cid, channel in channels.items():
            _merge_topic(topics, channel, schemas.get(channel.schema_id), counts.get(cid, 0))
        total += len(messages)
        problems.append(f"{file.name} is truncated at byte {good} of {file.stat().st_size} "
                        f"(no summary: the recording did not finish{'; ' + problem if problem else ''}); "
                        f"{len(messages)} whole messages are readable")
    custom = {}
    if meta is None:
        problems.append("no metadata.yaml: read from the MCAP file itself")
    else:
        custom = {str(k): str(v) for k, v in (meta.get("custom_data") or {}).items()}
        for entry in meta.get("topics_with_message_count") or []:
            tm = (entry or {}).get("topic_metadata") or {}
            name = tm.get("name")
            if name in topics:
                if not topics[name].qos:
                    topics[name].qos = qos_from_text(tm.get("offered_qos_profiles"))
                if not topics[name].type_hash:
                    topics[name].type_hash = str(tm.get("type_description_hash") or "")
        if custom.get("carebot.stop_reason"):
            problems.append(f"the recording stopped early: {custom['carebot.stop_reason']}")
    return BagInfo(folder, files, sorted(topics.values(), key=lambda t: t.name), start or 0, end or 0, total, size,
                   complete, problems, custom, meta is not None)


def _merge_topic(topics: dict[str, TopicInfo], channel: Channel, schema: Schema | None, count: int) -> None:
    existing = topics.get(channel.topic)
    if existing is None:
        topics[channel.topic] = TopicInfo(
            channel.topic, schema.name if schema else "", count,
            qos_from_text(channel.metadata.get("offered_qos_profiles", "")),
            channel.metadata.get("topic_type_hash", ""),
            schema.data.decode("utf-8", "replace") if schema else "")
    else:
        existing.count += count


def iter_messages(path: Path | str, topics: list[str] | None = None, start_ns: int | None = None,
                  end_ns: int | None = None) -> Iterator[BagMessage]:
    """The bag's messages in log-time order (per file), optionally only some topics and a time
    window [start_ns, end_ns). A truncated file yields its whole messages and stops there."""
    _folder, files, _meta = _bag_files(Path(path))
    wanted = set(topics) if topics is not None else None
    for file in files:
        ends_well = _check_mcap_file(file)
        summary = None
        if ends_well:
            try:
                with open(file, "rb") as handle:
                    summary = make_reader(handle).get_summary()
            except (McapError, struct.error, ValueError, EOFError):
                summary = None
        if summary is not None and summary.chunk_indexes:
            with open(file, "rb") as handle:
                reader = make_reader(handle)
                for schema, channel, message in reader.iter_messages(
                        topics=sorted(wanted) if wanted is not None else None, starting_at=start_ns,
                        ending_before=end_ns, log_time_order=True):
                    yield BagMessage(channel.topic, schema.name if schema else "", message.log_time, message.data)
            continue
        schemas, channels, messages, _meta2, _good, _problem = _scan(file)
        for message in sorted(messages, key=lambda m: m.log_time):
            channel = channels.get(message.channel_id)
            if channel is None or (wanted is not None and channel.topic not in wanted):
                continue
            if (start_ns is not None and message.log_time < start_ns) or (end_ns is not None and message.log_time >= end_ns):
                continue
            schema = schemas.get(channel.schema_id)
            yield BagMessage(channel.topic, schema.name if schema else "", message.log_time, message.data)


def copy_bag(source: Path | str, target: Path | str, *, topics: list[str] | None = None,
             start_ns: int | None = None, end_ns: int | None = None,
             custom_data: Mapping[str, str] | None = None, file_stem: str | None = None) -> BagInfo:
    """A new bag with some of ``source``'s topics and a time window (a clip); definitions,
    type hashes and QoS carried over. Used to cut short recordings for tests and to strip
    topics whose retention ran out."""
    info = read_info(source)
    keep = [t for t in info.topics if topics is None or t.name in topics]
    custom = dict(info.custom_data)
    custom.pop("carebot.stop_reason", None)
    custom.update(custom_data or {})
    writer = BagWriter(target, custom_data=custom, file_stem=file_stem)
    try:
        for topic in keep:
            writer.add_topic(topic.name, topic.type, topic.definition, topic.type_hash, topic.qos)
        for message in iter_messages(source, [t.name for t in keep], start_ns, end_ns):
            if not writer.write(message.topic, message.log_time_ns, message.data):
                break
    finally:
        result = writer.close()
    if writer.stop_reason:
        raise BagError(writer.folder, f"copy stopped: {writer.stop_reason}")
    return result
