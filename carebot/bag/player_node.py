"""The player: publishes a bag back into a running stack (``carebot bag play``).

Thin glue around ``carebot.bag.store.iter_messages`` and ``carebot.bag.playback``: one
publisher per topic with the QoS it was recorded with (reliability and durability of
its publishers, so a latched topic is latched again), the recorded CDR bytes published
as they are, ``--rate``, ``--loop``, ``--topics``, and with ``--clock`` a /clock from the
bag's time (nodes run with use_sim_time see the recording's time, as with
``ros2 bag play --clock``). ``--sync TRIGGER=REPLY`` waits after each TRIGGER message
for one REPLY message before going on, bag time standing still meanwhile.
"""
from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from carebot.bag.playback import PlaybackClock
from carebot.bag.recorder_node import message_class
from carebot.bag.store import BagInfo, QosRecord, iter_messages, read_info
from carebot.bag.topics import absolute, expired_topics

CLOCK_TOPIC = "/clock"
SENSOR_DEPTH = 1           # a replayed best-effort topic keeps only the newest, like the stack's sensor QoS
QUEUED_DEPTH = 100


@dataclass
class PlayOptions:
    """What ``carebot bag play`` was asked for."""

    path: Path
    rate: float = 1.0
    loop: bool = False
    topics: list[str] | None = None          # None = every topic of the bag
    clock: bool = False
    clock_hz: float = 40.0                   # rosbag2's --clock default
    sync: tuple[str, str] | None = None      # (trigger, reply)
    sync_timeout_s: float = 30.0
    delay_s: float = 0.0
    wait_subscribers_s: float = 10.0         # with --sync: wait this long for the trigger's subscriber


@dataclass
class PlayResult:
    published: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    sync_timeouts: int = 0
    loops: int = 0


def publisher_qos(offered: list[QosRecord]) -> QoSProfile:
    """QoS that offers what the recorded publishers offered (reliable if any was; latched if any was)."""
    reliable = not offered or any(q.reliable for q in offered)
    latched = any(q.transient_local for q in offered)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=QUEUED_DEPTH if reliable else SENSOR_DEPTH,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


class PlayerNode(Node):
    """Publishers for the bag's topics; the loop in ``play`` drives them."""

    def __init__(self, info: BagInfo, options: PlayOptions, report: Callable[[str], None]):
        super().__init__("carebot_player")
        self.options = options
        self.result = PlayResult()
        self.publishers_by_topic = {}
        wanted = None if options.topics is None else {absolute(t) for t in options.topics}
        expired = set(expired_topics(info.custom_data, _dt.datetime.now(_dt.timezone.utc)))
        for topic in info.topics:
            if wanted is not None and topic.name not in wanted:
                continue
            if options.clock and topic.name == CLOCK_TOPIC:
                self.result.skipped[topic.name] = "replaced by the player's own /clock (--clock)"
                continue
            if topic.name in expired:
                self.result.skipped[topic.name] = "transcripts past the site's retention (carebot bag prune removes them)"
                continue
            try:
                cls = message_class(topic.type)
            except (ImportError, AttributeError, ValueError) as exc:
                self.result.skipped[topic.name] = f"type {topic.type} is not installed here ({exc})"
                continue
            self.publishers_by_topic[topic.name] = self.create_publisher(cls, topic.name, publisher_qos(topic.qos))
            self.result.published[topic.name] = 0
        for name in sorted(wanted - {t.name for t in info.topics}) if wanted else []:
            self.result.skipped[name] = "not in the bag"
        for name, reason in self.result.skipped.items():
            report(f"not played: {name}: {reason}")
        self.clock_pub = self.create_publisher(Clock, CLOCK_TOPIC, 10) if options.clock else None
        self.replies = 0
        self.trigger = self.reply_topic = None
        if options.sync:
            self.trigger, self.reply_topic = absolute(options.sync[0]), absolute(options.sync[1])
            reply_type = next((t.type for t in info.topics if t.name == self.reply_topic), None)
            reply_cls = message_class(reply_type) if reply_type else self._graph_type(self.reply_topic)
            self.create_subscription(reply_cls, self.reply_topic, self._on_reply,
                                     QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT), raw=True)

    def _graph_type(self, topic: str):
        deadline = time.monotonic() + self.options.wait_subscribers_s
        while time.monotonic() < deadline:
            for name, types in self.get_topic_names_and_types():
                if name == topic and types:
                    return message_class(types[0])
            time.sleep(0.1)
        raise ValueError(f"--sync: nobody publishes {topic} (its type is needed to wait for it)")

    def _on_reply(self, _data: bytes) -> None:
        self.replies += 1

    def publish_clock(self, bag_ns: int) -> None:
        if self.clock_pub is not None:
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = divmod(max(0, bag_ns), 10 ** 9)
            self.clock_pub.publish(msg)


def play(options: PlayOptions, report: Callable[[str], None] = print, args: list[str] | None = None) -> PlayResult:
    """Publish the bag (once, or until stopped with --loop); returns what was published."""
    info = read_info(options.path)
    for problem in info.problems:
        report(f"note: {problem}")
    if not info.message_count:
        report(f"{info.path}: the bag holds no messages")
        return PlayResult()
    rclpy.init(args=args)
    node = None
    try:
        node = PlayerNode(info, options, report)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        if not node.publishers_by_topic:
            report("nothing to play")
            return node.result
        _wait_for_peers(node, executor, options, report)
        if options.delay_s > 0:
            _spin_for(executor, options.delay_s)
        while True:
            _play_once(node, executor, info, options)
            node.result.loops += 1
            if not options.loop or not rclpy.ok():
                break
        _spin_for(executor, 0.5)     # let reliable subscribers take the last messages
        return node.result
    except (KeyboardInterrupt, ExternalShutdownException):
        return node.result if node is not None else PlayResult()
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


def _spin_for(executor, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))


def _wait_for_peers(node: PlayerNode, executor, options: PlayOptions, report) -> None:
    """With --sync: the trigger must reach a subscriber and the reply must have a publisher."""
    if not options.sync:
        return
    pub = node.publishers_by_topic.get(node.trigger)
    if pub is None:
        raise ValueError(f"--sync: the bag has no topic {node.trigger} to play")
    deadline = time.monotonic() + options.wait_subscribers_s
    while time.monotonic() < deadline:
        if pub.get_subscription_count() > 0 and node.count_publishers(node.reply_topic) > 0:
            return
        executor.spin_once(timeout_sec=0.1)
    report(f"--sync: after {options.wait_subscribers_s:g} s {node.trigger} has "
           f"{pub.get_subscription_count()} subscriber(s) and {node.reply_topic} "
           f"{node.count_publishers(node.reply_topic)} publisher(s); playing anyway")


def _play_once(node: PlayerNode, executor, info: BagInfo, options: PlayOptions) -> None:
    clock = PlaybackClock(options.rate, info.start_ns, time.monotonic())
    period = 1.0 / options.clock_hz if options.clock_hz > 0 else 0.1
    next_clock = 0.0
    last_clock_ns = -1
    for message in iter_messages(options.path, sorted(node.publishers_by_topic)):
        if not rclpy.ok():
            return
        due = clock.wall_for(message.log_time_ns)
        while True:
            now = time.monotonic()
            if node.clock_pub is not None and now >= next_clock:
                stamp = min(clock.bag_at(now), message.log_time_ns)
                if stamp > last_clock_ns:
                    node.publish_clock(stamp)
                    last_clock_ns = stamp
                next_clock = now + period
            if now >= due:
                break
            executor.spin_once(timeout_sec=max(0.0, min(due - now, next_clock - now, 0.05)))
        if node.clock_pub is not None and message.log_time_ns > last_clock_ns:
            node.publish_clock(message.log_time_ns)
            last_clock_ns = message.log_time_ns
        node.publishers_by_topic[message.topic].publish(message.data)
        node.result.published[message.topic] += 1
        if options.sync and message.topic == node.trigger:
            _wait_reply(node, executor, clock, options)


def _wait_reply(node: PlayerNode, executor, clock: PlaybackClock, options: PlayOptions) -> None:
    """Bag time stands still until one more reply arrives (or the timeout)."""
    before = node.replies
    clock.pause(time.monotonic())
    deadline = time.monotonic() + options.sync_timeout_s
    while node.replies == before and time.monotonic() < deadline and rclpy.ok():
        executor.spin_once(timeout_sec=0.05)
    if node.replies == before:
        node.result.sync_timeouts += 1
    clock.resume(time.monotonic())
