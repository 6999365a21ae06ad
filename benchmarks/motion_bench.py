"""Motion figures: planning time on both site maps, control loop rates, IK times.

Run: ``.venv/bin/python benchmarks/motion_bench.py`` (about 30 s on 2 cores). Prints
figures and ratios measured side by side in this one run; no pass/fail.
"""
from __future__ import annotations

import itertools
import math
import statistics
import time

import numpy as np

from carebot.motion.gestures import REST_ARM, REST_HEAD, GesturePlanner
from carebot.motion.navigation import Navigator
from carebot.motion.planner import CostMap, plan
from carebot.motion.safety import SafetyLayer, Source
from carebot.motion.scan import StaticMap, read_scan, scan_to_points, to_map
from carebot.world import load_world

CONTROL_PERIOD_S = 0.05          # the nodes' 20 Hz control loops


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def pct(values, q):
    return float(np.percentile(values, q))


def bench_planning() -> None:
    print("== global planning (A* on the inflated grid), every pair of places, both directions")
    for site in ("care_home", "public_hall"):
        world = load_world(site)
        build = timed(lambda: CostMap.from_world(world), 3)
        costmap = CostMap.from_world(world)
        times, expanded, lengths = [], [], []
        for a, b in itertools.permutations(world.places.values(), 2):
            start = time.perf_counter()
            result = plan(costmap, (a.x, a.y), (b.x, b.y))
            times.append(time.perf_counter() - start)
            expanded.append(result.expanded)
            lengths.append(result.length)
        ms = [t * 1000 for t in times]
        print(f"{site:12s} map {world.width:.0f}x{world.height:.0f} m, grid {costmap.shape[1]}x{costmap.shape[0]} "
              f"cells of {costmap.resolution} m; costmap build {min(build) * 1000:.0f} ms")
        print(f"{'':12s} {len(times)} plans: mean {statistics.mean(ms):.1f} ms, p95 {pct(ms, 95):.1f} ms, "
              f"max {max(ms):.1f} ms; mean path {statistics.mean(lengths):.1f} m, "
              f"mean cells expanded {statistics.mean(expanded):.0f} "
              f"({statistics.mean(expanded) / costmap.clearance.size:.0%} of the grid)")
        print(f"{'':12s} slowest plan / 20 Hz control period = {max(times) / CONTROL_PERIOD_S:.2f}")


def ring_scan(n=360, r=4.0):
    return [r] * n


def bench_control() -> None:
    print("== control loops (one step each, 360-beam scan)")
    world = load_world("care_home")
    costmap = CostMap.from_world(world)
    ranges = np.full(360, 3.0)
    ranges[170:190] = 1.2                                  # something ahead
    points, index = scan_to_points(ranges, -math.pi, 2 * math.pi / 360, 0.1, 12.0, (0.14, 0.0), 0.0, 0.25)
    static_map = StaticMap(world)
    layer = SafetyLayer()
    t = [0.0]

    def safety_step():
        t[0] += 0.05
        layer.scan(points, t[0], index, static_map.near_static(to_map(points, (1.0, 7.0, 0.0))))
        layer.persons(np.array([[2.0, 0.5]]), t[0])
        layer.command(Source.NAVIGATION, 0.5, 0.1, t[0])
        layer.step(t[0])

    safety = timed(safety_step, 2000)
    # What base_safety runs since issue 12: every beam classified (REP 117), the travel
    # sectors checked for coverage, too-close beams kept; side by side with the points-only step.
    layer_beams = SafetyLayer()
    tb = [0.0]

    def safety_beams_step():
        tb[0] += 0.05
        reading = read_scan(ranges, -math.pi, 2 * math.pi / 360, 0.1, 12.0, (0.14, 0.0), 0.0, 0.25)
        layer_beams.scan(reading.points, tb[0], reading.index,
                         static_map.near_static(to_map(reading.points, (1.0, 7.0, 0.0))), reading.beams,
                         reading.too_close)
        layer_beams.persons(np.array([[2.0, 0.5]]), tb[0])
        layer_beams.arm(True, tb[0])
        layer_beams.command(Source.NAVIGATION, 0.5, 0.1, tb[0])
        layer_beams.step(tb[0])

    safety_beams = timed(safety_beams_step, 2000)
    from carebot.motion.arm_guard import ArmFootprint
    footprint = ArmFootprint()
    arm_reach = timed(lambda: footprint.reach(REST_ARM), 2000)
    nav = Navigator(costmap, static_map=static_map)          # as the node runs it
    pose = (1.0, 7.0, 0.0)
    nav.start((17.5, 9.6, math.pi / 2), pose, 0.0)
    obstacles = to_map(points, pose)
    tn = [0.0]

    def nav_step():
        tn[0] += 0.05
        nav.step(pose, obstacles, tn[0])

    navigation = timed(nav_step, 2000)
    print(f"{'fail-closed step / points-only step':48s} {statistics.mean(safety_beams) / statistics.mean(safety):.2f}")
    for name, values in (("safety layer (scan + map filter + persons + step)", safety),
                         ("  same, read_scan + beam/sector checks + arm", safety_beams),
                         ("arm reach (forward kinematics, per joint_states)", arm_reach),
                         ("navigator (pursuit + map filter + block check)", navigation)):
        mean = statistics.mean(values)
        print(f"{name:48s} mean {mean * 1e6:7.0f} us, p99 {pct(values, 99) * 1e6:7.0f} us -> "
              f"{1 / mean:7.0f} Hz possible, {CONTROL_PERIOD_S / mean:5.0f}x the 20 Hz loop")


def bench_arm() -> None:
    print("== arm and head (Pinocchio IK on the URDF)")
    planner = GesturePlanner()
    current = {**REST_ARM, **REST_HEAD}
    rng = np.random.default_rng(1)
    targets = [(float(rng.uniform(0.8, 3.0)), float(rng.uniform(-2.0, 2.0)), float(rng.uniform(0.0, 1.8)))
               for _ in range(30)]
    point = [timed(lambda tg=tg: planner.point_pose(tg), 1)[0] for tg in targets]
    look = [timed(lambda tg=tg: planner.look_at(tg, current), 1)[0] for tg in targets]
    handover = timed(planner.handover_pose, 10)
    wave = timed(lambda: planner.plan("wave", current), 10)
    for name, values in (("point (aim IK, up to 3 seeds)", point), ("look-at (head aim IK + trajectory)", look),
                         ("hand-over pose (6D IK)", handover), ("wave plan (trajectory only)", wave)):
        print(f"{name:36s} mean {statistics.mean(values) * 1000:6.1f} ms, max {max(values) * 1000:6.1f} ms")


if __name__ == "__main__":
    bench_planning()
    bench_control()
    bench_arm()
