"""A worker thread's loop that outlives its own failures.

A thread whose loop raises dies quietly while its node goes on reporting that all is well:
the speech node's capture thread once died this way (a bug, 5 Dec) and the robot "listened"
deaf for the rest of the run. ``run_restarting`` reports each failure and runs the loop again.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


def run_restarting(loop: Callable[[], None], running: threading.Event,
                   on_failure: Callable[[Exception], None], pause_s: float = 1.0) -> int:
    """Run ``loop`` until it returns (finished, or ``running`` was cleared). When it raises,
    ``on_failure`` hears the exception and, after ``pause_s`` (no busy loop on a failure that
    repeats), ``loop`` runs again from its start while ``running`` is set. Returns the number
    of failures."""
    failures = 0
    while running.is_set():
        try:
            loop()
            return failures
        except Exception as exc:
            failures += 1
            on_failure(exc)
            time.sleep(pause_s)
    return failures
