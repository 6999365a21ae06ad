"""launch/*.launch.py without the launch wheels (they do not exist for pip): the files
are loaded against a minimal stand-in of the launch API (a boundary that cannot run
here), and the nodes they would start must equal carebot.bringup's plan."""
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import yaml

from carebot import bringup, config_check
from carebot.launcher.cli import node_command

LAUNCH_DIR = Path(__file__).resolve().parents[3] / "launch"


class _Recorder:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.launch_configurations[self.name]


def _fake_launch_modules():
    mods = {name: types.ModuleType(name) for name in (
        "launch", "launch.actions", "launch.substitutions", "launch.launch_description_sources",
        "launch_ros", "launch_ros.actions")}
    mods["launch"].LaunchDescription = type("LaunchDescription", (), {
        "__init__": lambda self, entities: setattr(self, "entities", list(entities))})
    for name in ("DeclareLaunchArgument", "OpaqueFunction", "IncludeLaunchDescription", "SetEnvironmentVariable"):
        setattr(mods["launch.actions"], name, type(name, (_Recorder,), {}))
    mods["launch.substitutions"].LaunchConfiguration = LaunchConfiguration
    mods["launch.launch_description_sources"].PythonLaunchDescriptionSource = type(
        "PythonLaunchDescriptionSource", (_Recorder,), {})
    mods["launch_ros.actions"].Node = type("Node", (_Recorder,), {})
    return mods


@pytest.fixture()
def load(monkeypatch):
    for name, module in _fake_launch_modules().items():
        monkeypatch.setitem(sys.modules, name, module)

    def _load(filename):
        spec = importlib.util.spec_from_file_location(filename.replace(".", "_"), LAUNCH_DIR / filename)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.generate_launch_description()
    return _load


def _declared(description):
    return {e.args[0]: e.kwargs for e in description.entities if type(e).__name__ == "DeclareLaunchArgument"}


def _run_opaque(description, **overrides):
    declared = _declared(description)
    context = types.SimpleNamespace(launch_configurations={
        **{name: kw["default_value"] for name, kw in declared.items()}, **overrides})
    opaque = [e for e in description.entities if type(e).__name__ == "OpaqueFunction"]
    assert len(opaque) == 1
    return opaque[0].kwargs["function"](context)


def _nodes(actions):
    return [a for a in actions if type(a).__name__ == "Node"]


def test_arguments_are_declared_with_descriptions(load):
    declared = _declared(load("bringup.launch.py"))
    assert {"site", "sim", "namespace", "use_sim_time", "config", "only"} <= set(declared)
    assert all(len(kw["description"]) > 15 for kw in declared.values())
    assert declared["site"]["default_value"] == "care_home"


@pytest.mark.parametrize("site, sim, namespace", [("care_home", "false", ""),
                                                 ("public_hall", "true", "carebot")])
def test_nodes_equal_the_bringup_plan_and_carebot_up(load, site, sim, namespace):
    nodes = _nodes(_run_opaque(load("bringup.launch.py"), site=site, sim=sim, namespace=namespace))
    plan = bringup.launch_plan(site=site, sim=sim == "true", namespace=namespace)
    assert [n.kwargs["name"] for n in nodes] == [p.spec.name for p in plan]
    for node, launch in zip(nodes, plan):
        kw = node.kwargs
        assert kw["package"] == "carebot" and kw["executable"] == launch.spec.executable
        assert kw["namespace"] == launch.namespace == bringup.normalize_namespace(namespace)
        params_file, overrides = kw["parameters"]
        assert overrides == {"use_sim_time": launch.use_sim_time}
        assert yaml.safe_load(Path(params_file).read_text()) == yaml.safe_load(launch.params_file.read_text())
        if namespace:   # sections renamed so that ROS applies them inside the namespace
            assert "/carebot/dashboard" in yaml.safe_load(Path(params_file).read_text())
        assert kw["remappings"] == list(launch.spec.remappings)
        assert kw["respawn"] is True
        # carebot up passes the very same parameters file, name and namespace
        command = node_command(launch)
        assert "--params-file" in command and f"__node:={kw['name']}" in command


def test_only_and_use_sim_time_override(load):
    nodes = _nodes(_run_opaque(load("bringup.launch.py"), sim="true", use_sim_time="false", only="dashboard"))
    assert [n.kwargs["name"] for n in nodes] == ["dashboard"]
    assert nodes[0].kwargs["parameters"][1] == {"use_sim_time": False}


def _environment(actions) -> dict:
    return dict(a.args for a in actions if type(a).__name__ == "SetEnvironmentVariable")


def test_nodes_get_the_dds_profile_and_the_site_domain_unless_set(load, monkeypatch, tmp_path):
    monkeypatch.delenv(bringup.DDS_PROFILE_VARIABLE, raising=False)
    monkeypatch.delenv("ROS_DOMAIN_ID", raising=False)
    env = _environment(_run_opaque(load("bringup.launch.py")))
    value = env["FASTRTPS_DEFAULT_PROFILES_FILE"]
    assert Path(value).name == "fastdds_large_messages.xml"
    assert "<segment_size>" in Path(value).read_text()        # the profile ships in config/
    assert "<interfaceWhiteList>" in Path(value).read_text()  # ... and keeps DDS on loopback
    site = yaml.safe_load((bringup.config_dir() / "care_home.yaml").read_text())
    assert env["ROS_DOMAIN_ID"] == str(site["supervisor"]["ros__parameters"]["ros_domain_id"]) != "0"
    own = tmp_path / "site_profile.xml"
    monkeypatch.setenv(bringup.DDS_PROFILE_VARIABLE, str(own))
    monkeypatch.setenv("ROS_DOMAIN_ID", "7")
    env = _environment(_run_opaque(load("bringup.launch.py")))
    assert env == {"FASTRTPS_DEFAULT_PROFILES_FILE": str(own), "ROS_DOMAIN_ID": "7"}   # the operator's own win


def test_sros2_enclave_per_node_when_security_is_on(load, monkeypatch, tmp_path):
    from carebot import dds_confinement

    monkeypatch.setattr(dds_confinement, "dds_security_available", lambda: True)   # a full ROS 2 install
    monkeypatch.setenv("ROS_SECURITY_ENABLE", "true")
    monkeypatch.setenv("ROS_SECURITY_KEYSTORE", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"enclave /dashboard is missing .*create_enclave"):
        _run_opaque(load("bringup.launch.py"), only="dashboard")
    for name in dds_confinement.ENCLAVE_FILES:
        (tmp_path / "enclaves" / "carebot" / "dashboard").mkdir(parents=True, exist_ok=True)
        (tmp_path / "enclaves" / "carebot" / "dashboard" / name).write_text("x")
    [node] = _nodes(_run_opaque(load("bringup.launch.py"), only="dashboard", namespace="carebot"))
    assert node.kwargs["ros_arguments"] == ["--enclave", "/carebot/dashboard"]
    monkeypatch.delenv("ROS_SECURITY_ENABLE")
    [node] = _nodes(_run_opaque(load("bringup.launch.py"), only="dashboard"))
    assert node.kwargs["ros_arguments"] == []


def test_bad_config_stops_the_launch_naming_the_key(load, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dashboard:\n  ros__parameters:\n    port: -1\n")
    with pytest.raises(config_check.ConfigError, match=r"dashboard\.port: -1 is below the minimum 0"):
        _run_opaque(load("bringup.launch.py"), config=str(bad))


def test_sim_launch_includes_bringup_with_sim_on(load):
    description = load("sim.launch.py")
    include = [e for e in description.entities if type(e).__name__ == "IncludeLaunchDescription"]
    assert len(include) == 1
    source = include[0].args[0]
    assert Path(source.args[0]).name == "bringup.launch.py"
    arguments = dict(include[0].kwargs["launch_arguments"])
    assert arguments["sim"] == "true" and arguments["use_sim_time"] == "true"
    assert set(_declared(description)) <= set(_declared(load("bringup.launch.py")))
