"""World files: the MJCF compiles on its own; the Gazebo SDF worlds and robot pass
SDFormat's own validator (`ign sdf -k`) and a broken file does not; the committed
Gazebo files are what the generator makes now."""
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import pytest

from carebot.sim.actors import load_actors
from carebot.sim.world_mjcf import world_mjcf_xml
from carebot.sim.world_sdf import GAZEBO_DIR, SdfError, check_sdf, export, robot_sdf, world_sdf
from carebot.world import load_world

ROOT = Path(__file__).resolve().parents[3]
needs_ign = pytest.mark.skipif(shutil.which("ign") is None and shutil.which("gz") is None,
                               reason="Gazebo's SDFormat tools (ignition-tools, libsdformat-dev) are not installed")


@pytest.mark.parametrize("site", ["care_home", "public_hall"])
def test_mjcf_world_compiles_with_every_wall_and_person(site):
    world = load_world(site)
    actors = load_actors(ROOT / "models" / "actors" / f"{site}.yaml")
    xml = world_mjcf_xml(world, actors)
    model = mujoco.MjModel.from_xml_string(xml)
    names = [model.geom(i).name for i in range(model.ngeom)]
    assert sum(n.startswith("wall_") for n in names) == len(world.walls)
    assert sum(n.startswith("furniture_") for n in names) == len(world.furniture)
    assert model.nmocap == len(actors) >= 2


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export(tmp_path_factory.mktemp("gazebo"), check=False)   # checked once, below


@needs_ign
def test_generated_sdf_passes_ign_sdf_check(exported):
    assert {p.name for p in exported} == {"care_home.sdf", "public_hall.sdf", "model.sdf"}
    for path in exported:
        check_sdf(path)                                  # raises with ign's output on failure


@needs_ign
def test_sdf_world_has_the_sites_walls_furniture_and_people(exported):
    world = load_world("care_home")
    root = ET.parse(next(p for p in exported if p.name == "care_home.sdf")).getroot()
    models = {m.get("name"): m for m in root.iter("model")}
    assert len(models["walls"].findall("link")) == len(world.walls)
    assert all(box.name in models for box in world.furniture)
    people = [m for name, m in models.items() if name.startswith("person_")]
    assert people and all(m.find(".//albedo_map").text.startswith("model://") for m in people)


@needs_ign
def test_robot_sdf_has_the_plugins_that_make_the_sim_topics():
    root = ET.fromstring(robot_sdf())
    plugins = {p.get("filename"): p for p in root.iter("plugin")}
    assert plugins["gz-sim-odometry-publisher-system"].find("odom_topic").text == "odom"
    assert plugins["gz-sim-odometry-publisher-system"].find("odom_frame").text == "map"
    assert plugins["gz-sim-diff-drive-system"].find("topic").text == "cmd_vel"
    assert plugins["gz-sim-joint-state-publisher-system"].find("topic").text == "joint_states"
    topics = {t.text for t in root.iter("topic")}
    assert {"scan", "camera/image_raw", "arm_controller/joint_trajectory", "head_controller/joint_trajectory"} <= topics


@needs_ign
def test_broken_sdf_is_rejected(tmp_path):
    bad = tmp_path / "bad.sdf"
    bad.write_text(world_sdf(load_world("care_home")).replace("<box>", "<bx>", 1))
    with pytest.raises(SdfError):
        check_sdf(bad)


@needs_ign
def test_committed_gazebo_files_are_current(exported):
    for path in exported:
        committed = GAZEBO_DIR / path.relative_to(path.parents[1])
        assert committed.read_text() == path.read_text(), (
            f"{committed} is stale: run `python -m carebot.sim.world_sdf`")


def test_bridge_config_maps_the_sim_topics():
    import yaml

    entries = yaml.safe_load((ROOT / "config" / "ros_gz_bridge.yaml").read_text())
    by_topic = {e["ros_topic_name"]: e for e in entries}
    for topic in ("/clock", "odom", "joint_states", "scan", "camera/image_raw", "camera/camera_info"):
        assert by_topic[topic]["direction"] == "GZ_TO_ROS"
    for topic in ("cmd_vel", "arm_controller/joint_trajectory", "head_controller/joint_trajectory"):
        assert by_topic[topic]["direction"] == "ROS_TO_GZ"
    interfaces = (ROOT / "docs" / "interfaces.md").read_text()
    for topic in by_topic:
        assert f"`{topic}`" in interfaces, f"{topic} is not in the topic contract"
