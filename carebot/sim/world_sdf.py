"""The same site worlds and robot, generated for Gazebo (SDFormat 1.9).

``python -m carebot.sim.world_sdf [--out models/gazebo]`` writes:

- ``worlds/<site>.sdf``: floor, walls (doors are the gaps), furniture, the site's
  people as static photo cut-outs (the same photographs as in MuJoCo), sun and
  ceiling lights, and the Gazebo systems the robot needs (physics, sensors,
  scene broadcaster, user commands);
- ``carebot/model.sdf`` + ``model.config``: the robot converted from
  ``urdf/carebot.urdf`` by Gazebo's own parser (``ign sdf -p``) with the plugins
  that give the topics of the MuJoCo sim node: ground-truth odometry in the map
  frame, joint states, diff drive on ``cmd_vel``, joint trajectory controllers;
- ``carebot_people/materials/textures/*.jpg``: the photo cut-outs.

``ign sdf -k`` (SDFormat's validator) checks every file in the tests.
"""
from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from carebot.paths import ROOT
from carebot.sim.actors import Actor, load_actors
from carebot.sim.assets import person_texture
from carebot.sim.robot import URDF_PATH, read_description
from carebot.sim.world_mjcf import FURNITURE_RGBA, WALL_RGBA
from carebot.world import World, available_sites, load_world

SDF_VERSION = "1.9"
GAZEBO_DIR = ROOT / "models" / "gazebo"
PEOPLE_MODEL = "carebot_people"
ROBOT_MODEL = "carebot"
ARM_JOINTS = ("arm_shoulder_pan_joint", "arm_shoulder_lift_joint", "arm_elbow_joint", "arm_wrist_1_joint",
              "arm_wrist_2_joint", "arm_wrist_3_joint", "gripper_finger_joint")
HEAD_JOINTS = ("head_pan_joint", "head_tilt_joint")


class SdfError(RuntimeError):
    """Gazebo's tools are missing or reject a file; the message carries their output."""


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    elem = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        elem.text = text
    return elem


def _pose(x: float, y: float, z: float, roll: float = 0.0, pitch: float = 0.0, yaw: float = 0.0) -> str:
    return " ".join(f"{v:.6g}" for v in (x, y, z, roll, pitch, yaw))


def _rgba(values) -> str:
    return " ".join(f"{v:.3g}" for v in values)


def _box_link(model: ET.Element, name: str, pose: str, size: tuple[float, float, float], rgba,
              texture: str | None = None, collide: bool = True) -> None:
    link = _sub(model, "link", name=name)
    _sub(link, "pose", pose)
    geometry_size = " ".join(f"{v:.6g}" for v in size)
    if collide:
        collision = _sub(link, "collision", name="collision")
        _sub(_sub(_sub(collision, "geometry"), "box"), "size", geometry_size)
    visual = _sub(link, "visual", name="visual")
    _sub(_sub(_sub(visual, "geometry"), "box"), "size", geometry_size)
    material = _sub(visual, "material")
    _sub(material, "ambient", _rgba(rgba))
    _sub(material, "diffuse", _rgba(rgba))
    if texture:
        metal = _sub(_sub(material, "pbr"), "metal")
        _sub(metal, "albedo_map", texture)


def world_sdf(world: World, actors: list[Actor] = (),
              texture_uri=lambda photo: f"model://{PEOPLE_MODEL}/materials/textures/person_{photo}.jpg") -> str:
    """SDF text of a site world (without the robot, which the launch file spawns)."""
    sdf = ET.Element("sdf", version=SDF_VERSION)
    w = _sub(sdf, "world", name=world.name)
    physics = _sub(w, "physics", name="1ms", type="ignored")
    _sub(physics, "max_step_size", "0.001")
    _sub(physics, "real_time_factor", "1.0")
    for filename, name in (("gz-sim-physics-system", "gz::sim::systems::Physics"),
                           ("gz-sim-user-commands-system", "gz::sim::systems::UserCommands"),
                           ("gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster"),
                           ("gz-sim-sensors-system", "gz::sim::systems::Sensors")):
        plugin = _sub(w, "plugin", filename=filename, name=name)
        if filename == "gz-sim-sensors-system":
            _sub(plugin, "render_engine", "ogre2")
    _sub(w, "gravity", "0 0 -9.81")
    scene = _sub(w, "scene")
    _sub(scene, "ambient", "0.6 0.6 0.6 1")
    _sub(scene, "background", "0.8 0.85 0.9 1")
    _sub(scene, "shadows", "false")
    sun = _sub(w, "light", type="directional", name="sun")
    _sub(sun, "cast_shadows", "false")
    _sub(sun, "pose", _pose(0, 0, 10))
    _sub(sun, "diffuse", "0.7 0.7 0.7 1")
    _sub(sun, "specular", "0.2 0.2 0.2 1")
    _sub(sun, "direction", "-0.3 0.2 -0.9")
    for i, (lx, ly) in enumerate(((world.width * fx, world.height * fy) for fx in (0.25, 0.75) for fy in (0.25, 0.75))):
        lamp = _sub(w, "light", type="point", name=f"ceiling_{i}")
        _sub(lamp, "pose", _pose(lx, ly, world.wall_height - 0.1))
        _sub(lamp, "diffuse", "0.5 0.5 0.5 1")
        attenuation = _sub(lamp, "attenuation")
        _sub(attenuation, "range", f"{max(world.width, world.height):.1f}")
        _sub(attenuation, "constant", "0.6")
        _sub(attenuation, "linear", "0.02")
        _sub(attenuation, "quadratic", "0.0")

    ground = _sub(w, "model", name="floor")
    _sub(ground, "static", "true")
    link = _sub(ground, "link", name="link")
    for tag in ("collision", "visual"):
        elem = _sub(link, tag, name=tag)
        plane = _sub(_sub(elem, "geometry"), "plane")
        _sub(plane, "normal", "0 0 1")
        _sub(plane, "size", f"{world.width + 2:.6g} {world.height + 2:.6g}")
        if tag == "collision":
            _sub(elem, "pose", _pose(world.width / 2, world.height / 2, 0))
        else:
            _sub(elem, "pose", _pose(world.width / 2, world.height / 2, 0))
            material = _sub(elem, "material")
            _sub(material, "ambient", "0.7 0.66 0.58 1")
            _sub(material, "diffuse", "0.7 0.66 0.58 1")

    walls = _sub(w, "model", name="walls")
    _sub(walls, "static", "true")
    half_t = world.wall_thickness / 2
    for i, wall in enumerate(world.walls):
        yaw = math.atan2(wall.y1 - wall.y0, wall.x1 - wall.x0)
        _box_link(walls, f"wall_{i}", _pose((wall.x0 + wall.x1) / 2, (wall.y0 + wall.y1) / 2, world.wall_height / 2,
                                            yaw=yaw),
                  (wall.length + 2 * half_t, world.wall_thickness, world.wall_height), WALL_RGBA)
    for i, box in enumerate(world.furniture):
        model = _sub(w, "model", name=box.name)
        _sub(model, "static", "true")
        _sub(model, "pose", _pose(box.cx, box.cy, box.sz / 2, yaw=box.yaw))
        _box_link(model, "link", _pose(0, 0, 0), (box.sx, box.sy, box.sz), FURNITURE_RGBA[i % len(FURNITURE_RGBA)])
    for actor in actors:
        # Gazebo's <actor> needs skinned meshes; a static photo cut-out is what the camera needs.
        centre, _ = actor.pose()
        rot = actor.rotation()
        model = _sub(w, "model", name=f"person_{actor.name}")
        _sub(model, "static", "true")
        _sub(model, "pose", _pose(centre[0], centre[1], centre[2], roll=math.atan2(rot[2, 1], rot[2, 2]),
                                  pitch=-math.asin(max(-1.0, min(1.0, rot[2, 0]))),
                                  yaw=math.atan2(rot[1, 0], rot[0, 0])))
        hx, hy, hz = actor.half_size()
        _box_link(model, "link", _pose(0, 0, 0), (2 * hx, 2 * hy, 2 * hz), (1, 1, 1, 1),
                  texture=texture_uri(actor.photo))
    ET.indent(sdf)
    return '<?xml version="1.0"?>\n' + ET.tostring(sdf, encoding="unicode") + "\n"


def ign_executable() -> str:
    exe = shutil.which("ign") or shutil.which("gz")
    if exe is None:
        raise SdfError("Gazebo's SDFormat tools are missing: apt-get install ignition-tools libsdformat-dev")
    return exe


def check_sdf(path: Path) -> str:
    """Run ``ign sdf -k`` on a file; returns its output, raises SdfError when it rejects the file."""
    proc = subprocess.run([ign_executable(), "sdf", "-k", str(path)], capture_output=True, text=True, timeout=120)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "Error" in proc.stdout:
        raise SdfError(f"ign sdf -k {path} failed:\n{output}")
    return output


def urdf_to_sdf(urdf: Path = URDF_PATH) -> str:
    """The robot converted by SDFormat's own URDF parser (``ign sdf -p``)."""
    proc = subprocess.run([ign_executable(), "sdf", "-p", str(urdf)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or "<sdf" not in proc.stdout:
        raise SdfError(f"ign sdf -p {urdf} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout[proc.stdout.find("<sdf"):]


def robot_sdf(urdf: Path = URDF_PATH) -> str:
    """The robot model for Gazebo: converted URDF plus the plugins that make the sim node's topics."""
    description = read_description(urdf)
    root = ET.fromstring(urdf_to_sdf(urdf))
    model = root.find("model")
    if model is None:
        raise SdfError(f"ign sdf -p {urdf}: no <model> in the output")
    model.set("name", ROBOT_MODEL)
    diff = _sub(model, "plugin", filename="gz-sim-diff-drive-system", name="gz::sim::systems::DiffDrive")
    _sub(diff, "left_joint", "left_wheel_joint")
    _sub(diff, "right_joint", "right_wheel_joint")
    _sub(diff, "wheel_separation", f"{description.wheel_separation:.6g}")
    _sub(diff, "wheel_radius", f"{description.wheel_radius:.6g}")
    _sub(diff, "topic", "cmd_vel")
    _sub(diff, "odom_topic", "wheel_odom")      # wheel odometry drifts; `odom` is ground truth below
    _sub(diff, "tf_topic", "wheel_odom/tf")
    _sub(diff, "frame_id", "odom")
    _sub(diff, "child_frame_id", "base_link")
    odom = _sub(model, "plugin", filename="gz-sim-odometry-publisher-system",
                name="gz::sim::systems::OdometryPublisher")
    _sub(odom, "odom_frame", "map")             # the world origin is the map origin
    _sub(odom, "robot_base_frame", "base_link")
    _sub(odom, "odom_topic", "odom")
    _sub(odom, "dimensions", "2")
    _sub(odom, "odom_publish_frequency", "50")
    states = _sub(model, "plugin", filename="gz-sim-joint-state-publisher-system",
                  name="gz::sim::systems::JointStatePublisher")
    _sub(states, "topic", "joint_states")
    for topic, joints in (("arm_controller/joint_trajectory", ARM_JOINTS), ("head_controller/joint_trajectory", HEAD_JOINTS)):
        ctrl = _sub(model, "plugin", filename="gz-sim-joint-trajectory-controller-system",
                    name="gz::sim::systems::JointTrajectoryController")
        _sub(ctrl, "topic", topic)
        for joint in joints:
            if joint not in description.joints:
                raise SdfError(f"{urdf}: joint {joint} is missing")
            _sub(ctrl, "joint_name", joint)
            _sub(ctrl, "initial_position", "0")
            _sub(ctrl, "position_p_gain", "200" if joint.startswith("arm") else "20")
            _sub(ctrl, "position_d_gain", "5" if joint.startswith("arm") else "0.5")
            _sub(ctrl, "position_i_gain", "0")
            _sub(ctrl, "position_cmd_max", "40")
            _sub(ctrl, "position_cmd_min", "-40")
    ET.indent(root)
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _model_config(name: str, description: str) -> str:
    return (f'<?xml version="1.0"?>\n<model>\n  <name>{name}</name>\n  <version>1.0</version>\n'
            f'  <sdf version="{SDF_VERSION}">model.sdf</sdf>\n  <description>{description}</description>\n</model>\n')


def _save_jpeg(png: Path, target: Path) -> None:
    """JPEG copy of a texture: a tenth of the PNG's size, so the generated folder can be committed."""
    from PIL import Image

    with Image.open(png) as image:
        image.convert("RGB").save(target, quality=88)


def export(out: Path = GAZEBO_DIR, sites: list[str] | None = None, check: bool = True) -> list[Path]:
    """Write worlds, robot and people textures for Gazebo under ``out``; returns the SDF files."""
    out = Path(out)
    written: list[Path] = []
    textures = out / PEOPLE_MODEL / "materials" / "textures"
    textures.mkdir(parents=True, exist_ok=True)
    (out / PEOPLE_MODEL / "model.config").write_text(
        _model_config(PEOPLE_MODEL, "Photo cut-outs of people (textures only)").replace(
            f'  <sdf version="{SDF_VERSION}">model.sdf</sdf>\n', ""), encoding="utf-8")
    (out / "worlds").mkdir(parents=True, exist_ok=True)
    for site in sites or available_sites():
        world = load_world(site)
        actors_file = ROOT / "models" / "actors" / f"{world.name}.yaml"
        actors = load_actors(actors_file) if actors_file.exists() else []
        for actor in actors:
            _save_jpeg(person_texture(actor.photo), textures / f"person_{actor.photo}.jpg")
        path = out / "worlds" / f"{world.name}.sdf"
        path.write_text(world_sdf(world, actors), encoding="utf-8")
        written.append(path)
    robot_dir = out / ROBOT_MODEL
    robot_dir.mkdir(parents=True, exist_ok=True)
    robot_path = robot_dir / "model.sdf"
    robot_path.write_text(robot_sdf(), encoding="utf-8")
    (robot_dir / "model.config").write_text(_model_config(ROBOT_MODEL, "carebot, from urdf/carebot.urdf"),
                                            encoding="utf-8")
    written.append(robot_path)
    if check:
        for path in written:
            check_sdf(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the Gazebo worlds and robot model (SDF) of carebot's sites.")
    parser.add_argument("--out", type=Path, default=GAZEBO_DIR, help="output folder (default models/gazebo)")
    parser.add_argument("--site", action="append", help="site to export (default: all)")
    parser.add_argument("--no-check", action="store_true", help="skip the `ign sdf -k` validation")
    args = parser.parse_args(argv)
    try:
        for path in export(args.out, args.site, check=not args.no_check):
            print(f"wrote {path}" + ("" if args.no_check else " (ign sdf -k: valid)"))
    except SdfError as exc:
        print(f"[sim] {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
