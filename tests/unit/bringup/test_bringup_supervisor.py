"""The process supervisor behind `carebot up`, with real child processes (no ROS)."""
import io
import signal
import sys
import time

import pytest

from carebot.launcher.supervisor import Backoff, ChildSpec, ChildState, EventKind, Supervisor, describe_exit


def test_backoff_doubles_up_to_the_cap_and_resets_after_a_stable_run():
    backoff = Backoff(initial_s=1.0, factor=2.0, max_s=5.0, stable_after_s=30.0)
    assert [backoff.delay_after(0.1) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.delay_after(31.0) == 1.0
    assert backoff.delay_after(0.5) == 2.0


def test_backoff_refuses_nonsense():
    with pytest.raises(ValueError):
        Backoff(initial_s=0.0)


def test_describe_exit():
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGKILL) == "signal SIGKILL"


def _python(code):
    return (sys.executable, "-c", code)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_crashed_child_is_restarted_after_backoff_and_output_is_prefixed(tmp_path):
    out = io.StringIO()
    supervisor = Supervisor([ChildSpec("crashy", _python("print('hello', flush=True); raise SystemExit(3)"))],
                            out=out, backoff=lambda: Backoff(initial_s=0.3, max_s=0.6), grace_s=2.0,
                            log_dir=tmp_path / "logs")
    supervisor.start()
    child = supervisor.children["crashy"]
    try:
        assert _wait(lambda: (supervisor.poll(), child.state is ChildState.WAITING)[1])
        assert child.last_exit == 3
        waited_from = time.monotonic()
        assert _wait(lambda: (supervisor.poll(), child.starts >= 2)[1])
        assert time.monotonic() - waited_from >= 0.25          # the back-off was honoured
        assert _wait(lambda: (supervisor.poll(), child.starts >= 3)[1])
    finally:
        supervisor.shutdown()
    log = out.getvalue()
    assert "[crashy] hello" in log
    assert "crashy stopped (exit code 3)" in log and "restarting in 0.3 s" in log and "restarting in 0.6 s" in log
    assert _wait(lambda: (tmp_path / "logs" / "crashy.log").read_text().count("hello") >= 2)


def test_shutdown_escalates_to_sigterm_for_a_child_that_ignores_sigint(tmp_path):
    deaf = _python("import signal, sys, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                   "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\nprint('ready', flush=True)\ntime.sleep(60)")
    out = io.StringIO()
    supervisor = Supervisor([ChildSpec("deaf", deaf)], out=out, grace_s=2.0)
    supervisor.start()
    assert _wait(lambda: "ready" in out.getvalue())
    assert supervisor.shutdown() == {"deaf": 7}
    assert "deaf still running 1 s after SIGINT; sending SIGTERM" in out.getvalue()


def test_killing_takes_the_nodes_helpers_with_it(tmp_path):
    pid_file = tmp_path / "helper.pid"
    parent = _python("import signal, subprocess, sys, time\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(0))\n"
                     f"h = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                     f"open({str(pid_file)!r}, 'w').write(str(h.pid))\nprint('ready', flush=True)\ntime.sleep(60)")
    out = io.StringIO()
    supervisor = Supervisor([ChildSpec("parent", parent)], out=out, grace_s=2.0)
    supervisor.start()
    assert _wait(lambda: "ready" in out.getvalue() and pid_file.exists())
    helper = int(pid_file.read_text())
    supervisor.shutdown()

    def gone():
        try:
            return open(f"/proc/{helper}/stat").read().split()[2] == "Z"
        except OSError:
            return True
    assert _wait(gone, 5)


def test_shutdown_sends_sigint_then_kills_a_child_that_ignores_it():
    polite = _python("import signal, time\nsignal.signal(signal.SIGINT, lambda *a: exit(0))\n"
                     "print('ready', flush=True)\ntime.sleep(60)")
    stubborn = _python("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                       "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)")
    out = io.StringIO()
    supervisor = Supervisor([ChildSpec("polite", polite), ChildSpec("stubborn", stubborn)], out=out, grace_s=1.0)
    supervisor.start()
    assert _wait(lambda: out.getvalue().count("ready") == 2)
    started = time.monotonic()
    codes = supervisor.shutdown()
    assert time.monotonic() - started < 5
    assert codes == {"polite": 0, "stubborn": -signal.SIGKILL}
    assert "stubborn ignored SIGINT and SIGTERM" in out.getvalue()
    assert all(c.state is ChildState.STOPPED for c in supervisor.children.values())


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError):
        Supervisor([ChildSpec("a", _python("")), ChildSpec("a", _python(""))])


class ClosedTerminal(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_terminal_never_blocks_the_children():
    chatty = _python("import sys\nfor i in range(20000):\n    print('x' * 100)\nprint('done', flush=True)")
    supervisor = Supervisor([ChildSpec("chatty", chatty)], out=ClosedTerminal(), grace_s=1.0)
    supervisor.start()
    child = supervisor.children["chatty"]
    try:    # 2 MB of output: far more than a pipe holds, so it only ends if drained
        assert _wait(lambda: child.proc.poll() is not None, 30)
        assert child.proc.returncode == 0
    finally:
        supervisor.shutdown()


def test_a_second_stop_request_kills_without_waiting_out_the_grace():
    import threading

    stubborn = _python("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                       "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)")
    out = io.StringIO()
    supervisor = Supervisor([ChildSpec("stubborn", stubborn)], out=out, grace_s=30.0)
    supervisor.start()
    assert _wait(lambda: "ready" in out.getvalue())
    supervisor.stop()
    assert supervisor.stopping
    threading.Timer(0.5, supervisor.hurry).start()      # the operator presses Ctrl-C again
    started = time.monotonic()
    codes = supervisor.shutdown()
    assert time.monotonic() - started < 10 and codes == {"stubborn": -signal.SIGKILL}
    assert "stop requested again; killing it" in out.getvalue()


def test_every_start_and_exit_reaches_the_listener_and_a_failing_listener_changes_nothing():
    events = []

    def listener(event):
        events.append(event)
        raise RuntimeError("listener bug")

    out = io.StringIO()
    supervisor = Supervisor([ChildSpec("crashy", _python("raise SystemExit(3)"))], out=out,
                            backoff=lambda: Backoff(initial_s=0.2, max_s=0.2), grace_s=2.0, on_event=listener)
    supervisor.start()
    child = supervisor.children["crashy"]
    try:
        assert _wait(lambda: (supervisor.poll(), child.starts >= 2)[1])
    finally:
        before = len(events)
        supervisor.shutdown()
    assert len(events) == before                     # stopping the stack is no exit event
    kinds = [(e.kind, e.name, e.starts) for e in events[:3]]
    assert kinds == [(EventKind.STARTED, "crashy", 1), (EventKind.EXITED, "crashy", 1), (EventKind.STARTED, "crashy", 2)]
    exited = events[1]
    assert exited.exit_code == 3 and exited.restart_in_s == 0.2 and exited.uptime_s >= 0
    assert exited.pid == events[0].pid != events[2].pid
    assert "event listener failed on exited crashy: RuntimeError: listener bug" in out.getvalue()


def test_a_child_runs_at_its_cpu_priority(tmp_path):
    import os

    out = io.StringIO()
    code = "import os, time; print('nice', os.nice(0), flush=True); time.sleep(30)"
    supervisor = Supervisor([ChildSpec("world", _python(code), nice=5), ChildSpec("ears", _python(code))],
                            out=out, grace_s=2.0)
    supervisor.start()
    try:
        assert _wait(lambda: (supervisor.poll(), out.getvalue().count("nice") == 2)[1])
    finally:
        supervisor.shutdown()
    mine = os.nice(0)
    assert f"[world] nice {mine + 5}" in out.getvalue() and f"[ears] nice {mine}" in out.getvalue(), out.getvalue()


def test_the_robots_own_nodes_come_before_vision_and_the_world():
    from carebot import bringup

    nice = {spec.name: spec.nice for spec in bringup.NODES}
    assert nice["speech"] == nice["brain"] == nice["base_safety"] == nice["dashboard"] == 0
    assert nice["perception"] > 0 and nice["sim"] > 0
