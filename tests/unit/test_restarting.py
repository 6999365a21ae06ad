import threading

from carebot.restarting import run_restarting


def _running():
    event = threading.Event()
    event.set()
    return event


def test_a_failing_loop_is_reported_and_run_again_until_it_returns():
    calls, failures = [], []

    def loop():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError(f"bad block {len(calls)}")

    assert run_restarting(loop, _running(), failures.append, pause_s=0.0) == 2
    assert len(calls) == 3
    assert [str(f) for f in failures] == ["bad block 1", "bad block 2"]


def test_no_restart_once_running_is_cleared():
    running, calls = _running(), []

    def loop():
        calls.append(1)
        running.clear()                     # shutting down while it fails
        raise RuntimeError("device gone")

    assert run_restarting(loop, running, lambda exc: None, pause_s=0.0) == 1
    assert len(calls) == 1


def test_a_loop_that_returns_runs_once():
    calls = []
    assert run_restarting(lambda: calls.append(1), _running(), lambda exc: None) == 0
    assert calls == [1]
