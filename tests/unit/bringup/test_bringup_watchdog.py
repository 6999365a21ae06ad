"""SYSTEM alerts of `carebot up`: deaths, restarts, silence; slow starters are not hung."""
import itertools

import pytest

from carebot.alert_enums import AlertState, Severity
from carebot.diagnostics import Level
from carebot.launcher.watchdog import CRASH_LOOP_DEATHS, Watchdog, WatchdogConfig


def watchdog(nodes=("perception", "dashboard"), silence=30.0, startup=180.0):
    ids = (f"inc-{i}" for i in itertools.count(1))
    return Watchdog(nodes, WatchdogConfig(silence, startup), new_id=lambda node: next(ids))


def run_ticks(dog, start, end, step=1.0):
    out = []
    t = start
    while t <= end:
        out += dog.tick(t)
        t += step
    return out


def test_a_death_raises_the_restart_updates_and_a_healthy_report_resolves():
    dog = watchdog()
    assert dog.started("perception", 0.0) == []                      # a first start is no incident
    assert dog.report("perception", Level.OK, "ready", 20.0) == []
    [died] = dog.exited("perception", 50.0, "signal SIGKILL", uptime_s=50.0, restart_in_s=1.0)
    assert (died.state, died.severity, died.incident_id) == (AlertState.RAISED, Severity.WARNING, "inc-1")
    assert died.message == "perception stopped (signal SIGKILL) after 50 s; restarting in 1 s"
    [restarted] = dog.started("perception", 51.0)
    assert restarted.incident_id == "inc-1" and restarted.state is AlertState.RAISED
    assert "restarted (start 2)" in restarted.message
    assert dog.report("perception", Level.STALE, "loading model", 60.0) == []   # up, not healthy yet
    [healthy] = dog.report("perception", Level.OK, "ready", 90.0)
    assert (healthy.incident_id, healthy.state) == ("inc-1", AlertState.RESOLVED)
    assert healthy.raised_at == 50.0 and "healthy again" in healthy.message
    assert dog.open_incidents() == {}
    # the next death is a new incident
    [again] = dog.exited("perception", 500.0, "exit code 1", uptime_s=449.0, restart_in_s=1.0)
    assert again.incident_id == "inc-2"


def test_a_crash_loop_stays_one_incident_and_turns_critical():
    dog = watchdog()
    changes = []
    t = 0.0
    for k in range(CRASH_LOOP_DEATHS + 1):
        changes += dog.started("dashboard", t)
        changes += dog.exited("dashboard", t + 0.5, "exit code 2", uptime_s=0.5, restart_in_s=2.0 ** k)
        t += 1.0 + 2.0 ** k
    assert {c.incident_id for c in changes} == {"inc-1"}
    deaths = [c for c in changes if "stopped" in c.message]
    assert [c.severity for c in deaths] == [Severity.WARNING] * (CRASH_LOOP_DEATHS - 1) + [Severity.CRITICAL] * 2
    assert f"{CRASH_LOOP_DEATHS} times since" in deaths[CRASH_LOOP_DEATHS - 1].message


def test_a_slow_starter_is_not_hung_until_the_startup_limit_and_is_never_flagged_twice():
    dog = watchdog(silence=30.0, startup=180.0)
    dog.started("perception", 0.0)
    assert run_ticks(dog, 0.0, 179.0) == []          # importing torch, loading YOLO on two cores
    [hung] = dog.tick(180.0)
    assert hung.state is AlertState.RAISED and "has not reported on /diagnostics in 180 s" in hung.message
    assert run_ticks(dog, 181.0, 1000.0) == []       # one alert, no repeats, and nothing is killed
    [resolved] = dog.report("perception", Level.OK, "ready", 1001.0)
    assert resolved.state is AlertState.RESOLVED and resolved.incident_id == hung.incident_id


def test_a_node_that_stops_reporting_is_flagged_after_the_silence_limit():
    dog = watchdog(silence=30.0)
    dog.started("dashboard", 0.0)
    dog.report("dashboard", Level.OK, "serving", 2.0)
    assert run_ticks(dog, 3.0, 31.0) == []
    [hung] = dog.tick(32.0)
    assert "stopped reporting on /diagnostics 30 s ago" in hung.message and "still running" in hung.message
    # it answers again, but in trouble: said once, still open
    [trouble] = dog.report("dashboard", Level.ERROR, "database locked", 40.0)
    assert trouble.state is AlertState.RAISED and "ERROR: database locked" in trouble.message
    assert dog.report("dashboard", Level.ERROR, "database locked", 41.0) == []
    [ok] = dog.report("dashboard", Level.WARN, "1 server error", 42.0)
    assert ok.state is AlertState.RESOLVED


def test_a_restarted_node_gets_the_startup_limit_again():
    dog = watchdog(silence=30.0, startup=180.0)
    dog.started("perception", 0.0)
    dog.report("perception", Level.OK, "ready", 60.0)
    dog.exited("perception", 100.0, "signal SIGSEGV", uptime_s=100.0, restart_in_s=1.0)
    assert run_ticks(dog, 100.0, 101.0) == []         # exited: silence is not judged
    dog.started("perception", 101.0)
    assert run_ticks(dog, 101.0, 280.0) == []         # not the 30 s silence limit: it is starting
    [hung] = dog.tick(281.0)
    assert "perception (start 2) has not reported" in hung.message


def test_stopping_the_stack_raises_nothing_and_unknown_nodes_are_ignored():
    dog = watchdog()
    dog.started("dashboard", 0.0)
    assert dog.report("navigator", Level.OK, "x", 1.0) == []     # not supervised by this carebot up
    assert dog.exited("navigator", 1.0, "exit code 1", 1.0, 1.0) == []
    dog.stop()
    assert dog.exited("dashboard", 5.0, "exit code 0", 5.0, None) == []
    assert dog.tick(1000.0) == []


def test_a_late_report_from_a_dead_process_proves_nothing():
    dog = watchdog()
    dog.started("dashboard", 0.0)
    dog.exited("dashboard", 10.0, "signal SIGKILL", 10.0, 1.0)
    assert dog.report("dashboard", Level.OK, "serving", 10.2) == []
    assert dog.open_incidents() == {"dashboard": "inc-1"}


def test_bad_config():
    with pytest.raises(ValueError):
        WatchdogConfig(silence_timeout_s=0.0)


def test_the_supervisor_section_is_checked_like_a_node(tmp_path):
    from carebot import bringup, config_check

    table = config_check.node_tables([bringup.SUPERVISOR])["supervisor"]
    assert table["diagnostics_timeout_s"].min == 5.0
    assert table["startup_timeout_s"].max == 3600.0
    assert "supervisor" not in [n.name for n in bringup.NODES]  # not a child process of carebot up
    path = tmp_path / "site.yaml"
    path.write_text("supervisor:\n  ros__parameters:\n    diagnostics_timeout_s: 1.0\n    startup_timout_s: 60.0\n")
    issues = {issue.key: issue.reason for issue in config_check.check_file(path)}
    assert "below the minimum" in issues["supervisor.diagnostics_timeout_s"]
    assert "unknown parameter" in issues["supervisor.startup_timout_s"]


def test_heard_lists_the_nodes_that_reported_since_their_latest_start():
    dog = watchdog()
    dog.started("perception", 0.0)
    dog.started("dashboard", 0.0)
    assert dog.heard() == []
    dog.report("dashboard", Level.OK, "serving", 2.0)
    assert dog.heard() == ["dashboard"]
    dog.exited("dashboard", 5.0, "exit code 1", uptime_s=5.0, restart_in_s=1.0)
    dog.started("dashboard", 6.0)
    assert dog.heard() == []                 # a restart starts the count again
