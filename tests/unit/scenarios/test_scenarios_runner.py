"""Scenario framework without ROS: parameter files the stack runs with, waiting in
sim time, metrics and checks, the report, and the scenario table itself."""
import time
import types

import pytest
import yaml

from carebot import bringup, config_check
from carebot.scenarios.report import write_report
from carebot.scenarios.runner import actors_file, merged_params
from carebot.scenarios.scenario import Event, Metric, ScenarioContext, ScenarioFailed, ScenarioResult
from carebot.scenarios.catalog import SCENARIOS, id_card_counter
from carebot.world import load_world, occupancy_grid


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_parameter_files_are_valid_and_carry_the_overrides(name, tmp_path):
    spec = SCENARIOS[name]
    path = merged_params(spec.site, spec, tmp_path)
    assert config_check.check_file(path) == []                      # the stack would start with it
    params = yaml.safe_load(path.read_text())
    sim = params["sim"]["ros__parameters"]
    x, y, yaw = (float(v) for v in sim["robot_start"].split())
    assert (x, y, yaw) == spec.robot_start
    if "speech" in spec.nodes:
        assert params["speech"]["ros__parameters"]["audio_source"] == "topic"
        assert params["speech"]["ros__parameters"]["playback"] == "none"
    for node in ("speech", "perception", "dashboard"):
        if node not in spec.nodes:                                   # untouched when not started
            assert params.get(node, {}).get("ros__parameters", {}).get("audio_source") != "topic"
    assert set(spec.nodes) <= {n.name for n in bringup.NODES} and "sim" in spec.nodes


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_poses_are_free_and_people_are_where_asked(name, tmp_path):
    spec = SCENARIOS[name]
    world = load_world(spec.site)
    grid = occupancy_grid(world)
    assert not grid.occupied(spec.robot_start[0], spec.robot_start[1])
    people = {a["name"]: a["pose"] for a in yaml.safe_load(actors_file(spec, tmp_path).read_text())["actors"]}
    for person, (px, py) in spec.actors.items():
        assert people[person][:2] == [px, py]
        assert not grid.occupied(px, py)


def test_the_hall_knowledge_names_a_counter_for_id_cards():
    assert id_card_counter() in load_world("public_hall").places


class FakeClient:
    """Sim time that advances by itself (a stand-in for the running stack)."""

    def __init__(self, rate: float = 20.0):
        self._t0 = time.monotonic()
        self._rate = rate
        self.state = types.SimpleNamespace(debug_image=None, image=None)

    @property
    def now(self):
        return (time.monotonic() - self._t0) * self._rate

    def __getattr__(self, name):
        raise AttributeError(name)


@pytest.fixture()
def ctx(tmp_path):
    client = FakeClient()
    client.state.sim_time = 0.0

    class State(types.SimpleNamespace):
        @property
        def sim_time(self):
            return client.now
    client.state = State(debug_image=None, image=None)
    spec = SCENARIOS["emergency_stop"]
    lines = []
    return ScenarioContext(spec, client, load_world(spec.site), tmp_path, ScenarioResult(spec.name, spec.title, spec.site),
                           progress=lines.append), lines


def test_wait_returns_the_value_and_times_out_in_sim_time(ctx):
    context, lines = ctx
    start = context.now
    assert context.wait("two sim seconds", lambda: context.now - start > 2.0 and "done", 10) == "done"
    with pytest.raises(ScenarioFailed, match="not within 1 s of sim time"):
        context.wait("never", lambda: False, 1.0)
    assert any("never" in line for line in lines)
    assert [e.kind for e in context.result.events][:2] == ["step", "ok"]


def test_hold_fails_when_the_condition_breaks(ctx):
    context, _ = ctx
    start = context.now
    context.hold("stays true", lambda: True, 1.0)
    with pytest.raises(ScenarioFailed, match="broken after"):
        context.hold("breaks", lambda: context.now - start < 1.5, 5.0)


def test_metrics_and_checks(ctx):
    context, _ = ctx
    assert context.metric("fall_to_alert", 4.0, "s", limit=5.0).passed is True
    assert context.metric("slow", 6.0, "s", limit=5.0).passed is False
    assert context.metric("info", 1.0, "m").passed is None
    with pytest.raises(ScenarioFailed, match="must hold: seen 3"):
        context.check("must hold", False, "seen 3")
    assert context.frame("nothing yet") is None                     # no image received: no file


def test_report_has_table_timeline_and_figures(tmp_path):
    passed = ScenarioResult("resident_fall", "A resident falls", "care_home", passed=True, sim_s=30.0, wall_s=90.0,
                            events=[Event(1.0, 2.0, "action", "the resident falls")],
                            metrics=[Metric("fall_to_alert", 4.0, "s", "< 5 s", True)],
                            path=[(t * 0.1, 5.6 - t * 0.01, 3.4) for t in range(100)])
    failed = ScenarioResult("fetch_water", "Water", "care_home", failure="the robot reaches the kitchen: not within 180 s")
    skipped = ScenarioResult("hall_id_card", "Hall", "public_hall", skipped="node(s) not built yet: brain")
    report = write_report([passed, failed, skipped], tmp_path)
    text = report.read_text()
    assert "| resident_fall | care_home | **passed** |" in text and "fall_to_alert 4 s (met < 5 s)" in text
    assert "**Failed:** the robot reaches the kitchen" in text and "Skipped: node(s) not built yet: brain" in text
    assert (tmp_path / "timings.png").stat().st_size > 1000
    assert (tmp_path / "resident_fall" / "path.png").stat().st_size > 1000
    assert not (tmp_path / "fetch_water" / "path.png").exists()      # nothing moved: no figure
    assert failed.status == "failed" and skipped.status == "skipped"


def test_demo_command_lists_and_refuses_unknown_scenarios(capsys):
    from carebot.cli import main

    assert main(["demo", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SCENARIOS)
    assert main(["demo", "--scenario", "moon_landing"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
