"""carebot.executors.PooledExecutor: rclpy's callback model without the busy loop."""
from __future__ import annotations

import random
import threading
import time

import pytest

import rclpy  # noqa: E402  (the ROS 2 wheels are part of the stack: a broken install fails, never skips)

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup  # noqa: E402
from rclpy.context import Context  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from carebot.executors import PooledExecutor  # noqa: E402


@pytest.fixture
def node():
    context = Context()
    rclpy.init(context=context, domain_id=random.randint(1, 100))
    made = rclpy.create_node("executor_test", context=context)
    yield made
    made.destroy_node()
    rclpy.shutdown(context=context)


def spin_in_thread(executor: PooledExecutor) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def spin():
        try:
            executor.spin()
        except Exception as exc:      # what spin() raised, for the test to inspect
            errors.append(exc)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return thread, errors


def test_each_ready_callback_is_handed_to_the_pool_once(node):
    """rclpy 7.1's MultiThreadedExecutor re-submits a queued task on every pass (hundreds of times)."""
    calls = {"fast": 0, "slow": 0, "message": 0}
    publisher = node.create_publisher(String, "chatter", 10)

    def count(name):
        calls[name] += 1

    node.create_timer(0.02, lambda: count("fast"))
    node.create_timer(0.1, lambda: (count("slow"), publisher.publish(String(data="hi"))))
    node.create_subscription(String, "chatter", lambda _: count("message"), 10)
    executor = PooledExecutor(num_threads=2, context=node.context)
    executor.add_node(node)
    thread, errors = spin_in_thread(executor)
    time.sleep(2.0)
    executor.shutdown()
    thread.join(5)
    ran = sum(calls.values())
    assert not errors
    assert calls["fast"] >= 50 and calls["slow"] >= 10 and calls["message"] >= 5, calls
    assert ran <= executor.submissions <= ran + 3, (executor.submissions, calls)


def test_a_blocked_callback_does_not_hold_up_another_group(node):
    release = threading.Event()
    ticks = []
    node.create_timer(0.05, lambda: release.wait(5), callback_group=MutuallyExclusiveCallbackGroup())
    node.create_timer(0.02, lambda: ticks.append(time.monotonic()), callback_group=MutuallyExclusiveCallbackGroup())
    executor = PooledExecutor(num_threads=2, context=node.context)
    executor.add_node(node)
    thread, errors = spin_in_thread(executor)
    time.sleep(0.2)                      # the blocking timer has fired and holds one worker
    before = len(ticks)
    time.sleep(1.0)
    during = len(ticks) - before
    release.set()
    executor.shutdown()
    thread.join(5)
    assert not errors
    assert during >= 20, f"only {during} ticks of the free group while the other was blocked"


def test_one_mutually_exclusive_group_never_overlaps(node):
    group = MutuallyExclusiveCallbackGroup()
    state = {"inside": 0, "most": 0, "runs": 0}
    lock = threading.Lock()

    def work():
        with lock:
            state["inside"] += 1
            state["most"] = max(state["most"], state["inside"])
        time.sleep(0.01)
        with lock:
            state["inside"] -= 1
            state["runs"] += 1

    for _ in range(3):
        node.create_timer(0.01, work, callback_group=group)
    executor = PooledExecutor(num_threads=3, context=node.context)
    executor.add_node(node)
    thread, errors = spin_in_thread(executor)
    time.sleep(1.0)
    executor.shutdown()
    thread.join(5)
    assert not errors
    assert state["runs"] >= 20 and state["most"] == 1, state


def test_a_callback_error_ends_spin_like_rclpys_executors(node):
    def broken():
        raise RuntimeError("callback failed")

    node.create_timer(0.05, broken)
    executor = PooledExecutor(num_threads=2, context=node.context)
    executor.add_node(node)
    thread, errors = spin_in_thread(executor)
    thread.join(5)
    executor.shutdown()
    assert not thread.is_alive()
    assert len(errors) == 1 and "callback failed" in str(errors[0])


def test_spin_until_future_complete_returns_when_a_callback_completes_it(node):
    from rclpy.task import Future

    future = Future()
    node.create_timer(0.1, lambda: None if future.done() else future.set_result("done"))
    executor = PooledExecutor(num_threads=2, context=node.context)
    executor.add_node(node)
    executor.spin_until_future_complete(future, timeout_sec=5)
    executor.shutdown()
    assert future.done() and future.result() == "done"


def test_zero_threads_is_refused(node):
    with pytest.raises(ValueError, match="num_threads"):
        PooledExecutor(num_threads=0, context=node.context)
