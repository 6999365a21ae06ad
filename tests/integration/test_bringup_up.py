"""`carebot up` over real processes and DDS: a killed node comes back, serves again and leaves a
SYSTEM alert for staff; SIGTERM stops everything cleanly; a bad parameter file starts nothing and names the key."""
import os
import signal
import sqlite3
import subprocess

import pytest

from bringup_support import CAREBOT, free_port, http_ok, is_ros_own, node_parameters, pid_alive, started_pids, write_config
from carebot import bringup, config_check
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

pytestmark = pytest.mark.ros


def test_killed_node_is_restarted_and_serves_again_then_sigterm_stops_all(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    env = isolated_env()
    log = tmp_path / "up.log"
    # in a namespace: the port only applies if the parameter sections were namespaced too;
    # on sim time with no /clock: the dashboard's diagnostics must still flow (wall-time timers)
    up = start(CAREBOT + ["up", "--only", "dashboard", "--config", str(config), "--namespace", "ward1",
                          "--use-sim-time", "true"], env, log)
    health = f"http://127.0.0.1:{port}/healthz"
    try:
        assert wait_for(lambda: http_ok(health), 60), log.read_text()
        first = started_pids(log, "dashboard")
        assert len(first) == 1

        # the table `carebot up` checked the file with is what the running node declares
        # (every node: tests/integration/test_node_parameters.py)
        declared = node_parameters(env, "/ward1/dashboard")
        table = config_check.node_tables([bringup.node_by_name("dashboard")])["dashboard"]
        assert {k for k in declared if not is_ros_own(k)} == set(table.names)

        # carebot up's own supervision node runs in the namespace with its section of the file
        supervisor = node_parameters(env, "/ward1/supervisor")
        supervisor_table = config_check.node_tables([bringup.SUPERVISOR])["supervisor"]
        assert {k for k in supervisor if k in supervisor_table} == set(supervisor_table.names)

        # `carebot status` hears the dashboard's diagnostics in the same domain (8 s: discovery of
        # the new listener under load, diagnostics every 1 s; 3 s heard only the supervisor once in CI)
        status = subprocess.run(CAREBOT + ["status", "--listen", "8"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "carebot/dashboard" in status.stdout and "OK" in status.stdout

        os.kill(first[0], signal.SIGKILL)
        assert wait_for(lambda: not http_ok(health), 10)
        assert wait_for(lambda: len(started_pids(log, "dashboard")) == 2, 30), log.read_text()
        second = started_pids(log, "dashboard")[1]
        assert second != first[0]
        assert "dashboard stopped (signal SIGKILL)" in log.read_text()
        assert wait_for(lambda: http_ok(health), 60), log.read_text()
        # the death reached staff: a SYSTEM alert in the restarted dashboard's database
        # (published in the namespace while the dashboard was dead), resolved once it serves
        database = tmp_path / "dashboard.sqlite3"

        def system_alerts():
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
                return db.execute("SELECT state, message FROM alerts WHERE kind = 4").fetchall()
        assert wait_for(lambda: system_alerts() and system_alerts()[0][0] == 3, 60), (system_alerts(),
                                                                                     log.read_text())
        assert "SYSTEM alert system-dashboard-" in log.read_text()
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            code = up.wait(30)
        except subprocess.TimeoutExpired:
            code = stop(up)
    text = log.read_text()
    assert code == 0, text
    assert "SIGTERM received" in text and "all nodes stopped" in text
    assert "sending SIGTERM" not in text and "killing it" not in text   # it stopped on SIGINT
    assert not pid_alive(second)
    assert not http_ok(health)


def test_bad_config_is_refused_with_the_key_named_and_nothing_starts(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port, camera_view='"sometimes"', session_timeout_s="3600")
    result = subprocess.run(CAREBOT + ["up", "--only", "dashboard", "--config", str(config)],
                            env=isolated_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "dashboard.camera_view: expects a bool" in result.stderr
    assert "dashboard.session_timeout_s: expects a double, got integer 3600" in result.stderr
    assert "the stack is not started" in result.stderr
    assert "started" not in result.stdout.replace("not started", "")
    assert not http_ok(f"http://127.0.0.1:{port}/healthz")


def test_unknown_node_section_is_refused(tmp_path):
    config = write_config(tmp_path, free_port())
    config.write_text(config.read_text() + "dashbaord:\n  ros__parameters:\n    port: 1\n")
    result = subprocess.run(CAREBOT + ["up", "--only", "dashboard", "--config", str(config)],
                            env=isolated_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "dashbaord: unknown node section" in result.stderr


def test_status_fails_when_no_node_reports():
    result = subprocess.run(CAREBOT + ["status", "--listen", "1.5"], env=isolated_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no diagnostics received" in result.stdout
