"""carebot.ros_common.ActionClient: a goal sent from one thread while the executor spins in
another is never lost (ros2/rclpy#1123; a Speak goal got no response in a CI run, with
"Ignoring unexpected goal response. There may be more than one action server").

The race needs the server's answer to arrive between rclpy sending the request and filing
its future; the test widens that gap to 1 s so it happens every time, and shows that
rclpy's own client loses the goal there while carebot's does not.
"""
from __future__ import annotations

import random
import threading
import time

import pytest

import rclpy  # noqa: E402  (the ROS 2 wheels are part of the stack: a broken install fails, never skips)
from rclpy.action import ActionClient as RclpyActionClient, ActionServer  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from carebot_interfaces.action import Gesture  # noqa: E402

from carebot.ros_common import ActionClient  # noqa: E402

GAP_S = 1.0


class SlowToFile:
    """The client's rcl handle, pausing after each request is sent: the thread that sent it
    is pre-empted before it files the request's future (what a busy machine does by chance)."""

    def __init__(self, handle):
        self._handle = handle

    def __getattr__(self, name):
        attribute = getattr(self._handle, name)
        if name.startswith("send_"):
            def sent_then_paused(*args):
                sequence = attribute(*args)
                time.sleep(GAP_S)
                return sequence
            return sent_then_paused
        return attribute

    def __enter__(self):
        return self._handle.__enter__()

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)


@pytest.fixture
def graph():
    context = Context()
    rclpy.init(context=context, domain_id=random.randint(1, 100))
    server_node = rclpy.create_node("gesture_server", context=context)
    client_node = rclpy.create_node("gesture_client", context=context)

    def wave(goal):
        goal.succeed()
        return Gesture.Result(success=True, message="waved")

    server = ActionServer(server_node, Gesture, "gesture", wave)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(server_node)
    executor.add_node(client_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    yield client_node
    executor.shutdown()
    server.destroy()
    server_node.destroy_node()
    client_node.destroy_node()
    rclpy.shutdown(context=context)


def _goal_answered(client, timeout: float) -> tuple[bool, bool]:
    """(goal response arrived, result arrived) for one goal sent from this (non-executor) thread."""
    assert client.wait_for_server(timeout_sec=10)
    client._client_handle = SlowToFile(client._client_handle)
    sent = client.send_goal_async(Gesture.Goal(name="wave"))
    deadline = time.monotonic() + timeout
    while not sent.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not sent.done():
        return False, False
    result = sent.result().get_result_async()
    while not result.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    return True, result.done() and result.result().result.success


def test_rclpy_client_loses_a_goal_answered_before_it_is_filed(graph):
    """The failure the wrapper exists for: if this starts passing, the wheels carry the fix."""
    answered, _ = _goal_answered(RclpyActionClient(graph, Gesture, "gesture"), timeout=3.0)
    assert not answered


def test_carebot_client_gets_the_goal_and_its_result(graph):
    answered, succeeded = _goal_answered(ActionClient(graph, Gesture, "gesture"), timeout=10.0)
    assert answered and succeeded
