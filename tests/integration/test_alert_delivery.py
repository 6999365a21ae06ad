"""Alerts that cannot be lost, over real DDS between real processes.

A sender in this test process uses the stack's own ``carebot.alert_delivery.AlertSender``;
the dashboard runs under ``carebot up`` (supervised, with its SYSTEM alerts). Checked:
an alert raised while the dashboard is down is stored once it is up (once, though DDS
history and re-sends deliver it several times); re-sending stops with the receipt; a
machine's RESOLVED does not close a fall; killing the dashboard under ``carebot up``
leaves a SYSTEM alert in its database, resolved once it serves again, and an alert
raised while it was dead is stored too; a hung node (SIGSTOP: alive, silent) gets a
SYSTEM alert, is not killed, and the alert is resolved when it reports again.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from bringup_support import CAREBOT, AlertSenderPeer, db_rows, free_port, http_ok, started_pids, write_config
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

RESEND_S = 0.5          # the sender's first re-send; doubling to MAX_RESEND_S (the stack's: 2 s to 30 s)
MAX_RESEND_S = 2.0


def _sender(env):
    return AlertSenderPeer(env, initial_s=RESEND_S, max_s=MAX_RESEND_S)


def _state(database, alert_id: str):
    rows = db_rows(database, "SELECT state FROM alerts WHERE id = ?", (alert_id,))
    return rows[0][0] if rows else None


def _events(database, alert_id: str) -> list[tuple]:
    return db_rows(database, "SELECT state, actor FROM alert_events WHERE alert_id = ? ORDER BY seq", (alert_id,))


@pytest.fixture()
def setup(tmp_path):
    env = isolated_env()
    port = free_port()
    config = write_config(tmp_path, port)
    sender = _sender(env)
    procs = []
    yield env, config, port, tmp_path, sender, procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                stop(proc)
    sender.close()


def test_an_alert_raised_while_the_dashboard_is_down_is_stored_once_it_is_back(setup):
    env, config, port, folder, sender, procs = setup
    database = folder / "dashboard.sqlite3"
    A = sender.Alert

    # No dashboard: the sender keeps the alert and re-sends it, backing off.
    sender.raise_alert("fall-down-1")
    time.sleep(6.0)
    sent_while_down = sender.sends_of("fall-down-1")
    assert 3 <= sent_while_down <= 8, sent_while_down     # 0, 0.5, 1.5, 3.5, 5.5 s (+-20 %): re-sent, no flood
    assert sender.unstored() == 1

    log = folder / "up.log"
    t_start = time.monotonic()
    procs.append(start(CAREBOT + ["up", "--only", "dashboard", "--config", str(config)], env, log))
    assert wait_for(lambda: sender.unstored() == 0, 90), log.read_text()
    t_stored = time.monotonic()
    assert _state(database, "fall-down-1") == A.STATE_RAISED
    serving = wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 30)
    t_serving = time.monotonic()
    print(f"\nFIGURE up->alert stored {t_stored - t_start:.2f} s (page serving after {t_serving - t_start:.2f} s), "
          f"load {os.getloadavg()[0]:.1f}")
    assert serving

    # The receipt ended the re-sends: nothing more from the sender for this alert.
    quiet_from = time.monotonic()
    time.sleep(3 * MAX_RESEND_S)
    assert sender.sends_of("fall-down-1", since=quiet_from) == 0
    # Delivered several times (DDS history and re-sends), stored once.
    assert _events(database, "fall-down-1") == [(A.STATE_RAISED, "topic")]

    # A machine cannot close a fall (perception seeing the person up): words kept, state kept.
    sender.raise_alert("fall-down-1", state=A.STATE_RESOLVED, message="person up again")
    assert wait_for(lambda: sender.unstored() == 0, 20)
    assert _state(database, "fall-down-1") == A.STATE_RAISED
    assert db_rows(database, "SELECT message FROM alerts WHERE id = 'fall-down-1'") == [("person up again",)]
    # A staff member's decision does count.
    sender.raise_alert("fall-down-1", state=A.STATE_RESOLVED, message="helped up", handled_by="night_nurse")
    assert wait_for(lambda: _state(database, "fall-down-1") == A.STATE_RESOLVED, 20)


def test_a_node_killed_under_carebot_up_leaves_a_system_alert_and_nothing_is_lost(setup):
    env, config, port, folder, sender, procs = setup
    database = folder / "dashboard.sqlite3"
    A = sender.Alert
    log = folder / "up.log"
    health = f"http://127.0.0.1:{port}/healthz"
    procs.append(start(CAREBOT + ["up", "--only", "dashboard", "--config", str(config)], env, log))
    assert wait_for(lambda: http_ok(health), 90), log.read_text()
    assert "SYSTEM alerts from node /supervisor" in log.read_text()
    sender.raise_alert("before-kill")
    assert wait_for(lambda: sender.unstored() == 0, 30)

    [pid] = started_pids(log, "dashboard")
    os.kill(pid, signal.SIGKILL)
    t_kill = time.monotonic()
    sender.raise_alert("while-dead")               # nobody stores it now
    assert wait_for(lambda: http_ok(health), 60), log.read_text()
    t_back = time.monotonic()
    assert wait_for(lambda: _state(database, "while-dead") == A.STATE_RAISED, 60), log.read_text()
    t_stored = time.monotonic()

    def system_alerts():
        return db_rows(database, "SELECT id, state, severity, message FROM alerts WHERE kind = ?",
                        (A.KIND_SYSTEM,))
    assert wait_for(lambda: any(row[1] == A.STATE_RESOLVED for row in system_alerts()), 60), \
        (system_alerts(), log.read_text())
    t_resolved = time.monotonic()
    [(incident, state, severity, message)] = system_alerts()
    assert severity == A.SEVERITY_WARNING and message.startswith("dashboard healthy again")
    states = [s for s, _actor in _events(database, incident)]
    assert states[0] == A.STATE_RAISED and states[-1] == A.STATE_RESOLVED, states
    # what it said on the way is in the supervisor's log (the record keeps the latest words)
    text = log.read_text()
    assert f"SYSTEM alert {incident} RAISED: dashboard stopped (signal SIGKILL)" in text
    assert f"SYSTEM alert {incident} RAISED: dashboard restarted (start 2)" in text
    assert _events(database, "before-kill") == [(A.STATE_RAISED, "topic")]   # replayed history: no duplicate
    print(f"\nFIGURE kill->serving {t_back - t_kill:.2f} s, kill->alert raised while dead stored "
          f"{t_stored - t_kill:.2f} s, kill->SYSTEM alert resolved {t_resolved - t_kill:.2f} s, "
          f"load {os.getloadavg()[0]:.1f}")


def test_a_hung_node_raises_a_system_alert_is_not_killed_and_is_resolved_when_it_answers(setup):
    env, config, port, folder, sender, procs = setup
    database = folder / "dashboard.sqlite3"
    A = sender.Alert
    config.write_text(config.read_text() + "supervisor:\n  ros__parameters:\n    diagnostics_timeout_s: 5.0\n")
    log = folder / "up.log"
    # the navigator: a light node that reports (WARN without odometry) and has no model to load
    procs.append(start(CAREBOT + ["up", "--only", "navigator", "dashboard", "--config", str(config)], env, log))
    assert wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 90), log.read_text()
    from diagnostic_msgs.msg import DiagnosticArray

    heard_by_supervisor = set()

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name == "carebot/supervisor":
                heard_by_supervisor.update(v for kv in status.values if kv.key == "heard"
                                           for v in kv.value.split(",") if v)
    sender.node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    [pid] = started_pids(log, "navigator")
    # hung only counts after a first report the supervisor has heard (before it, the long
    # start-up limit applies): its own health says which nodes it has heard
    assert wait_for(lambda: "navigator" in heard_by_supervisor, 60), log.read_text()

    def system_alerts():
        return db_rows(database, "SELECT id, state, message FROM alerts WHERE kind = ?", (A.KIND_SYSTEM,))
    os.kill(pid, signal.SIGSTOP)                     # hung: alive, silent
    t_hang = time.monotonic()
    try:
        assert wait_for(lambda: system_alerts(), 30), log.read_text()
        t_alert = time.monotonic()
        [(incident, state, message)] = system_alerts()
        assert state == A.STATE_RAISED and message.startswith("navigator stopped reporting on /diagnostics")
        assert "process still running" in message
        time.sleep(3.0)
        assert started_pids(log, "navigator") == [pid]                 # never killed for silence
        assert len(system_alerts()) == 1                               # and said once
    finally:
        os.kill(pid, signal.SIGCONT)
    assert wait_for(lambda: system_alerts()[0][1] == A.STATE_RESOLVED, 30), (system_alerts(), log.read_text())
    assert system_alerts()[0][2].startswith("navigator healthy again (WARN")
    print(f"\nFIGURE hang->SYSTEM alert stored {t_alert - t_hang:.2f} s (diagnostics_timeout_s 5), "
          f"load {os.getloadavg()[0]:.1f}")
