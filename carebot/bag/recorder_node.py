"""The recorder: subscribes over DDS to the chosen topics and writes a bag (``carebot bag record``).

Thin glue around ``carebot.bag.store.BagWriter`` and ``carebot.bag.topics.Selection``:

- discovery every ``discovery_s``: each new topic is decided once (recorded, or left out with
  the reason printed), so topics that appear later (a node restarted) are still caught;
- raw subscriptions: the CDR bytes go to the file as received, no deserialisation;
- QoS per topic from its publishers, as rosbag2 adapts it: reliable only when every publisher
  is reliable (a reliable subscription matches no best-effort publisher), transient local
  only when every publisher is (late joiners then get the latched state and the alert
  backlog); deep queues (100; 20 for images) so a burst waits instead of being lost;
- receive time as the message time, from the node clock (sim time with ``use_sim_time``),
  as ``ros2 bag record`` stamps it;
- stops when the bag stops (size, duration, a full disk) or on Ctrl-C/SIGTERM, and always
  closes the file.
"""
from __future__ import annotations

import datetime as _dt
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.event_handler import SubscriptionEventCallbacks

from carebot.bag import msgdefs
from carebot.bag.store import BagInfo, BagWriter, QosRecord
from carebot.bag.topics import Decision, Privacy, Selection, privacy_of, retention_data

# A recorder must not lose what it can keep: its queues are deep, so messages wait while the
# Python thread is descheduled on a loaded CPU (a KEEP_LAST queue of 10 overwrote ~20 % of
# 50 Hz odometry at load 20+, benchmarks/bag_bench.py). Camera frames (~0.9 MB) get a shorter one.
RELIABLE_DEPTH = 100
BEST_EFFORT_DEPTH = 100
IMAGE_DEPTH = 20


@dataclass
class RecordOptions:
    """What ``carebot bag record`` was asked for."""

    out: Path
    selection: Selection
    max_bytes: int = 0
    max_duration_s: float = 0.0
    use_sim_time: bool = False
    discovery_s: float = 0.5
    flush_s: float = 10.0                 # whole chunks reach the disk at least this often
    stop_after_s: float = 0.0             # wall seconds; 0 = until stopped (tests, benchmarks)
    custom_data: dict[str, str] = field(default_factory=dict)


def qos_record(profile) -> QosRecord:
    """A discovered endpoint's QoS in rosbag2's metadata terms."""
    def ns(duration) -> int | None:
        value = duration.nanoseconds
        return None if value <= 0 or value >= 2 ** 63 - 1 else value
    return QosRecord(history=int(profile.history), depth=int(profile.depth), reliability=int(profile.reliability),
                     durability=int(profile.durability), deadline_ns=ns(profile.deadline),
                     lifespan_ns=ns(profile.lifespan), liveliness=int(profile.liveliness),
                     liveliness_lease_ns=ns(profile.liveliness_lease_duration),
                     avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions))


def subscription_qos(offered: list[QosRecord], large: bool = False) -> QoSProfile:
    """The QoS that matches every publisher and loses as little as they allow (``large``: image-sized
    messages, a shorter queue)."""
    reliable = bool(offered) and all(q.reliable for q in offered)
    latched = bool(offered) and all(q.transient_local for q in offered)
    depth = IMAGE_DEPTH if large else (RELIABLE_DEPTH if reliable else BEST_EFFORT_DEPTH)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def message_class(type_name: str):
    """The Python class of 'pkg/msg/Type' (its package must be installed)."""
    import importlib

    package, _, name = type_name.partition("/msg/")
    if not name:
        raise ValueError(f"not a message type: {type_name}")
    return getattr(importlib.import_module(f"{package}.msg"), name)


class RecorderNode(Node):
    """Subscribes to what the selection allows and writes every message to the bag."""

    def __init__(self, options: RecordOptions, writer: BagWriter, report: Callable[[str], None] = print):
        super().__init__("carebot_recorder", parameter_overrides=[
            Parameter("use_sim_time", value=options.use_sim_time)])
        self.options = options
        self.writer = writer
        self.report = report
        self.decisions: dict[str, Decision] = {}
        self.lost: dict[str, int] = {}
        self.before_clock = 0          # messages that came before the first /clock (use_sim_time), not recorded
        self.transcript_topics: list[str] = []
        self.started = time.monotonic()
        self._raw_subscriptions = []
        # Steady time: under use_sim_time a paused or not yet started /clock must not stop discovery
        # or the flushes.
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(options.discovery_s, self.discover, clock=steady)
        if options.flush_s > 0:
            self.create_timer(options.flush_s, self.writer.flush, clock=steady)
        self.discover()

    @property
    def done(self) -> bool:
        if self.writer.stopped:
            return True
        return bool(self.options.stop_after_s) and time.monotonic() - self.started >= self.options.stop_after_s

    def discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.decisions:
                continue
            if len(types) != 1:
                self._decide(Decision(topic, ",".join(types), False, f"more than one type on the topic: {types}"))
                continue
            decision = self.options.selection.decide(topic, types[0])
            if not decision.record:
                self._decide(decision)
                continue
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers:
                continue          # only subscribers so far: decided when someone publishes (its QoS is needed)
            try:
                self._subscribe(topic, types[0], publishers)
            except (msgdefs.DefinitionNotFound, ImportError, AttributeError, ValueError) as exc:
                self._decide(Decision(topic, types[0], False, f"cannot be recorded: {exc}", decision.privacy))
                continue
            self._decide(decision)

    def _decide(self, decision: Decision) -> None:
        self.decisions[decision.topic] = decision
        verdict = "recording" if decision.record else "left out"
        self.report(f"{verdict:9s} {decision.topic} [{decision.type}]: {decision.reason}")

    def _subscribe(self, topic: str, type_name: str, publishers) -> None:
        definition = msgdefs.full_definition(type_name)
        offered = [qos_record(p.qos_profile) for p in publishers]
        type_hash = str(publishers[0].topic_type_hash) if publishers else ""
        if not type_hash.startswith("RIHS01_"):
            type_hash = msgdefs.type_hash(type_name, definition)
        cls = message_class(type_name)
        self.writer.add_topic(topic, type_name, definition, type_hash, offered)
        if self.options.selection.decide(topic, type_name).privacy is Privacy.TRANSCRIPT:
            self.transcript_topics.append(topic)

        def on_message(data: bytes, topic=topic) -> None:
            stamp = self.get_clock().now().nanoseconds
            if stamp == 0:        # sim time before the first /clock: a 0 stamp would sort before everything
                self.before_clock += 1
                return
            self.writer.write(topic, stamp, data)

        def on_lost(status, topic=topic) -> None:
            self.lost[topic] = self.lost.get(topic, 0) + int(status.total_count_change)

        self._raw_subscriptions.append(self.create_subscription(
            cls, topic, on_message, subscription_qos(offered, privacy_of(type_name) is Privacy.CAMERA), raw=True,
            event_callbacks=SubscriptionEventCallbacks(message_lost=on_lost, use_default_callbacks=False)))


def record(options: RecordOptions, report: Callable[[str], None] = print, args: list[str] | None = None) -> BagInfo:
    """Record until stopped (Ctrl-C, SIGTERM, a limit, a full disk); returns what the bag holds."""
    # A file-size limit (ulimit -f) must end the recording cleanly, not kill the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    custom = dict(options.custom_data)
    custom.setdefault("carebot.recorded_with", "carebot bag record")
    writer = BagWriter(options.out, max_bytes=options.max_bytes,
                       max_duration_ns=int(options.max_duration_s * 1e9), custom_data=custom)
    report(f"recording to {writer.folder} (Ctrl-C to stop)")
    rclpy.init(args=args)
    node = None
    stop = {"asked": False}

    def on_term(_signum, _frame):
        stop["asked"] = True
    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        node = RecorderNode(options, writer, report)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not stop["asked"] and not node.done:
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        transcripts = node.transcript_topics if node is not None else []
        left_out = [f"{d.topic} ({d.privacy.value})" for d in (node.decisions.values() if node else [])
                    if not d.record and d.privacy in (Privacy.CAMERA, Privacy.AUDIO)]
        if left_out:
            writer.custom_data["carebot.privacy.left_out"] = ", ".join(sorted(left_out))
        writer.custom_data.update(retention_data(
            transcripts, options.selection.retention_s, _dt.datetime.now(_dt.timezone.utc)))
        lost = node.lost if node is not None else {}
        if node is not None and node.before_clock:
            writer.custom_data["carebot.before_first_clock"] = str(node.before_clock)
            report(f"{node.before_clock} messages arrived before the first /clock and were not recorded")
        if any(lost.values()):
            writer.custom_data["carebot.messages_lost"] = ", ".join(f"{t}: {n}" for t, n in sorted(lost.items()) if n)
        info = writer.close()        # before anything of ROS that could fail at shutdown
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    if writer.stop_reason:
        report(f"recording stopped: {writer.stop_reason}")
    report(f"closed {info.path}: {info.message_count} messages on {len(info.topics)} topics, "
           f"{info.duration_s:.1f} s, {info.size_bytes / 1e6:.1f} MB" + ("" if info.complete else " (file incomplete)"))
    return info
