"""Simulation speed: real-time factor with and without camera rendering.

    MUJOCO_GL=osmesa .venv/bin/python benchmarks/sim_bench.py [--seconds 20] [--no-ros]

Part 1 (engine, no ROS): the sim node's loop in-process (100 Hz steps, lidar at
10 Hz, camera at 0 / 5 / 15 Hz, 640x480 and 320x240) run as fast as it goes, in
the care home with its people; prints sim seconds per wall second and the cost
of each part.
Part 2 (node, over DDS): the real sim node with real_time_factor 0 (unpaced),
camera off and on, read back from its /diagnostics real_time_factor.
Prints figures and ratios side by side; no pass/fail.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MUJOCO_GL", "osmesa")


def engine_rtf(seconds: float, camera_hz: float, size: tuple[int, int]) -> tuple[float, float]:
    """(real-time factor, ms per rendered frame) of the node's loop without ROS."""
    from carebot.paths import ROOT
    from carebot.sim.actors import load_actors
    from carebot.sim.engine import Simulation
    from carebot.sim.rates import Schedule
    from carebot.sim.robot import CameraSpec, read_description
    from carebot.sim.sensors import CameraRenderer
    from carebot.world import load_world

    description = read_description()
    cam = description.camera
    spec = CameraSpec(size[0], size[1], cam.hfov, cam.near, cam.far, camera_hz)
    sim = Simulation(load_world("care_home"), load_actors(ROOT / "models/actors/care_home.yaml"), description, spec,
                     robot_start=(5.6, 3.4, math.pi))
    renderer = CameraRenderer(sim.model, sim.camera_id, spec) if camera_hz > 0 else None
    scan, camera = Schedule(description.lidar.rate_hz), Schedule(camera_hz)
    render_s, frames = 0.0, 0
    if renderer:
        renderer.render(sim.data)              # first frame builds the GL context: not timed
    sim.actor("resident").walk([(2.0, 1.5), (2.0, 4.5)])
    start = time.perf_counter()
    while sim.time < seconds:
        sim.set_base_command(0.2, 0.1)
        sim.step()
        if scan.due(sim.time):
            sim.scan()
        if camera.due(sim.time):
            t0 = time.perf_counter()
            renderer.render(sim.data)
            render_s += time.perf_counter() - t0
            frames += 1
    wall = time.perf_counter() - start
    if renderer:
        renderer.close()
    return seconds / wall, (render_s / frames * 1000 if frames else 0.0)


def node_rtf(seconds: float, camera: bool) -> float:
    """Real-time factor the sim node reports on /diagnostics when unpaced."""
    from carebot.scenarios.client import StackClient
    from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for

    env = isolated_env(MUJOCO_GL=os.environ["MUJOCO_GL"])
    proc = start(python_module("carebot.sim.sim_node", "--ros-args", "-p", "real_time_factor:=0.0",
                               "-p", f"camera_enabled:={'true' if camera else 'false'}", "-p", "camera_rate_hz:=5.0"),
                 env)
    client = StackClient(int(env["ROS_DOMAIN_ID"]), name="sim_bench")
    try:
        wait_for(lambda: "carebot/sim" in client.state.diagnostics, 60)
        time.sleep(seconds)
        return float(client.state.diagnostics["carebot/sim"][2]["real_time_factor"])
    finally:
        client.close()
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="sim seconds per engine run (default 20)")
    parser.add_argument("--no-ros", action="store_true", help="skip the node-over-DDS part")
    args = parser.parse_args()
    print(f"GL backend: {os.environ['MUJOCO_GL']}; cores: {os.cpu_count()}; load: {os.getloadavg()[0]:.1f}")
    print("\nengine (no ROS), care home, 100 Hz steps + 10 Hz lidar:")
    print(f"{'camera':>22s} {'RTF':>8s} {'ms/frame':>9s} {'vs no camera':>13s}")
    base, _ = engine_rtf(args.seconds, 0.0, (640, 480))
    print(f"{'off':>22s} {base:8.1f} {'-':>9s} {1.0:13.2f}")
    for hz, size in ((5.0, (640, 480)), (15.0, (640, 480)), (5.0, (320, 240))):
        rtf, ms = engine_rtf(args.seconds, hz, size)
        print(f"{f'{size[0]}x{size[1]} @ {hz:g} Hz':>22s} {rtf:8.1f} {ms:9.1f} {rtf / base:13.2f}")
    if not args.no_ros:
        print("\nsim node over DDS, unpaced (real_time_factor 0), /clock 100 Hz, odom + joint_states 50 Hz:")
        off = node_rtf(10.0, camera=False)
        on = node_rtf(10.0, camera=True)
        print(f"{'camera off':>22s} {off:8.2f}")
        print(f"{'640x480 @ 5 Hz':>22s} {on:8.2f}   ratio {on / off if off else 0:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
