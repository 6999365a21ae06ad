"""``fleet_fall``: two robots in one care home, one busy fetching water; a resident falls.

Two simulations of the same site, one robot in each (the simulator carries one robot; on two
cores a second full stack would not fit): each robot's stack runs in its own ROS domain, as
two robots' computers do, and each joins the fleet through its fleet bridge over Zenoh to
one ``carebot fleet serve`` (router + fleet view) on loopback (plain tcp: TLS and access
control are tested in tests/integration/test_fleet_link.py). The runner starts robot_b's
stack like any scenario's (sim with the camera at 2 Hz, perception, base_safety, navigator,
fleet_bridge); this script starts the fleet view and robot_a's stack (sim without camera,
base_safety, navigator, the brain without an LLM, fleet_bridge) and stops them again.

What must happen: robot_a is asked for water and sets off for the kitchen; the resident
falls in front of robot_b's camera; perception raises one FALL alert; the fleet offers the
incident to robot_b (free), not robot_a (busy with its errand); robot_b drives to the
resident; robot_a reaches the kitchen and comes back; the fleet view lists both robots and
exactly one alert; a nurse acknowledges it in the fleet view and robot_b's own graph hears
the acknowledgement. The robots cannot see each other (two simulations).
"""
from __future__ import annotations

import copy
import json
import math
import socket
import threading
import urllib.request
from pathlib import Path

import yaml

from carebot.alert_enums import AlertKind, AlertState
from carebot.scenarios.scenario import ScenarioContext, ScenarioFailed, ScenarioSpec, place_distance

SITE_ID = "care_home_1"
RESIDENT = (2.6, 4.0)
ROBOT_B_START = (5.6, 3.4, 180.0)          # the lounge, facing the resident (resident_fall's view)
ROBOT_A_START = (13.0, 7.0, 0.0)           # the corridor (the visitor stands in the dining-room door)
ROBOT_A_NODES = ("sim", "base_safety", "navigator", "brain", "fleet_bridge")
ROBOT_B_NODES = ("sim", "perception", "base_safety", "navigator", "fleet_bridge")
NEAR_PERSON_M = 1.6
HOME_M = 1.5
PASSWORD = "fleet-demo-nurse-pass"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ROUTER_PORT = _free_port()        # chosen when the catalogue is read: robot_b's parameters name it


def bridge_params(robot: str) -> dict[str, object]:
    return {"enabled": True, "site_id": SITE_ID, "robot_id": robot, "world": "care_home",
            "router": [f"tcp/127.0.0.1:{ROUTER_PORT}"], "own_incidents_by_brain": False}


class _FleetView:
    """The fleet view over HTTP, logged in as the scenario's nurse."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.cookie = ""

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json", "Cookie": self.cookie})
        with urllib.request.urlopen(request, timeout=10) as response:
            cookie = response.headers.get("Set-Cookie")
            if cookie:
                self.cookie = cookie.split(";")[0]
            return json.loads(response.read() or b"{}")

    def login(self) -> bool:
        try:
            self.call("POST", "/api/login", {"user": "nurse", "password": PASSWORD})
            return True
        except OSError:
            return False

    def state(self) -> dict:
        return self.call("GET", "/api/fleet")


def _start_fleet_view(out: Path):
    from carebot.dashboard.auth import hash_password
    from carebot.scenarios.ros_env import isolated_env, python_module, start

    http_port = _free_port()
    config = out / "fleet.yaml"
    config.write_text(yaml.safe_dump({"fleet_server": {"ros__parameters": {
        "listen": [f"tcp/127.0.0.1:{ROUTER_PORT}"], "http_port": http_port, "database": str(out / "fleet.sqlite3"),
        "staff_accounts": [f"nurse:{hash_password(PASSWORD)}"], "title": "carebot fleet (fleet_fall)"}}}))
    proc = start(python_module("carebot.cli", "fleet", "serve", "--config", str(config)), isolated_env(),
                 out / "fleet.log")
    return proc, _FleetView(http_port)


def _robot_a_stack(ctx: ScenarioContext):
    """robot_a's stack in its own ROS domain, under a Supervisor in a thread (as the runner's)."""
    from carebot import bringup
    from carebot.launcher.cli import node_command
    from carebot.launcher.supervisor import ChildSpec, Supervisor
    from carebot.scenarios.ros_env import isolated_env

    out = ctx.out_dir
    params = yaml.safe_load(bringup.site_config("care_home").read_text(encoding="utf-8"))
    params = copy.deepcopy(params)
    x, y, yaw = ROBOT_A_START
    overrides = {
        "sim": {"site": "care_home", "robot_start": f"{x:g} {y:g} {yaw:g}", "camera_enabled": False,
                "audio_enabled": False, "actors_file": str(out / "actors.yaml")},
        "brain": {"llm_enabled": False, "use_embeddings": False, "safety_similarity": False},
        "fleet_bridge": bridge_params("robot_a"),
    }
    for node, values in overrides.items():
        params.setdefault(node, {}).setdefault("ros__parameters", {}).update(values)
    path = out / "params_robot_a.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True), encoding="utf-8")
    plan = bringup.launch_plan(site="care_home", sim=True, config=path, only=list(ROBOT_A_NODES))
    env = isolated_env(MUJOCO_GL="osmesa", HF_HUB_OFFLINE="1")
    log = open(out / "stack_robot_a.log", "w", encoding="utf-8")
    supervisor = Supervisor([ChildSpec(f"a.{launch.spec.name}", tuple(node_command(launch)), env=env,
                                       nice=launch.spec.nice)
                             for launch in plan], out=log, grace_s=10.0)
    thread = threading.Thread(target=supervisor.run, name="stack-robot_a", daemon=True)
    thread.start()
    return supervisor, thread, log, int(env["ROS_DOMAIN_ID"])


def fleet_fall(ctx: ScenarioContext) -> None:
    from carebot.scenarios.client import StackClient
    from carebot.scenarios.ros_env import stop

    fleet_proc, view = _start_fleet_view(ctx.out_dir)
    supervisor, thread, log, domain = _robot_a_stack(ctx)
    client_a = StackClient(domain, name="scenario_runner_a")
    try:
        _run(ctx, view, client_a, supervisor)
    finally:
        try:
            (ctx.out_dir / "fleet_view.json").write_text(json.dumps(view.state(), indent=1, default=str))
        except Exception:           # the view may be down already: the failure says why
            pass
        client_a.close()
        supervisor.stop()
        thread.join(timeout=30)
        log.close()
        stop(fleet_proc, timeout=15)


def _run(ctx: ScenarioContext, view: _FleetView, client_a, supervisor_a) -> None:
    client_b = ctx.client
    ctx.wait("the fleet view serves", view.login, 60)
    crashed = lambda: [c.spec.name for c in supervisor_a.children.values() if c.starts > 1]   # noqa: E731

    def a_ready() -> bool:
        if crashed():
            raise ScenarioFailed(f"robot_a's node(s) crashed: {crashed()} (stack_robot_a.log)")
        diagnostics = client_a.state.diagnostics
        names = [f"carebot/{n}" for n in ROBOT_A_NODES]
        return client_a.state.pose is not None and all(n in diagnostics and diagnostics[n][0] in (0, 1)
                                                       for n in names if n != "carebot/fleet_bridge")
    ctx.wait("robot_a's stack is up", a_ready, 240)

    def robots(state):
        return {r["robot"]: r for r in state["robots"]}
    ctx.wait("the fleet view shows both robots online",
             lambda: {"robot_a", "robot_b"} <= {n for n, r in robots(view.state()).items() if r["online"]}, 60)

    # robot_a's errand: the brain plans and carries out a fetch (rules, no LLM).
    from carebot_interfaces.srv import Ask

    ctx.check("robot_a's brain answers", client_a.ask_client.wait_for_service(timeout_sec=30.0))
    t_ask_a = client_a.state.sim_time
    client_a.ask_client.call_async(Ask.Request(text="Please bring me a glass of water.", person="visitor",
                                               execute=True))
    ctx.log("a visitor asks robot_a for a glass of water", "action")

    def a_sets_off():
        return any("kitchen" in t for t in client_a.tasks_since(t_ask_a))
    ctx.wait("robot_a sets off for the kitchen", a_sets_off, 60)
    ctx.wait("the fleet view shows robot_a busy", lambda: robots(view.state())["robot_a"]["busy"], 30)

    t_fall = client_b.control("fall", actor="resident")
    client_a.control("fall", actor="resident")            # the same resident in robot_a's simulation
    ctx.log("the resident falls in the lounge", "action")
    alert = ctx.wait("robot_b's perception raises a FALL alert",
                     lambda: next((r for r in client_b.alerts(AlertKind.FALL, AlertState.RAISED)
                                   if r.sim_time >= t_fall), None), 60)
    ctx.metric("fall_to_alert", alert.sim_time - t_fall, "s")
    decision = ctx.wait("the fleet offers the incident to a robot",
                        lambda: next((d for d in view.state()["decisions"]
                                      if d["alert_id"] == alert.msg.id and d["text"].startswith("offered to")), None), 30)
    ctx.log(f"dispatch: {decision['text']}; ranked: {decision['ranked']}")
    ctx.check("the free robot (robot_b) is sent, not the busy one", decision["robot"] == "robot_b", decision["text"])
    ranked = {r["robot"]: r for r in decision["ranked"]}
    ctx.check("robot_a was seen busy", "robot_a" in ranked and not ranked["robot_a"]["free"], str(ranked))
    if ranked["robot_a"]["length"] is not None:
        ctx.metric("path_robot_a_m", ranked["robot_a"]["length"], "m")
    ctx.metric("path_robot_b_m", ranked["robot_b"]["length"], "m")

    def a_never_tasked():
        task = robots(view.state())["robot_a"]["fleet_task"]
        if task is not None and task.get("kind") == "attend":
            raise ScenarioFailed(f"robot_a was given the incident: {task}")
        return True
    rx, ry = RESIDENT

    def b_arrived():
        a_never_tasked()
        return client_b.distance_to(rx, ry) < NEAR_PERSON_M
    ctx.wait("robot_b drives to the resident", b_arrived, 120)
    ctx.metric("alert_to_robot_b_at_resident", ctx.now - alert.sim_time, "s")
    ctx.frame("robot_b_at_resident")

    def a_at_kitchen():
        # Anywhere on its path since it was asked: on a loaded machine robot_b's fall alert can
        # take long enough for robot_a to reach the kitchen and leave it before this step starts.
        a_never_tasked()
        with client_a.lock:
            path = [(x, y, 0.0) for t, x, y in client_a.state.path if t >= t_ask_a]
        return any(place_distance(ctx.world, "kitchen", pose) < 1.2 for pose in path)
    ctx.wait("robot_a reaches the kitchen (its errand goes on)", a_at_kitchen, 300)
    x0, y0, _ = ROBOT_A_START

    def a_home():
        a_never_tasked()
        pose = client_a.state.pose
        return (pose is not None and math.hypot(pose[0] - x0, pose[1] - y0) < HOME_M
                and abs(client_a.state.speed[0]) < 0.05 and client_a.state.status is not None
                and not client_a.state.status.current_task)
    ctx.wait("robot_a comes back with the water (errand finished)", a_home, 300)

    state = view.state()
    listed = robots(state)
    ctx.check("the fleet view shows both robots", set(listed) == {"robot_a", "robot_b"}, str(sorted(listed)))
    ctx.check("... and exactly one alert", len(state["alerts"]) == 1,
              str([(a["id"], a["kind"], a["robot"]) for a in state["alerts"]]))
    only = state["alerts"][0]
    ctx.check("the alert is robot_b's fall", only["kind"] == "FALL" and only["robot"] == "robot_b"
              and only["id"] == alert.msg.id, str(only))
    view.call("POST", f"/api/alerts/{alert.msg.id}/acknowledge", {"note": "on my way"})
    ctx.log("the nurse acknowledges the alert in the fleet view", "action")
    acked = ctx.wait("robot_b's own graph hears the nurse's acknowledgement",
                     lambda: next((r for r in client_b.alerts(AlertKind.FALL, AlertState.ACKNOWLEDGED)
                                   if r.msg.id == alert.msg.id), None), 30)
    ctx.check("acknowledged by the nurse", acked.msg.handled_by == "nurse", acked.msg.handled_by)


FLEET_FALL = ScenarioSpec(
    "fleet_fall", "Two robots: one fetches water, the free one goes to a fall", "care_home", ROBOT_B_NODES,
    robot_start=ROBOT_B_START, run=fleet_fall, actors={"resident": RESIDENT},
    # No lockstep: a simulation paused for perception leaves the lidar stale, base_safety reports
    # FAULT (ERROR), and an unhealthy robot is rightly not sent. Fewer frames, in real time.
    params={"sim": {"camera_rate_hz": 2.0}, "fleet_bridge": bridge_params("robot_b")},
    sim_budget_s=600.0)
