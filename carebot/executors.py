"""A multi-threaded rclpy executor that waits for its workers instead of spinning.

rclpy 7.1 (the Jazzy wheels we pin) has a busy loop in ``MultiThreadedExecutor``
(ros2/rclpy#1452, fixed upstream by #1547 after these wheels): a task that sits in
the thread pool's queue is yielded again by ``wait_for_ready_callbacks`` on every
pass and submitted again each time, until a worker finally starts it. The spin
thread holds the GIL while it loops, so the workers start late and the loop feeds
itself: an idle node with a 20 Hz timer burns a whole core, and on a 2-core robot
computer the safety node's own watchdog ran a second late (measured; see
benchmarks/bench_executor.py).

``PooledExecutor`` keeps the same model (callbacks run in a pool of threads,
callback groups decide what may overlap) but submits each task once; while a
submitted task has not started, the spin thread sleeps on a condition that the
workers signal, so the pool gets the CPU.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, Union

from rclpy.context import Context
from rclpy.executors import (ConditionReachedException, Executor, ExternalShutdownException, ShutdownException,
                             TimeoutException, TimeoutObject)
from rclpy.task import Future, Task

# Longest the spin thread sleeps while a submitted task waits for a worker; a worker
# starting any task wakes it sooner. Short, so new work is never held up for long.
QUEUED_WAIT_S = 0.02


class PooledExecutor(Executor):
    """Runs callbacks in a pool of ``num_threads`` threads; each ready task is submitted once."""

    def __init__(self, num_threads: int = 2, *, context: Optional[Context] = None) -> None:
        super().__init__(context=context)
        if num_threads < 1:
            self.shutdown(0)
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        self._pool = ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="carebot-callback")
        self._queued: set[Task] = set()          # submitted, not yet started by a worker
        self._submitted: set[Task] = set()       # submitted, not yet seen done (their errors are raised)
        self._progress = threading.Condition()
        self.submissions = 0                     # tasks handed to the pool (a test and benchmark figure)

    # --- the Executor interface ------------------------------------------------------
    def spin_once(self, timeout_sec: Optional[float] = None) -> None:
        self._spin_once_impl(timeout_sec)

    def spin_once_until_future_complete(self, future: Future,
                                        timeout_sec: Optional[Union[float, TimeoutObject]] = None) -> None:
        future.add_done_callback(lambda _: self.wake())
        self._spin_once_impl(timeout_sec, future.done)

    def shutdown(self, timeout_sec: Optional[float] = None) -> bool:
        done = super().shutdown(timeout_sec)
        if hasattr(self, "_pool"):
            self._pool.shutdown(wait=False, cancel_futures=True)
        return done

    # --- the loop ----------------------------------------------------------------------
    def _spin_once_impl(self, timeout_sec: Optional[Union[float, TimeoutObject]] = None,
                        wait_condition: Callable[[], bool] = lambda: False) -> None:
        try:
            task, _, _ = self.wait_for_ready_callbacks(timeout_sec, None, wait_condition)
        except (ShutdownException, ExternalShutdownException, TimeoutException, ConditionReachedException):
            return
        with self._progress:
            if task in self._queued:
                # Yielded again only because no worker has taken it yet: give them the CPU.
                self._progress.wait(QUEUED_WAIT_S)
                return
            self._queued.add(task)
            self.submissions += 1
        self._submitted.add(task)
        self._pool.submit(self._run, task)
        self._raise_finished_errors()

    def _run(self, task: Task) -> None:
        with self._progress:
            self._queued.discard(task)
            self._progress.notify_all()
        task()

    def _raise_finished_errors(self) -> None:
        """A callback's exception ends spin(), as with rclpy's own executors."""
        finished = [t for t in self._submitted if t.done()]
        if not finished:
            return
        self._submitted.difference_update(finished)
        for task in finished:
            task.result()
