"""Perception figures, measured side by side in one run (prints; no pass/fail).

Sections (the default set is conditions,backends,alerts; pick with --only):
  conditions per-condition fall precision/recall on the varied labelled images of
            carebot/perception/scene_sets.py, dev and held-out parts, at the shipped
            defaults (640 + second look at 320, fusion, the scene's furniture) beside raw
            model.predict (any Fall box, ultralytics' default conf 0.25) at 320 and 640, and
            the defaults without equalising dark frames (low_light.py) and without the
            near-floor rule (geometry.near_floor)
  backends  ms/frame and frames/s per backend (torch, OpenVINO, ONNX) and size, interleaved,
            and the shipped pipeline (OpenVINO 640 + second look) on a realistic mix of frames
  alerts    fall-to-alert time on scene_sets sequences (tracker + persistence of the care
            home, 3 s), per motion: falls across/along the view, bends, sitting down, lying
            down on a bed or sofa
  speed     frames/s of model.predict at imgsz 320 and 640 on this CPU (interleaved)
  images    precision/recall of the still-image fall decision on labelled images made
            from ultralytics' real photos (carebot/perception/scenes.py), at 320 and 640
  sequences the same for the streaming decision (tracker + persistence) on frame sequences
  node      the perception node's latency, image stamp -> PersonArray received by another
            process, beside raw model.predict on the same frames, as a ratio; peak memory
  onnx      the ONNX model shipped next to best.pt (640) and an ONNX export at 320 against
            the .pt model: speed ratio and the same labelled-set precision/recall

Run: .venv/bin/python benchmarks/perception_bench.py [--only speed,node] [--count 30]
The machine is shared: timings are medians of interleaved runs, so both sides of a
ratio see the same load.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from carebot.perception import scenes  # noqa: E402
from carebot.perception.detector import Detector, DetectorConfig, resolve_model_path  # noqa: E402
from carebot.perception.evaluate import evaluate_images, evaluate_sequences  # noqa: E402

SIZES = (320, 640)
RAW_PREDICT_CONF = 0.25   # ultralytics' own default for model.predict


def cpu_line() -> str:
    """The CPU and the vector extensions that decide OpenVINO's speed (AVX-512, AMX)."""
    flags, name = set(), "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name == "?":
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    ext = sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "avx_vnni"))
    return f"{name}; {os.cpu_count()} CPUs; {' '.join(ext) or 'no AVX2'}"


def parse_part(spec: str):
    """'dev', 'heldout' or 'heldout@1000' (a fresh held-out part: its images start at index 1000)."""
    from carebot.perception import scene_sets as ss

    name, _, first = spec.partition("@")
    return ss.Part(name), int(first or 0)


def section_conditions(per_condition: int, parts: list[str]) -> None:
    from carebot.perception import scene_sets as ss
    from carebot.perception.evaluate import detect_all, evaluate_conditions, fused_decision, raw_model_decision

    print(f"\n== conditions: fall decision per condition, {per_condition} images per condition and part ==")
    shipped = Detector(DetectorConfig())
    from carebot.perception.low_light import mean_luma

    unequalised = Detector(replace(DetectorConfig(), dark_luma=0.0))
    raw = {sz: Detector(DetectorConfig(imgsz=sz, conf=RAW_PREDICT_CONF, second_look_imgsz=0, dark_luma=0.0))
           for sz in SIZES}
    print(f"shipped: backend {shipped.backend}, imgsz {shipped.cfg.imgsz}, second look "
          f"{shipped.cfg.second_look_imgsz}; raw model.predict on {raw[640].backend} (same boxes as torch: "
          "tests/unit/perception/test_perception_backends.py)")
    for spec in parts:
        part, first = parse_part(spec)
        images = ss.image_set(part, per_condition, first=first)
        looks_before = shipped.second_looks
        t0 = time.perf_counter()
        dets = detect_all(shipped, images)
        per_image = (time.perf_counter() - t0) / len(images) * 1000.0
        # without equalising dark frames: only the dark frames differ, so only they are looked at again
        dark = shipped.cfg.dark_luma
        plain = [unequalised.detect(im.image) if mean_luma(im.image) < dark else d for im, d in zip(images, dets)]
        columns = {"shipped defaults": evaluate_conditions(images, dets, fused_decision()),
                   "defaults, no furniture": evaluate_conditions(images, dets, fused_decision(use_furniture=False)),
                   "defaults, dark not eq.": evaluate_conditions(images, plain, fused_decision()),
                   "defaults, no near-floor": evaluate_conditions(images, dets, fused_decision(use_near_floor=False))}
        for sz in SIZES:
            columns[f"raw predict {sz}"] = evaluate_conditions(images, detect_all(raw[sz], images), raw_model_decision)
        print(f"\n-- {spec}: {len(images)} images; shipped pipeline {per_image:.0f} ms/image here, "
              f"second look on {shipped.second_looks - looks_before}/{len(images)} --")
        names = list(columns)
        print(f"{'condition':10s}" + "".join(f"{n:>24s}" for n in names))
        for cond in ss.Condition:
            cells = []
            for n in names:
                c = columns[n].per_condition[cond]
                total = c.tp + c.fp + c.fn + c.tn
                cells.append(f"recall {c.recall:.2f} ({c.tp}/{c.tp + c.fn})" if cond.truth is scenes.Truth.FALLEN
                             else f"false falls {c.fp}/{total}")
            print(f"{cond.value:10s}" + "".join(f"{x:>24s}" for x in cells))
        print(f"{'overall':10s}" + "".join(
            f"{f'P {columns[n].overall.precision:.2f} R {columns[n].overall.recall:.2f}':>24s}" for n in names))


def section_backends(frames: list[np.ndarray], rounds: int) -> None:
    print(f"\n== backends: ms/frame, medians of {rounds} interleaved rounds over {len(frames)} frames ==")
    print(f"CPU: {cpu_line()}")
    detectors = {}
    for backend in ("torch", "openvino", "onnx"):
        for sz in SIZES:
            try:
                det = Detector(DetectorConfig(imgsz=sz, backend=backend, second_look_imgsz=0))
            except Exception as exc:  # report and go on
                print(f"{backend} {sz}: cannot load ({type(exc).__name__}: {exc})")
                continue
            if det.backend != backend:
                print(f"{backend} {sz}: fell back to {det.backend}: {det.fallback_reason}")
                continue
            detectors[(backend, sz)] = det
    shipped = Detector(DetectorConfig())
    detectors[("shipped 640+320", 640)] = shipped
    times = {k: [] for k in detectors}
    for _ in range(rounds):
        for frame in frames:
            for key, det in detectors.items():
                t0 = time.perf_counter()
                det.detect(frame)
                times[key].append(time.perf_counter() - t0)
    base = {sz: median_ms(times[("torch", sz)]) for sz in SIZES if ("torch", sz) in times}
    for (backend, sz), samples in times.items():
        ms = median_ms(samples)
        ratio = f"  {base[sz] / ms:.2f}x torch's speed" if sz in base and backend != "torch" else ""
        print(f"{backend:16s} imgsz {sz}: {ms:7.1f} ms/frame = {1000.0 / ms:5.1f} FPS (p90 "
              f"{np.percentile(samples, 90) * 1000:.1f} ms){ratio}")
    print(f"shipped pipeline: second look on {shipped.second_looks} of {len(frames) * rounds} frames")


def section_alerts(parts: list[str], per_kind: int, persistence_s: float) -> None:
    from carebot.perception import scene_sets as ss
    from carebot.perception.evaluate import Confusion, run_labelled_sequence
    from carebot.perception.fall_logic import FallConfig

    cfg = replace(FallConfig(), persistence_s=persistence_s, clear_s=persistence_s)
    print(f"\n== alerts: sequences at 4 frames/s, persistence {persistence_s} s (care home), shipped detector ==")
    det = Detector(DetectorConfig())
    for spec in parts:
        part, first = parse_part(spec)
        seqs = ss.sequence_set(part, falls_per_kind=per_kind, others_per_kind=max(1, per_kind // 2 + 1), first=first)
        conf, delays = Confusion(), []
        for seq in seqs:
            out = run_labelled_sequence(det, seq, cfg)
            conf.add(seq.motion.is_fall, out.raised > 0)
            if out.alert_delay_s is not None:
                delays.append(out.alert_delay_s)
            delay = f"{out.alert_delay_s:.1f} s" if out.alert_delay_s is not None else "-"
            print(f"   {seq.name:34s} raised {out.raised}  alert after reaching the floor {delay}  ids {out.ids_seen}")
        span = f"{min(delays):.1f}-{max(delays):.1f} s (median {statistics.median(delays):.1f})" if delays else "-"
        print(f"{spec}: incidents {conf.summary()}; fall-to-alert {span}")


def frames_for_timing(n: int) -> list[np.ndarray]:
    """Real photos resized to 640x480 plus labelled scenes: what a head camera sends."""
    photos = [cv2.resize(scenes.photo(p), (scenes.FRAME_W, scenes.FRAME_H)) for p in ("bus.jpg", "zidane.jpg")]
    made = [s.image for s in scenes.labelled_set(max(1, n // 3), seed=11) if s.truth is not scenes.Truth.NONE]
    return (photos + made)[:n]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def section_speed(frames: list[np.ndarray]) -> None:
    print("\n== speed: model.predict on this CPU (torch threads: %d) ==" % __import__("torch").get_num_threads())
    detectors = {sz: Detector(DetectorConfig(imgsz=sz, backend="torch", second_look_imgsz=0)) for sz in SIZES}
    times = {sz: [] for sz in SIZES}
    for frame in frames:
        for sz, det in detectors.items():
            t0 = time.perf_counter()
            det.detect(frame)
            times[sz].append(time.perf_counter() - t0)
    for sz in SIZES:
        ms = median_ms(times[sz])
        print(f"imgsz {sz}: median {ms:7.1f} ms/frame  = {1000.0 / ms:5.2f} FPS  (n={len(frames)})")
    print(f"ratio 640/320 time: {median_ms(times[640]) / median_ms(times[320]):.2f}")


def section_images(count: int) -> None:
    print(f"\n== images: fall decision precision/recall (labelled set: {count} fallen, {count} upright, "
          f"{count} empty + 2 original photos) ==")
    labelled = scenes.labelled_set(count, seed=2024)
    for sz in SIZES:
        ev = evaluate_images(Detector(DetectorConfig(imgsz=sz, backend="torch", second_look_imgsz=0)), labelled)
        print(f"imgsz {sz} images: fall {ev.fall.summary()}; upright found as normal "
              f"{ev.upright_found}/{ev.upright_total}; empty scenes with nobody {ev.empty_clean}/{ev.empty_total}")


def section_sequences(n_sequences: int, seed: int = 100, sizes: tuple[int, ...] = SIZES) -> None:
    print(f"\n== sequences: {n_sequences} falls, {max(1, n_sequences // 2)} walks, {max(1, n_sequences // 2)} bends "
          "at 4 frames/s ==")
    fall_seqs = [scenes.sequence(scenes.Motion.FALL, fps=4.0, source=i % 2, floor=list(scenes.Floor)[i % 3],
                                 seed=seed + i, lie_s=5.0) for i in range(n_sequences)]
    other = [scenes.sequence(m, fps=4.0, source=i % 2, floor=list(scenes.Floor)[(i + 1) % 3], seed=seed + 100 + i)
             for i in range(max(1, n_sequences // 2)) for m in (scenes.Motion.WALK, scenes.Motion.BEND)]
    for sz in sizes:
        seq_ev = evaluate_sequences(Detector(DetectorConfig(imgsz=sz, backend="torch", second_look_imgsz=0)), fall_seqs + other)
        print(f"imgsz {sz} sequences: incidents {seq_ev.incidents.summary()}")
        for out in seq_ev.outcomes:
            delay = f"{out.alert_delay_s:.1f}" if out.alert_delay_s is not None else "-"
            rdelay = f"{out.resolve_delay_s:.1f}" if out.resolve_delay_s is not None else "-"
            print(f"   {out.name:32s} raised {out.raised} resolved {out.resolved} "
                  f"alert after floor {delay} s, resolved after up {rdelay} s, track ids {out.ids_seen}")


def section_node(frames: list[np.ndarray], imgsz: int) -> None:
    import rclpy
    from rclpy.qos import qos_profile_sensor_data

    from carebot.image_convert import array_to_image_fields
    from carebot.scenarios import ros_env
    from carebot_interfaces.msg import PersonArray
    from sensor_msgs.msg import Image

    print(f"\n== node: image stamp -> perception/persons received, vs raw model.predict (imgsz {imgsz}) ==")
    env = ros_env.isolated_env()
    os.environ["ROS_DOMAIN_ID"] = env["ROS_DOMAIN_ID"]
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
    os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = env["FASTRTPS_DEFAULT_PROFILES_FILE"]   # frames in SHM
    log = Path(tempfile.gettempdir()) / "perception_bench_node.log"
    proc = ros_env.start(ros_env.python_module("carebot.perception.perception_node", "--ros-args",
                                               "-p", f"imgsz:={imgsz}", "-p", "backend:=torch",
                                               "-p", "second_look_imgsz:=0"), env, log)
    rclpy.init()
    node = rclpy.create_node("perception_bench")
    received: dict[tuple[int, int], float] = {}
    node.create_subscription(PersonArray, "perception/persons",
                             lambda m: received.__setitem__((m.header.stamp.sec, m.header.stamp.nanosec),
                                                            time.time()), qos_profile_sensor_data)
    pub = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
    # Raw predict runs in its own fresh process too (same thread count, nothing else loaded),
    # interleaved frame by frame with the node so that both see the same machine load.
    raw = subprocess.Popen([sys.executable, __file__, "--raw-worker", str(len(frames)), "--node-imgsz", str(imgsz)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    node_lat, raw_lat, track_lat, lost = [], [], [], 0

    def send(frame) -> tuple[int, int]:
        msg = Image(**array_to_image_fields(frame, "bgr8"))
        now = time.time()
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), int((now % 1) * 1e9)
        msg.header.frame_id = "camera_optical_frame"
        pub.publish(msg)
        return msg.header.stamp.sec, msg.header.stamp.nanosec

    try:
        assert raw.stdout.readline().strip() == "ready"
        ready = ros_env.wait_for(lambda: (rclpy.spin_once(node, timeout_sec=0.05), send(frames[0]),
                                          bool(received))[-1], timeout=120.0, interval=0.5)
        if not ready:
            print(f"node did not answer within 120 s; log: {log}")
            return
        rclpy.spin_once(node, timeout_sec=2.0)
        for i, frame in enumerate(frames * 2):
            for _attempt in range(3):  # a large best-effort sample can be lost on a loaded machine
                key = send(frame)
                deadline = time.time() + 10.0
                while key not in received and time.time() < deadline:
                    rclpy.spin_once(node, timeout_sec=0.1)  # blocks until a message: no busy wait stealing CPU from the node
                if key in received:
                    node_lat.append(received[key] - (key[0] + key[1] * 1e-9))
                    break
                lost += 1
            raw.stdin.write(f"{i % len(frames)}\n")
            raw.stdin.flush()
            predict_ms, track_ms = (float(v) for v in raw.stdout.readline().split())
            raw_lat.append(predict_ms / 1000.0)
            track_lat.append(track_ms / 1000.0)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        node_peak = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM")), "?")
        raw.stdin.write("peak\n")
        raw.stdin.flush()
        raw_peak = raw.stdout.readline().strip()
    finally:
        raw.kill()
        node.destroy_node()
        rclpy.shutdown()
        code = ros_env.stop(proc)
    n_ms, r_ms = median_ms(node_lat), median_ms(raw_lat)
    print(f"node latency median {n_ms:.1f} ms (p90 {np.percentile(node_lat, 90) * 1000:.1f}), "
          f"raw predict median {r_ms:.1f} ms (p90 {np.percentile(raw_lat, 90) * 1000:.1f}), "
          f"n={len(node_lat)}, frames resent after a DDS loss: {lost}")
    print(f"ratio node/raw predict: {n_ms / r_ms:.3f}  (target <= 1.10)")
    t_ms = median_ms(track_lat)
    print(f"raw model.track (what the node runs: predict + ByteTrack) median {t_ms:.1f} ms; "
          f"ratio node/raw track: {n_ms / t_ms:.3f} (the node's own overhead: conversion, fall logic, DDS)")
    print(f"peak memory (VmHWM): node process {int(node_peak) / 1024:.0f} MiB, "
          f"raw predict process {int(raw_peak) / 1024:.0f} MiB; node exit {code}")


def raw_worker(n_frames: int, imgsz: int) -> int:
    """--raw-worker: model.predict and model.track on frame i for each index read from stdin, prints ms."""
    frames = frames_for_timing(n_frames)
    det = Detector(DetectorConfig(imgsz=imgsz, backend="torch", second_look_imgsz=0))
    tracker = Detector(DetectorConfig(imgsz=imgsz, backend="torch", second_look_imgsz=0))
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "peak":
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
            continue
        frame = frames[int(line)]
        t0 = time.perf_counter()
        det.detect(frame)
        t1 = time.perf_counter()
        tracker.track(frame)
        t2 = time.perf_counter()
        print((t1 - t0) * 1000.0, (t2 - t1) * 1000.0, flush=True)
    return 0


def section_onnx(frames: list[np.ndarray], count: int) -> None:
    print("\n== onnx: onnxruntime (CPU) vs torch, same frames interleaved ==")
    pt = resolve_model_path("")
    shipped = pt.parent / "best_fp16.onnx"
    work = Path(tempfile.mkdtemp(prefix="perception_onnx_"))
    exported = None
    try:
        from ultralytics import YOLO

        shutil.copy(pt, work / "best.pt")
        exported = YOLO(str(work / "best.pt")).export(format="onnx", imgsz=320, simplify=False, verbose=False)
    except Exception as exc:  # report and go on with the shipped file
        print(f"ONNX export at 320 failed: {type(exc).__name__}: {exc}")
    pairs = [("shipped best_fp16.onnx", str(shipped), 640)]
    if exported:
        pairs.append(("exported onnx", str(exported), 320))
    labelled = scenes.labelled_set(count, seed=2024)
    for name, path, sz in pairs:
        torch_det = Detector(DetectorConfig(imgsz=sz, backend="torch", second_look_imgsz=0))
        onnx_det = Detector(DetectorConfig(model_path=path, imgsz=sz, second_look_imgsz=0))
        t_pt, t_ox = [], []
        for frame in frames:
            for det, acc in ((torch_det, t_pt), (onnx_det, t_ox)):
                t0 = time.perf_counter()
                det.detect(frame)
                acc.append(time.perf_counter() - t0)
        ev_pt, ev_ox = evaluate_images(torch_det, labelled), evaluate_images(onnx_det, labelled)
        print(f"{name} @ {sz}: onnx {median_ms(t_ox):.1f} ms vs torch {median_ms(t_pt):.1f} ms "
              f"-> speed-up {median_ms(t_pt) / median_ms(t_ox):.2f}x")
        print(f"   fall decision torch: {ev_pt.fall.summary()}")
        print(f"   fall decision onnx:  {ev_ox.fall.summary()}")
    shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="conditions,backends,alerts",
                        help="comma-separated sections: conditions,backends,alerts,speed,node,onnx,images,sequences")
    parser.add_argument("--per-condition", type=int, default=20, help="labelled images per condition and part")
    parser.add_argument("--parts", default="dev,heldout@1000",
                        help="scene_sets parts for conditions/alerts: dev, heldout, heldout@N (images from index N: "
                             "a fresh held-out part; heldout@1000 is the one docs/perception.md reports)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the frames in the backends section")
    parser.add_argument("--falls-per-kind", type=int, default=3, help="fall sequences per kind in the alerts section")
    parser.add_argument("--frames", type=int, default=12, help="frames for the timing sections")
    parser.add_argument("--count", type=int, default=30, help="labelled images per truth class")
    parser.add_argument("--sequences", type=int, default=4, help="fall sequences (plus half as many walk/bend)")
    parser.add_argument("--seq-seed", type=int, default=100,
                        help="first seed of the sequences (100 = the set the fall logic was developed on)")
    parser.add_argument("--seq-sizes", default="320,640", help="image sizes for the sequences section")
    parser.add_argument("--node-imgsz", type=int, default=320)
    parser.add_argument("--raw-worker", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.raw_worker:
        return raw_worker(args.raw_worker, args.node_imgsz)
    sections = set(args.only.split(","))
    print(f"perception bench: {cpu_line()}, load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}")
    frames = frames_for_timing(args.frames)
    parts = [p for p in args.parts.split(",") if p]
    if "conditions" in sections:
        section_conditions(args.per_condition, parts)
        print(f"load average {os.getloadavg()[0]:.1f}")
    if "backends" in sections:
        section_backends(frames, args.rounds)
        print(f"load average {os.getloadavg()[0]:.1f}")
    if "alerts" in sections:
        section_alerts(parts, args.falls_per_kind, 3.0)
    if "speed" in sections:
        section_speed(frames)
    if "node" in sections:
        section_node(frames, args.node_imgsz)
    if "onnx" in sections:
        section_onnx(frames, args.count)
    if "images" in sections:
        section_images(args.count)
    if "sequences" in sections:
        section_sequences(args.sequences, args.seq_seed,
                          tuple(int(v) for v in args.seq_sizes.split(",")))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
