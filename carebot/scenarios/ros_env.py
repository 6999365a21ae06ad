"""Run ROS 2 processes of a test in their own DDS domain, on this host only.

Tests (and developers running them side by side) must not hear each other's
topics, so every test gets a random ROS_DOMAIN_ID and localhost-only discovery. The
children get the stack's DDS transport profile too (carebot.bringup.node_environment),
so tests and benchmarks move camera frames the way the robot does.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

# Domain ids 0..101 map to ports that cannot clash with ephemeral ports on Linux.
_DOMAIN_RANGE = (1, 100)


def isolated_env(domain_id: int | None = None, **extra: str) -> dict[str, str]:
    """Environment for a child process in a private DDS domain."""
    from carebot.bringup import node_environment

    env = node_environment(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain_id if domain_id is not None else random.randint(*_DOMAIN_RANGE))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    # A private state folder (base_safety's e-stop latch lives there): a test or demo that
    # latches the e-stop must not leave the machine's own robot, or the next test, stopped.
    env["CAREBOT_STATE_DIR"] = tempfile.mkdtemp(prefix="carebot-state-")
    env.update(extra)
    return env


def start(args: Sequence[str], env: dict[str, str], log_path: Path | None = None) -> subprocess.Popen:
    """Start a child process (a node, a tool) with its output in a log file."""
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    return subprocess.Popen(list(args), env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT first (clean rclpy shutdown), then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    """Poll predicate() until it is true or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
