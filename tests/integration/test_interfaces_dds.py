"""Every carebot_interfaces type crosses real DDS between two separate processes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from carebot.scenarios.ros_env import isolated_env, start, stop

pytestmark = pytest.mark.ros
EXCHANGE = [sys.executable, str(Path(__file__).with_name("iface_exchange.py"))]


def test_every_interface_type_crosses_dds_between_processes(tmp_path):
    env = isolated_env()
    talker = start(EXCHANGE + ["talker"], env, tmp_path / "talker.log")
    try:
        listener = subprocess.run(EXCHANGE + ["listener"],
                                  env=env, capture_output=True, text=True, timeout=90)
    finally:
        talker_rc = stop(talker)
    assert listener.returncode == 0, listener.stdout + listener.stderr + (tmp_path / "talker.log").read_text()
    report = json.loads(listener.stdout.strip().splitlines()[-1])
    # 7 messages + 2 services x 2 parts + 4 actions x 3 parts
    assert report["types"] >= 22
    assert report["received"] == report["types"]
    assert report["mismatched"] == [] and report["missing"] == []
    assert report["service"] and report["action"]
    assert report["feedback"] == [3.0, 2.0, 1.0]
    assert talker_rc == 0, (tmp_path / "talker.log").read_text()
