"""A small process supervisor: start children, restart crashed ones, stop them cleanly.

Pure Python (no rclpy): ``carebot up`` gives it one command line per node. A child
that exits while the supervisor runs is restarted after a back-off delay that doubles
with each quick crash and resets once the child has stayed up for a while, so a node
that cannot start does not spin the CPU. Stopping sends SIGINT to every child (rclpy's
clean shutdown), SIGTERM after half a grace period, then kills what is left.
"""
from __future__ import annotations

import ctypes
import enum
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, TextIO

# Back-off defaults: first restart after 1 s, doubling to at most 30 s; a child that
# ran 30 s without crashing starts again from 1 s.
INITIAL_BACKOFF_S = 1.0
BACKOFF_FACTOR = 2.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 30.0
STOP_GRACE_S = 10.0        # SIGINT, SIGTERM at half of it, SIGKILL at the end
POLL_PERIOD_S = 0.1
_PR_SET_PDEATHSIG = 1      # linux prctl: signal the child when the supervisor dies


@dataclass
class Backoff:
    """Restart delays: grows with quick successive crashes, resets after a stable run."""

    initial_s: float = INITIAL_BACKOFF_S
    factor: float = BACKOFF_FACTOR
    max_s: float = MAX_BACKOFF_S
    stable_after_s: float = STABLE_AFTER_S
    _next_s: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.factor < 1 or self.max_s < self.initial_s:
            raise ValueError("back-off needs initial_s > 0, factor >= 1, max_s >= initial_s")
        self._next_s = self.initial_s

    def delay_after(self, uptime_s: float) -> float:
        """Seconds to wait before restarting a child that ran ``uptime_s`` seconds."""
        if uptime_s >= self.stable_after_s:
            self._next_s = self.initial_s
        delay = self._next_s
        self._next_s = min(self._next_s * self.factor, self.max_s)
        return delay


class ChildState(enum.Enum):
    RUNNING = "running"
    WAITING = "waiting"      # crashed, restart scheduled
    STOPPED = "stopped"


@dataclass(frozen=True)
class ChildSpec:
    """One supervised command."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] | None = None
    nice: int = 0                      # CPU priority increment of the child (0: the supervisor's)


@dataclass
class Child:
    spec: ChildSpec
    backoff: Backoff
    proc: subprocess.Popen | None = None
    state: ChildState = ChildState.STOPPED
    started_at: float = 0.0
    restart_at: float = 0.0
    starts: int = 0
    last_exit: int | None = None


class EventKind(enum.Enum):
    STARTED = "started"      # first start or a restart
    EXITED = "exited"        # ended on its own while the supervisor runs (not at shutdown)


@dataclass(frozen=True)
class ChildEvent:
    """What happened to a child, for a listener (``carebot up``'s SYSTEM alerts)."""

    kind: EventKind
    name: str
    at: float                          # the supervisor's clock, s
    starts: int                        # starts so far, this one included
    pid: int | None = None
    exit_code: int | None = None       # EXITED: Popen return code (negative: signal)
    uptime_s: float = 0.0              # EXITED: how long it ran
    restart_in_s: float | None = None  # EXITED: the back-off before the restart


def describe_exit(code: int) -> str:
    """'exit code 1' or 'signal SIGKILL' for a Popen return code."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


try:  # loaded before any fork: the child must not dlopen while other threads held locks
    _LIBC_PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: children may outlive a killed supervisor
    _LIBC_PRCTL = None


def _prepare_child(nice: int) -> None:
    """In the child before exec: its CPU priority, and death with the supervisor."""
    if nice:
        os.nice(nice)
    _die_with_parent()


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the supervisor itself is killed.

    Linux sends it when the forking *thread* ends, so children are spawned only from
    the thread that runs ``Supervisor.run``.
    """
    if _LIBC_PRCTL is not None:
        _LIBC_PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


class Supervisor:
    """Runs children until ``stop()``; restarts those that exit on their own."""

    def __init__(self, specs: Sequence[ChildSpec], *, out: TextIO | None = None,
                 backoff: Callable[[], Backoff] = Backoff, grace_s: float = STOP_GRACE_S,
                 clock: Callable[[], float] = time.monotonic, log_dir: Path | None = None,
                 on_event: Callable[[ChildEvent], None] | None = None):
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate child names: {names}")
        self.children = {spec.name: Child(spec, backoff()) for spec in specs}
        self._out = out or sys.stdout
        self._grace_s = grace_s
        self._clock = clock
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._print_lock = threading.Lock()
        self._out_closed = False
        self._log_dir = Path(log_dir) if log_dir else None
        self._on_event = on_event
        if self._log_dir:
            self._log_dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ output
    def _write(self, text: str) -> None:
        """Write to the terminal; a closed one (``carebot up | head``) is ignored, never
        fatal: nodes must keep running and their pipes keep being drained."""
        with self._print_lock:
            if self._out_closed:
                return
            try:
                self._out.write(text)
                self._out.flush()
            except (OSError, ValueError):
                self._out_closed = True

    def log(self, message: str) -> None:
        self._write(f"[carebot up] {message}\n")

    def _tell(self, event: ChildEvent) -> None:
        """Hand an event to the listener; its failure is logged, never stops supervision."""
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception as exc:  # noqa: BLE001 - a listener bug must not end the stack
            self.log(f"event listener failed on {event.kind.value} {event.name}: {type(exc).__name__}: {exc}")

    def _forward(self, name: str, stream) -> None:
        """Copy one child's output line by line, prefixed with its name (and to its log file)."""
        log = open(self._log_dir / f"{name}.log", "a", encoding="utf-8") if self._log_dir else None
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self._write(f"[{name}] {line}\n")
                if log:
                    log.write(line + "\n")
                    log.flush()
        finally:
            stream.close()
            if log:
                log.close()

    # ------------------------------------------------------------------ control
    def _spawn(self, child: Child) -> None:
        env = dict(os.environ if child.spec.env is None else child.spec.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        child.proc = subprocess.Popen(child.spec.argv, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      start_new_session=True,
                                      preexec_fn=functools.partial(_prepare_child, child.spec.nice))
        child.state = ChildState.RUNNING
        child.started_at = self._clock()
        child.starts += 1
        threading.Thread(target=self._forward, args=(child.spec.name, child.proc.stdout),
                         name=f"out-{child.spec.name}", daemon=True).start()
        verb = "started" if child.starts == 1 else f"restarted (start {child.starts})"
        self.log(f"{verb} {child.spec.name} (pid {child.proc.pid})")
        self._tell(ChildEvent(EventKind.STARTED, child.spec.name, child.started_at, child.starts,
                              pid=child.proc.pid))

    def start(self) -> None:
        for child in self.children.values():
            self._spawn(child)

    def poll(self) -> None:
        """Notice exits and run due restarts; called every POLL_PERIOD_S."""
        now = self._clock()
        for child in self.children.values():
            if child.state is ChildState.RUNNING and child.proc.poll() is not None:
                child.last_exit = child.proc.returncode
                uptime = now - child.started_at
                delay = child.backoff.delay_after(uptime)
                child.state = ChildState.WAITING
                child.restart_at = now + delay
                self.log(f"{child.spec.name} stopped ({describe_exit(child.last_exit)}) after "
                         f"{uptime:.1f} s; restarting in {delay:.1f} s")
                self._tell(ChildEvent(EventKind.EXITED, child.spec.name, now, child.starts, pid=child.proc.pid,
                                      exit_code=child.last_exit, uptime_s=uptime, restart_in_s=delay))
            elif child.state is ChildState.WAITING and now >= child.restart_at and not self._stop.is_set():
                self._spawn(child)

    def run(self) -> None:
        """Start everything, supervise until stop() is called, then shut down."""
        self.start()
        try:
            while not self._stop.wait(POLL_PERIOD_S):
                self.poll()
        finally:
            self.shutdown()

    def stop(self) -> None:
        """Ask run() to end (safe from a signal handler or another thread)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def hurry(self) -> None:
        """Kill the nodes now instead of waiting out the grace (a second Ctrl-C)."""
        self._hurry.set()
        self._stop.set()

    def shutdown(self) -> dict[str, int | None]:
        """Stop every running child as ``ros2 launch`` does: SIGINT to the node, SIGTERM
        after half the grace period, SIGKILL to its whole process group at the end."""
        self._stop.set()
        running = [c for c in self.children.values() if c.proc is not None and c.proc.poll() is None]
        if running:
            self.log(f"stopping {', '.join(c.spec.name for c in running)}")
        for child in running:
            _signal(child.proc, signal.SIGINT, group=False)
        started = time.monotonic()
        escalated = False
        while any(c.proc.poll() is None for c in running) and not self._hurry.is_set():
            waited = time.monotonic() - started
            if waited >= self._grace_s:
                break
            if not escalated and waited >= self._grace_s / 2:
                escalated = True
                for child in running:
                    if child.proc.poll() is None:
                        self.log(f"{child.spec.name} still running {waited:.0f} s after SIGINT; sending SIGTERM")
                        _signal(child.proc, signal.SIGTERM, group=False)
            time.sleep(POLL_PERIOD_S)
        for child in running:
            if child.proc.poll() is None:
                why = "stop requested again" if self._hurry.is_set() else \
                    f"ignored SIGINT and SIGTERM for {self._grace_s:.0f} s"
                self.log(f"{child.spec.name} {why}; killing it")
            # the group too: helpers a node started (a model server) must not outlive it
            _signal(child.proc, signal.SIGKILL)
            child.proc.wait()
        codes = {}
        for child in self.children.values():
            child.state = ChildState.STOPPED
            codes[child.spec.name] = child.proc.returncode if child.proc else None
        if running:
            self.log("all nodes stopped")
        return codes


def _signal(proc: subprocess.Popen, sig: int, group: bool = True) -> None:
    """Signal the child, or its whole process group (a node may have helpers of its own)."""
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.send_signal(sig)
