"""A hung node can be asked where it is: SIGUSR1 writes every thread's stack to its log
and the node goes on running (carebot.node_runner)."""
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("rclpy", reason="needs the ROS 2 wheels (scripts/setup.sh)")

NODE = """
import rclpy.node
from carebot.node_runner import run_node

class Idle(rclpy.node.Node):
    def __init__(self):
        super().__init__("idle_for_stacks")
        print("up", flush=True)

raise SystemExit(run_node(Idle, name="idle_for_stacks"))
"""


def test_sigusr1_dumps_the_stacks_and_the_node_keeps_running(tmp_path):
    from carebot.scenarios.ros_env import isolated_env, stop

    log = tmp_path / "node.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", NODE], env=isolated_env(), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "up" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "up" in log.read_text(), log.read_text()
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while "run_node" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        text = log.read_text()
        assert "most recent call first" in text and "run_node" in text and "in spin" in text, text
        assert proc.poll() is None, "the node stopped on SIGUSR1"
    finally:
        code = stop(proc)
    assert code in (0, -2), log.read_text()
