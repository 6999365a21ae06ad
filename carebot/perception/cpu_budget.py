"""A CPU budget for the inference worker: after each frame it rests long enough that the
process used at most ``cores`` of CPU over that frame's time (issue 18, two cores).

On the robot's two cores, vision that takes every camera frame runs at 1.3 cores and the
resident's question waits for CPU: end of speech -> reply went from 2.5 s to 3.8-4.9 s in
benchmarks/speech_reply_bench.py. Resting between frames drops frames instead (the worker
always takes the newest one), and fall timing is in seconds, not frames, so it holds at a
lower frame rate. CPU time is the whole process's (``time.process_time``): the inference
runtime's own threads count, which the worker thread's clock would miss.

While the speech node hears a person (``speech/hearing``), a smaller budget applies: a
resident waiting for an answer needs Whisper's CPU more than vision needs every frame.
``HearingBudget`` chooses the budget for the next rest; a hearing signal older than
``HEARING_MAX_S`` is not trusted (a speech node that died mid-utterance must not slow
vision for good).
"""
from __future__ import annotations

import time
from typing import Callable


class CpuBudget:
    """How long to rest after a frame so the process stays within ``cores`` (0 = no limit)."""

    def __init__(self, cores: float, wall_clock: Callable[[], float] = time.monotonic,
                 cpu_clock: Callable[[], float] = time.process_time):
        if cores < 0:
            raise ValueError(f"cpu budget must be >= 0 cores, got {cores!r}")
        self.cores = cores
        self._wall_clock = wall_clock
        self._cpu_clock = cpu_clock
        self._wall0 = self._cpu0 = 0.0

    def frame_started(self) -> None:
        self._wall0, self._cpu0 = self._wall_clock(), self._cpu_clock()

    def rest_s(self) -> float:
        """Seconds to rest now, after the frame started with frame_started()."""
        if self.cores == 0:
            return 0.0
        used = self._cpu_clock() - self._cpu0
        elapsed = self._wall_clock() - self._wall0
        return max(0.0, used / self.cores - elapsed)


HEARING_MAX_S = 30.0          # longer than any utterance (max_utterance_s 20 s) plus its recognition


class HearingBudget:
    """The budget for the next rest: ``hearing_cores`` while speech hears someone (0 = unchanged)."""

    def __init__(self, cores: float, hearing_cores: float, clock: Callable[[], float] = time.monotonic):
        if hearing_cores < 0:
            raise ValueError(f"hearing cpu budget must be >= 0 cores, got {hearing_cores!r}")
        self.cores = cores
        self.hearing_cores = hearing_cores
        self._clock = clock
        self._since: float | None = None

    def heard(self, hearing: bool) -> None:
        """speech/hearing changed."""
        self._since = self._clock() if hearing else None

    @property
    def hearing(self) -> bool:
        return self._since is not None and self._clock() - self._since < HEARING_MAX_S

    def now(self) -> float:
        if self.hearing_cores and self.hearing:
            return self.hearing_cores if not self.cores else min(self.cores, self.hearing_cores)
        return self.cores
