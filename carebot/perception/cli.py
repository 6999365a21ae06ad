"""``carebot perceive [--model PATH] [--backend B] [--imgsz N] [--second-look N] IMAGE...``: persons and fall state per image.

Prints one JSON object per image and line:
``{"image": path, "persons": [{"state": "normal"|"fallen", "score": float, "bbox": [x1, y1, x2, y2]}],
"latency_ms": float}``. A still image has no history, so the decision is the
single-image fusion of the model's Fall class and the box shape (no persistence); a
frame with a lying or Fall box (or nobody) is looked at again at the --second-look size.
The backend (default auto: OpenVINO on a CPU) and a fallback to torch are said on stderr.
An unreadable image prints ``{"image": path, "error": "..."}`` and the exit code is 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

# Kept literal so `carebot --help` does not import numpy; test_perception_cli checks them
# against carebot.perception.detector.
BACKENDS = ("auto", "openvino", "torch", "onnx")
DEFAULT_BACKEND, DEFAULT_IMGSZ, DEFAULT_SECOND_LOOK = "auto", 640, 320


def register(subparsers) -> None:
    p = subparsers.add_parser("perceive", help="detect people and falls in image files (JSON lines)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (jpg, png, ...)")
    p.add_argument("--model", default="", metavar="PATH",
                   help="ultralytics model file (default: the shipped YOLOv8 Normal/Fall model)")
    p.add_argument("--backend", default=None, choices=BACKENDS,
                   help=f"inference runtime (default {DEFAULT_BACKEND}: OpenVINO on a CPU, torch on a GPU)")
    p.add_argument("--imgsz", type=int, default=None, metavar="N",
                   help=f"inference size, px (default {DEFAULT_IMGSZ})")
    p.add_argument("--second-look", type=int, default=None, metavar="N",
                   help=f"second look size for lying/Fall boxes, px, 0 = off (default {DEFAULT_SECOND_LOOK})")
    p.add_argument("--conf", type=float, default=None, help="minimum box confidence (default 0.3)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import cv2

    from carebot.perception.detector import Detector, DetectorConfig, ModelLoadError
    from carebot.perception.fall_logic import FallConfig, single_image_states

    given = {"conf": args.conf, "imgsz": args.imgsz, "backend": args.backend,
             "second_look_imgsz": args.second_look}
    try:
        cfg = DetectorConfig(model_path=args.model, device=args.device,
                             **{k: v for k, v in given.items() if v is not None})
        detector = Detector(cfg)
    except (ModelLoadError, ValueError) as exc:
        print(f"carebot perceive: {exc}", file=sys.stderr)
        return 2
    if detector.fallback_reason:
        print(f"carebot perceive: backend fallback: {detector.fallback_reason}", file=sys.stderr)
    fall_cfg = FallConfig()
    status = 0
    for path in args.images:
        image = cv2.imread(path)
        if image is None:
            print(json.dumps({"image": path, "error": "cannot read image"}), flush=True)
            status = 1
            continue
        start = time.perf_counter()
        detections = detector.detect(image)
        h, w = image.shape[:2]
        persons = []
        for det, state, _ in single_image_states(detections, (w, h), fall_cfg):
            persons.append({"state": state.label, "score": round(det.score, 4),
                            "bbox": [round(v, 1) for v in det.box.as_list()]})
        latency_ms = (time.perf_counter() - start) * 1000.0
        print(json.dumps({"image": path, "persons": persons, "latency_ms": round(latency_ms, 2)}), flush=True)
    return status
