"""Alert delivery over ROS: the durable ``alerts`` topic, its receipts, and the one sender.

Every node that raises or updates staff alerts (perception, brain, the ``carebot up``
supervisor) publishes through ``AlertSender``; the dashboard stores and confirms.

- ``alerts`` (carebot_interfaces/Alert) is published RELIABLE + TRANSIENT_LOCAL with
  KEEP_LAST ``ALERTS_DEPTH``: each publisher keeps its last changes, so a dashboard that
  starts (or restarts) later still receives them from DDS itself.
- ``alerts/stored`` (Alert, RELIABLE, volatile): the dashboard's receipt. After it has
  written a change to its database, or found that it already holds that state or a
  later one, it publishes the message it received back unchanged. The sender matches
  it on (id, state, header.stamp) and stops re-sending (carebot.alert_outbox).
- Until then the sender re-sends with back-off (2 s doubling to 30 s, never giving up),
  and at once when the dashboard's receipt publisher is discovered again: an alert
  raised while the dashboard was down for minutes is stored soon after it is back.

QoS compatibility (DDS refuses to match the rest, silently for the data): a
TRANSIENT_LOCAL subscriber needs TRANSIENT_LOCAL publishers. So every publisher of
``alerts`` uses ``ALERTS_QOS``; the dashboard subscribes with it too (it wants the
history); listeners that want live changes only (brain, perception, scenario runner,
tests) subscribe with ``ALERTS_LIVE_QOS``, which matches durable publishers.
Remapping ``alerts`` needs ``alerts/stored`` remapped alongside it.
"""
from __future__ import annotations

import threading
import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from carebot.alert_outbox import ChangeKey, Outbox, Pending

ALERTS_TOPIC = "alerts"
RECEIPTS_TOPIC = "alerts/stored"
# Changes each publisher keeps for late joiners. Alerts are rare and small (~0.3 KiB): 100
# covers every open incident of a sender plus their updates and re-sends.
ALERTS_DEPTH = 100
ALERTS_QOS = QoSProfile(depth=ALERTS_DEPTH, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
ALERTS_LIVE_QOS = QoSProfile(depth=ALERTS_DEPTH, history=HistoryPolicy.KEEP_LAST,
                             reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
RECEIPTS_QOS = QoSProfile(depth=ALERTS_DEPTH, history=HistoryPolicy.KEEP_LAST,
                          reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
TICK_S = 0.5                 # re-send check and dashboard discovery, steady time
UNSTORED_WARN_S = 60.0       # log (throttled) while a change waits longer than this


def change_key(msg) -> ChangeKey:
    """The identity of the state change an Alert message (or its receipt) carries."""
    stamp = msg.header.stamp
    return ChangeKey(msg.id, int(msg.state), int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec))


class AlertSender:
    """Publishes Alerts on ``alerts`` and re-sends each change until the dashboard stored it.

    ``publish(msg)`` is thread-safe (the brain publishes from several threads). The
    message must carry its change's stamp in ``header.stamp``; re-sends repeat it
    unchanged, which is how the dashboard and the receipt recognise a repeat.
    """

    def __init__(self, node, outbox: Outbox | None = None, clock=time.monotonic):
        from carebot_interfaces.msg import Alert

        self._node = node
        self._outbox = outbox if outbox is not None else Outbox()   # an empty one is falsy
        self._clock = clock
        self._lock = threading.Lock()
        self._dashboards = 0
        group = MutuallyExclusiveCallbackGroup()   # receipts and re-sends never wait on the node's work
        self.publisher = node.create_publisher(Alert, ALERTS_TOPIC, ALERTS_QOS)
        self._receipts = node.create_subscription(Alert, RECEIPTS_TOPIC, self._on_receipt, RECEIPTS_QOS,
                                                  callback_group=group)
        # Steady time: under use_sim_time a stopped /clock must not stop re-sending.
        node.create_timer(TICK_S, self._tick, callback_group=group,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))

    def publish(self, msg) -> None:
        """Send one state change now and keep it until its receipt arrives."""
        with self._lock:
            dropped = self._outbox.add(change_key(msg), msg, self._clock())
            self.publisher.publish(msg)
        for entry in dropped:
            self._node.get_logger().error(
                f"alert outbox full ({self._outbox.capacity} unconfirmed incidents): gave up re-sending "
                f"alert {entry.key.alert_id} (first sent {self._clock() - entry.first_sent:.0f} s ago)")

    def _on_receipt(self, msg) -> None:
        with self._lock:
            settled: Pending | None = self._outbox.confirm(change_key(msg))
            now = self._clock()
        if settled is not None and settled.attempts > 1:
            self._node.get_logger().info(
                f"alert {msg.id} stored by the dashboard after {settled.attempts} sends, "
                f"{now - settled.first_sent:.1f} s")

    def _tick(self) -> None:
        # The dashboard is the only publisher of receipts: its appearance means "send now".
        dashboards = self._receipts.get_publisher_count()
        with self._lock:
            now = self._clock()
            if dashboards > self._dashboards and len(self._outbox):
                self._outbox.peer_appeared(now)
            self._dashboards = dashboards
            resend = self._outbox.due(now)
            for msg in resend:
                self.publisher.publish(msg)
            waiting, oldest = len(self._outbox), self._outbox.oldest_age(now)
        if oldest > UNSTORED_WARN_S:
            self._node.get_logger().warning(
                f"{waiting} alert change(s) not stored by the dashboard yet (oldest {oldest:.0f} s; "
                f"{'no dashboard heard' if not dashboards else 'no receipt'}): re-sending",
                throttle_duration_sec=UNSTORED_WARN_S)

    def stats(self) -> dict[str, object]:
        """Key values for the node's diagnostics."""
        with self._lock:
            s = self._outbox.stats
            return {"alerts_unstored": len(self._outbox),
                    "alerts_oldest_unstored_s": round(self._outbox.oldest_age(self._clock()), 1),
                    "alerts_resent": s.resent, "alerts_stored": s.confirmed,
                    "dashboard_heard": self._dashboards > 0}
