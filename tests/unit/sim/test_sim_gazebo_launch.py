"""launch/gazebo.launch.py without the launch wheels (none exist for pip): loaded
against a minimal stand-in of the launch API (a boundary that cannot run here), it
must start Gazebo on the generated world, spawn the generated robot at the site's
start, bridge with config/ros_gz_bridge.yaml and run the stack without the sim node."""
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from carebot.world import load_world

ROOT = Path(__file__).resolve().parents[3]


class _Recorder:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _Config:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


@pytest.fixture()
def launch_description(monkeypatch, tmp_path):
    mods = {name: types.ModuleType(name) for name in (
        "launch", "launch.actions", "launch.substitutions", "launch.launch_description_sources",
        "launch_ros", "launch_ros.actions", "ament_index_python", "ament_index_python.packages")}
    mods["launch"].LaunchDescription = lambda entities: list(entities)
    for name in ("DeclareLaunchArgument", "OpaqueFunction", "IncludeLaunchDescription", "SetEnvironmentVariable"):
        setattr(mods["launch.actions"], name, type(name, (_Recorder,), {}))
    mods["launch.substitutions"].LaunchConfiguration = _Config
    mods["launch.launch_description_sources"].PythonLaunchDescriptionSource = type("Source", (_Recorder,), {})
    mods["launch_ros.actions"].Node = type("Node", (_Recorder,), {})
    mods["ament_index_python.packages"].get_package_share_directory = lambda pkg: str(tmp_path / pkg)
    for name, module in mods.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("gazebo_launch", ROOT / "launch" / "gazebo.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _run(description, **values):
    declared = {e.args[0]: e.kwargs for e in description if type(e).__name__ == "DeclareLaunchArgument"}
    context = {name: kw["default_value"] for name, kw in declared.items()} | values
    assert all(len(kw["description"]) > 15 for kw in declared.values())
    opaque = next(e for e in description if type(e).__name__ == "OpaqueFunction")
    return opaque.kwargs["function"](context)


@pytest.mark.parametrize("site", ["care_home", "public_hall"])
def test_gazebo_launch_wires_world_robot_bridge_and_stack(launch_description, site):
    actions = _run(launch_description, site=site)
    includes = [a for a in actions if type(a).__name__ == "IncludeLaunchDescription"]
    gz = includes[0].kwargs["launch_arguments"]
    world_file = Path(dict(gz)["gz_args"].split()[-1])
    assert world_file.name == f"{site}.sdf" and world_file.exists()
    nodes = {a.kwargs.get("executable"): a for a in actions if type(a).__name__ == "Node"}
    spawn = nodes["create"].kwargs["arguments"]
    assert Path(spawn[spawn.index("-file") + 1]).exists()
    x, y, yaw = load_world(site).robot_start
    assert float(spawn[spawn.index("-x") + 1]) == pytest.approx(x)
    assert float(spawn[spawn.index("-Y") + 1]) == pytest.approx(yaw, abs=1e-3)
    bridge = nodes["parameter_bridge"].kwargs["parameters"][0]
    assert Path(bridge["config_file"]) == ROOT / "config" / "ros_gz_bridge.yaml"
    stack = dict(includes[1].kwargs["launch_arguments"])
    assert stack["sim"] == "false" and stack["use_sim_time"] == "true" and stack["site"] == site
