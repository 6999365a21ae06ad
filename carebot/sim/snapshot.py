"""Render what the robot's camera sees in a scene, as PNG files (no ROS).

    python -m carebot.sim.snapshot --site care_home --robot 5.5 3.4 180 \
        --actor resident 2.2 4.6 --fall resident --seconds 1.5 --out fallen.png

Used by the tests (frames for the real YOLO model, which must run in another
process than MuJoCo's OSMesa renderer) and by the demo report.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from carebot.paths import ROOT
from carebot.sim.actors import load_actors
from carebot.sim.engine import Simulation
from carebot.sim.robot import CameraSpec, read_description
from carebot.sim.sensors import CameraRenderer
from carebot.world import load_world


def render_scene(site: str, robot: tuple[float, float, float] | None, actors: dict[str, tuple[float, float]],
                 falls: list[str], seconds: float, head_tilt: float = 0.0, size: tuple[int, int] | None = None):
    """RGB array of the camera after ``seconds`` of sim time (falls start at time 0)."""
    from carebot.sim.trajectory import make_trajectory

    world = load_world(site)
    people = load_actors(ROOT / "models" / "actors" / f"{world.name}.yaml")
    for actor in people:
        if actor.name in actors:
            actor.x, actor.y = actors[actor.name]
    description = read_description()
    cam = description.camera
    spec = CameraSpec(size[0], size[1], cam.hfov, cam.near, cam.far, cam.rate_hz) if size else cam
    sim = Simulation(world, people, description, spec,
                     robot_start=(robot[0], robot[1], math.radians(robot[2])) if robot else None)
    sim.step()
    if head_tilt:
        sim.follow(make_trajectory(["head_tilt_joint"], [(0.0, [head_tilt])], sim.time, set(sim.joints.limits)))
    for name in falls:
        sim.actor(name).fall(sim.camera_xy())
    while sim.time < seconds:
        sim.step()
    with CameraRenderer(sim.model, sim.camera_id, spec) as renderer:
        return renderer.render(sim.data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the robot camera's view of a scene to PNG.")
    parser.add_argument("--site", default="care_home")
    parser.add_argument("--robot", nargs=3, type=float, metavar=("X", "Y", "YAW_DEG"))
    parser.add_argument("--actor", nargs=3, action="append", default=[], metavar=("NAME", "X", "Y"),
                        help="move a person of the site's actors file")
    parser.add_argument("--fall", action="append", default=[], metavar="NAME", help="this person falls at t=0")
    parser.add_argument("--seconds", type=float, default=0.5, help="sim time before the frame (s)")
    parser.add_argument("--head-tilt", type=float, default=0.0, help="rad, + looks down")
    parser.add_argument("--size", nargs=2, type=int, metavar=("W", "H"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from PIL import Image

    pixels = render_scene(args.site, tuple(args.robot) if args.robot else None,
                          {name: (float(x), float(y)) for name, x, y in args.actor}, args.fall, args.seconds,
                          args.head_tilt, tuple(args.size) if args.size else None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
