"""Scenario framework: what a scenario is, what it records, how it waits and checks.

A scenario is data (site, nodes, robot start, where the people are, parameter
overrides, a sim-time budget) plus a script: a function that drives the
simulation through a ``ScenarioContext`` (people fall, people speak) and
checks outcomes on the running stack. Everything is timed in sim seconds (the
stack runs on /clock); wall seconds are recorded next to them.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable


class ScenarioFailed(AssertionError):
    """An expected outcome did not happen; the message says which and what was seen."""


@dataclass
class Event:
    sim_time: float          # s on /clock
    wall_s: float            # s since the scenario started
    kind: str                # step, ok, fail, info, action
    text: str


@dataclass
class Metric:
    name: str
    value: float
    unit: str
    target: str = ""         # e.g. "< 5 s"
    passed: bool | None = None


@dataclass
class ScenarioResult:
    name: str
    title: str
    site: str
    passed: bool = False
    skipped: str = ""        # reason when not run
    failure: str = ""
    events: list[Event] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    path: list[tuple[float, float, float]] = field(default_factory=list)
    real_time_factor: float = 0.0
    wall_s: float = 0.0
    sim_s: float = 0.0
    startup_wall_s: float = 0.0

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else ("passed" if self.passed else "failed")

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def to_json(self) -> str:
        data = asdict(self)
        data["status"] = self.status
        return json.dumps(data, indent=2, default=float)


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    title: str
    site: str
    nodes: tuple[str, ...]                              # node names of carebot.bringup to start
    robot_start: tuple[float, float, float]             # x, y (m), yaw (deg)
    run: Callable[["ScenarioContext"], None]
    actors: dict[str, tuple[float, float]] = field(default_factory=dict)   # person -> feet x, y
    params: dict[str, dict[str, object]] = field(default_factory=dict)     # node -> overrides
    sim_budget_s: float = 120.0                         # the whole script, sim seconds
    # Site parameter file (config/<config>.yaml) when not the site's own: another site in the
    # same building (care_home_gz: the care home in Chinese).
    config: str = ""


class ScenarioContext:
    """What a scenario script uses: the stack client, the world, recording and waiting."""

    POLL_S = 0.05

    def __init__(self, spec: ScenarioSpec, client, world, out_dir: Path, result: ScenarioResult,
                 progress: Callable[[str], None] = print, min_rtf: float = 0.15):
        self.spec = spec
        self.client = client
        self.world = world
        self.out_dir = Path(out_dir)
        self.result = result
        self._progress = progress
        self._wall0 = time.monotonic()
        self._min_rtf = min_rtf      # the wall-clock guard: sim time must advance at least this fast

    # ------------------------------------------------------------------ time
    @property
    def now(self) -> float:
        return self.client.state.sim_time

    def wall(self) -> float:
        return time.monotonic() - self._wall0

    # ------------------------------------------------------------------ recording
    def log(self, text: str, kind: str = "info") -> None:
        event = Event(round(self.now, 3), round(self.wall(), 3), kind, text)
        self.result.events.append(event)
        mark = {"ok": "ok  ", "fail": "FAIL", "step": "... ", "action": ">>  "}.get(kind, "    ")
        self._progress(f"[{self.spec.name}] t={event.sim_time:7.2f}s (wall {event.wall_s:6.1f}s) {mark} {text}")

    def metric(self, name: str, value: float, unit: str, limit: float | None = None) -> Metric:
        """Record a figure; with ``limit``, it passes when value < limit."""
        passed = None if limit is None else bool(value < limit)
        metric = Metric(name, round(float(value), 3), unit, f"< {limit:g} {unit}" if limit is not None else "", passed)
        self.result.metrics.append(metric)
        self.log(f"{name} = {value:.2f} {unit}" + (f" (target {metric.target}: {'met' if passed else 'MISSED'})"
                                                   if limit is not None else ""), "ok" if passed is not False else "fail")
        return metric

    def frame(self, name: str) -> str | None:
        """Save the newest camera frame (perception's annotated one when there is one) as PNG."""
        from PIL import Image as PILImage

        from carebot.image_convert import image_to_bgr   # numpy only: no model is loaded

        msg = self.client.state.debug_image or self.client.state.image
        if msg is None:
            return None
        try:
            pixels = image_to_bgr(msg)[:, :, ::-1]
        except ValueError as exc:
            self.log(f"frame {name} not saved: {exc}")
            return None
        path = self.out_dir / f"frame_{len(self.result.frames) + 1:02d}_{name}.png"
        PILImage.fromarray(pixels).save(path)
        self.result.frames.append(path.name)
        return path.name

    # ------------------------------------------------------------------ waiting and checking
    def wait(self, description: str, predicate: Callable[[], object], sim_timeout: float):
        """Wait until predicate() is truthy (returns its value) or fail after sim_timeout sim seconds.

        A wall-clock guard ends the wait too when sim time stalls (a dead simulator).
        """
        self.log(description, "step")
        start_sim, start_wall = self.now, time.monotonic()
        wall_limit = sim_timeout / self._min_rtf + 30.0
        while True:
            value = predicate()
            if value:
                self.log(f"{description}: done after {self.now - start_sim:.2f} s", "ok")
                return value
            if self.now - start_sim > sim_timeout or time.monotonic() - start_wall > wall_limit:
                raise ScenarioFailed(f"{description}: not within {sim_timeout:g} s of sim time "
                                     f"(waited {self.now - start_sim:.1f} sim s, {time.monotonic() - start_wall:.1f} wall s)")
            time.sleep(self.POLL_S)

    def hold(self, description: str, predicate: Callable[[], object], sim_duration: float) -> None:
        """Require predicate() to stay truthy for sim_duration sim seconds."""
        self.log(description, "step")
        start_sim, start_wall = self.now, time.monotonic()
        while self.now - start_sim < sim_duration:
            if not predicate():
                raise ScenarioFailed(f"{description}: broken after {self.now - start_sim:.2f} s")
            if time.monotonic() - start_wall > sim_duration / self._min_rtf + 30.0:
                raise ScenarioFailed(f"{description}: sim time stalled")
            time.sleep(self.POLL_S)
        self.log(f"{description}: held for {sim_duration:g} s", "ok")

    def check(self, description: str, condition: bool, detail: str = "") -> None:
        if not condition:
            raise ScenarioFailed(f"{description}" + (f": {detail}" if detail else ""))
        self.log(description + (f" ({detail})" if detail else ""), "ok")

    def sleep(self, sim_seconds: float) -> None:
        start = self.now
        self.wait(f"let {sim_seconds:g} s pass", lambda: self.now - start >= sim_seconds, sim_seconds + 5.0)


def place_distance(world, name: str, pose: tuple[float, float, float] | None) -> float:
    """Distance (m) from a pose to a named place of the world."""
    place = world.places[name]
    return math.inf if pose is None else math.hypot(pose[0] - place.x, pose[1] - place.y)
