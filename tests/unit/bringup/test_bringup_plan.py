"""The launch plan both starters share, and the command lines `carebot up` builds from it."""
from pathlib import Path

import pytest
import yaml

from carebot import bringup
from carebot.launcher.cli import missing_modules, node_command


def test_plan_without_sim_has_no_sim_node_and_uses_wall_time():
    plan = bringup.launch_plan("care_home", sim=False)
    # the site file does not switch on the nodes that are off unless configured (the fleet bridge)
    assert [p.spec for p in plan] == [n for n in bringup.nodes_for(sim=False) if not n.enabled_by]
    assert all(not p.use_sim_time for p in plan)
    assert all(p.params_file == bringup.site_config("care_home") for p in plan)


def test_the_fleet_bridge_starts_only_when_its_section_enables_it(tmp_path):
    data = yaml.safe_load(bringup.site_config("care_home").read_text(encoding="utf-8"))
    for enabled, expected in ((False, False), (True, True), ("true", False)):   # a string is not a yes
        data["fleet_bridge"] = {"ros__parameters": {"enabled": enabled}}
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        names = [p.spec.name for p in bringup.launch_plan("care_home", config=path)]
        assert ("fleet_bridge" in names) is expected, enabled
    assert [p.spec.name for p in bringup.launch_plan("care_home", only=["fleet_bridge"])] == ["fleet_bridge"]


def test_plan_with_sim_adds_sim_and_sim_time():
    plan = bringup.launch_plan("public_hall", sim=True)
    assert "sim" in [p.spec.name for p in plan]
    assert all(p.use_sim_time for p in plan if p.spec.name != "base_safety")
    assert plan[0].params_file.name == "public_hall.yaml"


def test_base_safety_keeps_its_own_clock_under_sim_time():
    # Its watchdogs run on the steady clock and its status takes odometry's stamp: following
    # /clock would only wake it 10 times a second for nothing (docs/budget.md).
    launch = next(p for p in bringup.launch_plan("care_home", sim=True) if p.spec.name == "base_safety")
    assert not launch.use_sim_time and "use_sim_time:=false" in launch.ros_arguments()
    assert [s.name for s in bringup.NODES if not s.follows_sim_clock] == ["base_safety"]


def test_use_sim_time_override_and_config_file(tmp_path):
    cfg = tmp_path / "x.yaml"
    plan = bringup.launch_plan("care_home", sim=True, use_sim_time=False, config=cfg)
    assert all(not p.use_sim_time and p.params_file == cfg for p in plan)


def test_only_keeps_node_order_and_refuses_unknown_names():
    plan = bringup.launch_plan(only=["dashboard", "brain"])
    assert [p.spec.name for p in plan] == ["brain", "dashboard"]
    with pytest.raises(ValueError, match="known nodes"):
        bringup.launch_plan(only=["toaster"])


@pytest.mark.parametrize("given, expected", [("", ""), ("carebot", "/carebot"),
                                             ("/carebot/", "/carebot"), ("/a/b", "/a/b")])
def test_namespace_normalized(given, expected):
    assert bringup.normalize_namespace(given) == expected


def test_ros_arguments_carry_name_namespace_params_sim_time_and_remaps():
    spec = bringup.NodeSpec("dashboard", "dashboard_node", "carebot.dashboard.dashboard_node",
                            remappings=(("alerts", "staff/alerts"),))
    args = bringup.NodeLaunch(spec, Path("/cfg/site.yaml"), "/carebot", True).ros_arguments()
    assert args[0] == "--ros-args"
    pairs = list(zip(args, args[1:]))
    assert ("-r", "__node:=dashboard") in pairs
    assert ("-r", "__ns:=/carebot") in pairs
    assert ("--params-file", "/cfg/site.yaml") in pairs
    assert ("-p", "use_sim_time:=true") in pairs
    assert ("-r", "alerts:=staff/alerts") in pairs


def test_root_namespace_adds_no_ns_remap():
    args = bringup.launch_plan(only=["dashboard"])[0].ros_arguments()
    assert not any(a.startswith("__ns:=") for a in args)


@pytest.mark.parametrize("text, value", [("true", True), ("False", False), ("1", True), ("no", False)])
def test_parse_bool(text, value):
    assert bringup.parse_bool(text) is value


def test_parse_bool_refuses_other_words():
    with pytest.raises(ValueError, match="maybe"):
        bringup.parse_bool("maybe")


def test_node_command_uses_the_installed_console_script():
    launch = bringup.launch_plan(only=["dashboard"])[0]
    command = node_command(launch)
    assert Path(command[0]).name == "dashboard_node"
    assert command[1:] == launch.ros_arguments()


def test_node_command_falls_back_to_the_module_main(tmp_path):
    launch = bringup.launch_plan(only=["dashboard"])[0]
    command = node_command(launch, python=str(tmp_path / "python"))
    assert command[1] == "-c" and command[3] == "carebot.dashboard.dashboard_node"


def test_missing_modules_are_named():
    plan = bringup.launch_plan(only=["dashboard"])
    assert missing_modules(plan) == []
    ghost = bringup.NodeLaunch(bringup.NodeSpec("ghost", "ghost_node", "carebot.nothing.ghost_node"),
                               Path("x.yaml"), "", False)
    assert missing_modules([ghost]) == ["ghost (carebot.nothing.ghost_node)"]


def test_up_dry_run_prints_one_command_per_node(capsys):
    from carebot.cli import main

    assert main(["up", "--only", "dashboard", "--namespace", "ward1", "--dry-run"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("dashboard: ") and "__ns:=/ward1" in out[0]


def test_namespace_gets_a_rewritten_parameter_file(tmp_path):
    source = tmp_path / "site.yaml"
    source.write_text("dashboard:\n  ros__parameters:\n    port: 9000\n/**:\n  ros__parameters:\n    use_sim_time: false\n")
    plan = bringup.launch_plan(config=source, namespace="ward1", only=["dashboard"], params_dir=tmp_path / "p")
    launch = plan[0]
    assert launch.config_file == source and launch.params_file.parent == tmp_path / "p"
    data = yaml.safe_load(launch.params_file.read_text())
    assert data == {"/ward1/dashboard": {"ros__parameters": {"port": 9000}},
                    "/**": {"ros__parameters": {"use_sim_time": False}}}
    assert ("--params-file", str(launch.params_file)) in list(zip(launch.ros_arguments(), launch.ros_arguments()[1:]))


def test_config_check_reads_namespaced_sections(tmp_path):
    from carebot import config_check

    path = tmp_path / "ns.yaml"
    path.write_text("/ward1/dashboard:\n  ros__parameters:\n    port: 99999\n")
    issues = config_check.check_file(path)
    assert [i.key for i in issues] == ["/ward1/dashboard.port"]
