"""carebot.ros_common.LatestMessage: a subscription the node takes from at its own pace, which
never wakes the executor (issue 18: 50 Hz odometry cost a waiting node 6 % of a core)."""
from __future__ import annotations

import random
import threading
import time

import pytest

import rclpy  # noqa: E402  (the ROS 2 wheels are part of the stack: a broken install fails, never skips)
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Int32  # noqa: E402

from carebot.executors import PooledExecutor  # noqa: E402
from carebot.ros_common import LatestMessage  # noqa: E402

QOS = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture
def node():
    context = Context()
    rclpy.init(context=context, domain_id=random.randint(1, 100))
    made = rclpy.create_node("latest_test", context=context)
    yield made
    made.destroy_node()
    rclpy.shutdown(context=context)


def publish(node, topic: str, values, qos=QOS):
    pub = node.create_publisher(Int32, topic, qos)
    deadline = time.monotonic() + 5.0
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    for value in values:
        pub.publish(Int32(data=value))
    return pub


def wait_taken(latest: LatestMessage, count: int, timeout: float = 5.0) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += latest.take_all()
        time.sleep(0.01)
    return got


def test_take_all_gives_every_waiting_message_in_order_with_its_arrival(node):
    latest = LatestMessage(node, Int32, "numbers", QOS)
    before = time.monotonic()
    publish(node, "numbers", range(5))
    got = wait_taken(latest, 5)
    assert [msg.data for msg, _ in got] == [0, 1, 2, 3, 4]
    arrivals = [t for _, t in got]
    assert before - 0.05 <= arrivals[0] <= arrivals[-1] <= time.monotonic()
    assert latest.message.data == 4 and latest.received_at == arrivals[-1] and latest.taken == 5
    assert latest.take() is None and latest.message.data == 4      # nothing new; the last one is kept


def test_take_gives_the_newest(node):
    latest = LatestMessage(node, Int32, "numbers", QOS)
    publish(node, "numbers", [7, 8, 9])
    time.sleep(0.5)
    assert latest.take().data == 9 and latest.taken == 3


def test_depth_one_keeps_only_the_newest(node):
    qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
    latest = LatestMessage(node, Int32, "numbers", qos)
    publish(node, "numbers", range(20), qos)
    time.sleep(0.5)
    got = latest.take_all()
    assert [msg.data for msg, _ in got] == [19]


@pytest.mark.parametrize("executor_kind", ["single", "pooled"])
def test_messages_never_wake_the_executor(node, executor_kind):
    """The executor's wait set does not hold the subscription: spin_once sleeps its whole timeout
    although messages are waiting, and an ordinary subscription beside it still runs."""
    latest = LatestMessage(node, Int32, "numbers", QOS)
    heard = []
    node.create_subscription(Int32, "others", lambda m: heard.append(m.data), QOS)
    executor = SingleThreadedExecutor(context=node.context) if executor_kind == "single" else \
        PooledExecutor(num_threads=2, context=node.context)
    executor.add_node(node)
    publish(node, "numbers", range(5))
    time.sleep(0.3)
    started = time.monotonic()
    executor.spin_once(timeout_sec=0.5)
    assert time.monotonic() - started >= 0.45          # nothing was ready: the messages did not count
    publish(node, "others", [1])
    deadline = time.monotonic() + 5.0
    while not heard and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    assert heard == [1]
    assert [msg.data for msg, _ in latest.take_all()] == [0, 1, 2, 3, 4]   # still there, for the node
    executor.shutdown()


def test_take_is_safe_from_several_threads(node):
    latest = LatestMessage(node, Int32, "numbers", QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE))
    publish(node, "numbers", range(200), QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE))
    time.sleep(0.5)
    taken: list[int] = []
    lock = threading.Lock()

    def worker():
        for _ in range(50):
            got = latest.take_all()
            with lock:
                taken.extend(msg.data for msg, _ in got)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == list(range(200))             # each message exactly once
