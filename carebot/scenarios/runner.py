"""Run one scenario: start the stack against the simulation, run the script, stop.

The node set comes from ``carebot.bringup.launch_plan`` (the same plan ``carebot
up`` and the launch files use) restricted to the scenario's nodes; the site's
parameter file is copied with the scenario's overrides (robot start, people,
simulated microphone, no loudspeaker, a free dashboard port). The processes run
under ``carebot.launcher``'s Supervisor in a private DDS domain
(``carebot.scenarios.ros_env.isolated_env``); a node that crashes fails the
scenario. Everything a run writes goes to its output folder.
"""
from __future__ import annotations

import copy
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from carebot import bringup
from carebot.launcher.cli import missing_modules, node_command
from carebot.launcher.supervisor import ChildSpec, Supervisor
from carebot.paths import ROOT
from carebot.scenarios.scenario import ScenarioContext, ScenarioFailed, ScenarioResult, ScenarioSpec
from carebot.scenarios.ros_env import isolated_env, start, stop
from carebot.world import load_world

READY_WALL_S = 240.0          # models load on a busy 2-core CI machine: be patient, then fail clearly
STOP_GRACE_S = 10.0
OK_LEVELS = (0, 1)            # diagnostic levels that count as "up" (OK, WARN)

# Every scenario runs the simulated robot like this, whatever the site file says.
STACK_OVERRIDES: dict[str, dict[str, object]] = {
    "speech": {"audio_source": "topic", "playback": "none"},
    "perception": {"publish_debug_image": True},     # annotated frames for the report
    "dashboard": {"port": 0},
}


@dataclass(frozen=True)
class BagRequest:
    """How a scenario is recorded into ``<out>/bag`` (carebot bag record, docs/bag.md).

    By default every topic but the private ones (camera images, raw audio), as anyone's
    recording; ``include`` names private topics to record too (a test that replays the
    camera into perception names camera/image_raw).
    """

    enabled: bool = True
    include: tuple[str, ...] = ()


BAG_FOLDER = "bag"
RECORDER_NICE = 5
BAG_STOP_S = 30.0            # the recorder closes its file on SIGINT; a large chunk to compress takes a moment


def recorder_command(out_dir: Path, params: Path, request: BagRequest) -> list[str]:
    """``carebot bag record`` for a scenario: sim time, the scenario's parameter file for the retention."""
    command = [sys.executable, "-m", "carebot.cli", "bag", "record", "--out", str(out_dir / BAG_FOLDER),
               "--use-sim-time", "--config", str(params)]
    if request.include:
        command += ["--include", *request.include]
    return command


def _remove_old_bag(folder: Path) -> None:
    """A previous run's bag in the scenario's folder goes, as its frames and result do; only a bag
    folder (metadata.yaml or .mcap files and nothing else) is removed."""
    if not folder.is_dir():
        return
    names = {p.name for p in folder.iterdir()}
    if names and all(n == "metadata.yaml" or n.endswith((".mcap", ".yaml.tmp")) for n in names):
        shutil.rmtree(folder)


def merged_params(site: str, spec: ScenarioSpec, out_dir: Path) -> Path:
    """The site's parameter file (the scenario's ``config`` when it names one) plus the scenario's
    overrides, written to out_dir/params.yaml."""
    with open(bringup.site_config(spec.config or site), encoding="utf-8") as handle:
        params = yaml.safe_load(handle) or {}
    params = copy.deepcopy(params)
    x, y, yaw = spec.robot_start
    overrides: dict[str, dict[str, object]] = copy.deepcopy(STACK_OVERRIDES)
    overrides.setdefault("sim", {}).update(
        {"site": site, "robot_start": f"{x:g} {y:g} {yaw:g}", "actors_file": str(actors_file(spec, out_dir))})
    overrides.setdefault("dashboard", {})["database"] = str(out_dir / "dashboard.sqlite3")
    for node, values in spec.params.items():
        overrides.setdefault(node, {}).update(values)
    for node, values in overrides.items():
        if node not in spec.nodes:
            continue
        section = params.setdefault(node, {}).setdefault("ros__parameters", {})
        section.update(values)
    path = out_dir / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def actors_file(spec: ScenarioSpec, out_dir: Path) -> Path:
    """The site's people, moved where the scenario wants them."""
    source = ROOT / "models" / "actors" / f"{spec.site}.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8")) if source.exists() else {"actors": []}
    for item in data.get("actors", []):
        if item["name"] in spec.actors:
            x, y = spec.actors[item["name"]]
            item["pose"] = [x, y, item["pose"][2]]
    path = out_dir / "actors.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _health_name(node: str) -> str:
    return f"carebot/{node}"


def run_scenario(spec: ScenarioSpec, out_dir: Path, progress: Callable[[str], None] = print,
                 bag: BagRequest = BagRequest()) -> ScenarioResult:
    """Start the stack, run the scenario's script, stop everything; never raises for a failed scenario.

    The run is recorded into ``out_dir/bag`` (``bag``: what, or nothing); the recorder starts
    with the stack and stops before it, so the bag ends with the scenario.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ScenarioResult(spec.name, spec.title, spec.site)
    params = merged_params(spec.site, spec, out_dir)
    plan = bringup.launch_plan(site=spec.site, sim=True, config=params, only=list(spec.nodes))
    missing = missing_modules(plan)
    if missing:
        result.skipped = f"node(s) not built yet: {', '.join(missing)}"
        progress(f"[{spec.name}] skipped: {result.skipped}")
        (out_dir / "result.json").write_text(result.to_json(), encoding="utf-8")
        return result

    env = isolated_env(MUJOCO_GL="osmesa", HF_HUB_OFFLINE="1")   # with the stack's DDS profile
    domain = int(env["ROS_DOMAIN_ID"])
    log_path = out_dir / "stack.log"
    log = open(log_path, "w", encoding="utf-8")
    supervisor = Supervisor([ChildSpec(launch.spec.name, tuple(node_command(launch)), env=env, nice=launch.spec.nice)
                             for launch in plan],
                            out=log, grace_s=STOP_GRACE_S)
    # The children die with the thread that started them (PDEATHSIG): it lives until stop().
    thread = threading.Thread(target=supervisor.run, name=f"stack-{spec.name}", daemon=True)
    wall0 = time.monotonic()
    progress(f"[{spec.name}] {spec.title}: starting {', '.join(spec.nodes)} (DDS domain {domain}, log {log_path})")
    thread.start()
    recorder = None
    if bag.enabled:
        _remove_old_bag(out_dir / BAG_FOLDER)
        # A recording must never slow the robot's reactions: below the nodes' priority.
        recorder = start(["nice", "-n", str(RECORDER_NICE), *recorder_command(out_dir, params, bag)], env,
                         out_dir / "bag.log")
        progress(f"[{spec.name}] recording to {out_dir / BAG_FOLDER} (log {out_dir / 'bag.log'})")

    from carebot.scenarios.client import StackClient   # rclpy only once a stack is started

    client = StackClient(domain)
    world = load_world(spec.site)
    ctx = ScenarioContext(spec, client, world, out_dir, result, progress)
    sim_start = 0.0
    try:
        _wait_ready(spec, client, supervisor, ctx)
        result.startup_wall_s = round(time.monotonic() - wall0, 1)
        sim_start = client.state.sim_time
        ctx.log(f"stack ready after {result.startup_wall_s:.1f} s (wall)", "ok")
        monitor = _CrashMonitor(supervisor)
        spec.run(_Guarded(ctx, monitor))
        monitor.check()
        result.passed = True
        ctx.log("scenario passed", "ok")
    except ScenarioFailed as exc:
        result.failure = str(exc)
        ctx.log(f"scenario failed: {exc}", "fail")
        ctx.frame("at_failure")
    except Exception as exc:   # a bug in the runner or a script: report it as a failure, with the stack log
        result.failure = f"{type(exc).__name__}: {exc}"
        ctx.log(f"scenario error: {result.failure}", "fail")
    finally:
        sim_rtf = client.state.diagnostics.get(_health_name("sim"), (0, "", {}, 0))[2].get("real_time_factor", "0")
        result.real_time_factor = float(sim_rtf)
        result.sim_s = round(max(0.0, client.state.sim_time - sim_start), 2)
        with client.lock:
            result.path = list(client.state.path)
        client.close()
        if recorder is not None:
            code = stop(recorder, timeout=BAG_STOP_S)
            progress(f"[{spec.name}] bag {out_dir / BAG_FOLDER}: " + ("closed" if code == 0 else
                                                                       f"recorder exit {code} (see bag.log)"))
        supervisor.stop()
        thread.join(timeout=STOP_GRACE_S + 10)
        log.close()
        result.wall_s = round(time.monotonic() - wall0, 1)
        (out_dir / "result.json").write_text(result.to_json(), encoding="utf-8")
        progress(f"[{spec.name}] {result.status.upper()} in {result.wall_s:.0f} s wall, {result.sim_s:.1f} s sim"
                 + (f": {result.failure}" if result.failure else ""))
    return result


def _wait_ready(spec: ScenarioSpec, client, supervisor: Supervisor, ctx: ScenarioContext) -> None:
    """Every node reports itself up on /diagnostics and the simulation clock runs."""
    ctx.log(f"waiting for {', '.join(spec.nodes)} to report ready", "step")
    deadline = time.monotonic() + READY_WALL_S
    pending = set(spec.nodes)
    while time.monotonic() < deadline:
        crashed = [c.spec.name for c in supervisor.children.values() if c.starts > 1]
        if crashed:
            raise ScenarioFailed(f"node(s) crashed during start: {', '.join(crashed)} (see stack.log)")
        diagnostics = dict(client.state.diagnostics)
        for name in list(pending):
            entry = diagnostics.get(_health_name(name))
            if entry is not None and entry[0] in OK_LEVELS:
                pending.discard(name)
                ctx.log(f"{name}: {entry[1]}")
        if not pending and client.state.sim_time > 0 and client.state.pose is not None:
            if "perception" not in spec.nodes or client.state.persons_seen > 0:
                return
        time.sleep(0.2)
    states = {n: client.state.diagnostics.get(_health_name(n), (None, "no diagnostics"))[:2] for n in sorted(pending)}
    raise ScenarioFailed(f"stack not ready after {READY_WALL_S:.0f} s: {states}")


class _CrashMonitor:
    """Fails the scenario when the supervisor had to restart a node."""

    def __init__(self, supervisor: Supervisor):
        self.supervisor = supervisor

    def check(self) -> None:
        crashed = [f"{c.spec.name} (exit {c.last_exit})" for c in self.supervisor.children.values() if c.starts > 1]
        if crashed:
            raise ScenarioFailed(f"node(s) crashed and were restarted: {', '.join(crashed)} (see stack.log)")


class _Guarded:
    """The context as the script sees it: every wait also checks that no node crashed."""

    def __init__(self, ctx: ScenarioContext, monitor: _CrashMonitor):
        self._ctx = ctx
        self._monitor = monitor

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def wait(self, description, predicate, sim_timeout):
        def guarded():
            self._monitor.check()
            return predicate()
        return self._ctx.wait(description, guarded, sim_timeout)

    def hold(self, description, predicate, sim_duration):
        def guarded():
            self._monitor.check()
            return predicate()
        return self._ctx.hold(description, guarded, sim_duration)
