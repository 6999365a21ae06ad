"""The ultralytics model behind perception: load, detect, track.

Any ultralytics detection model file works (.pt, exported .onnx, OpenVINO folder):
its class names decide which boxes are persons and which mean "fallen"
(the default fall model has Normal/Fall; a COCO model has person). Loading checks
the file, builds the model and runs one warm-up inference, so a broken file fails
here with ``ModelLoadError`` and a clear reason, never in the middle of a stream.

Never import MuJoCo into a process that uses this module: torch's first inference
after a MuJoCo OSMesa renderer was created segfaulted (see ARCHITECTURE.md).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carebot.perception.detection import Box, Detection, DetectionClass

# ultralytics must not reach for the network (no hub here) nor pip-install at run time.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("YOLO_VERBOSE", "0")

DEFAULT_MODEL = "yolo-fall"  # name for carebot.models.locate
FALL_CLASS_NAMES = frozenset({"fall", "fallen", "falling", "fall_detected", "fall-detected", "lying", "down"})
PERSON_CLASS_NAMES = frozenset({"normal", "person", "people", "human", "standing", "walking", "sitting",
                                "pedestrian", "not_fall", "no_fall", "nofall"})
SUPPORTED_DEVICES_HINT = "cpu, cuda, cuda:N, mps"


class ModelLoadError(RuntimeError):
    """The configured model file is missing, unreadable or not a person detector."""


@dataclass(frozen=True)
class DetectorConfig:
    """Model file and inference settings."""

    model_path: str = ""            # "" = the shipped fall model
    imgsz: int = 320                # inference size, px (multiple of 32); 320 measured best here (docs)
    conf: float = 0.3               # minimum box confidence
    iou: float = 0.5                # NMS IoU threshold
    device: str = "cpu"             # torch device: cpu, cuda:0 ...
    tracker: str = "bytetrack.yaml"  # ultralytics tracker config (bytetrack.yaml, botsort.yaml or a path)
    half: bool = False              # fp16 inference (GPU only)

    def validate(self) -> "DetectorConfig":
        if self.imgsz < 32 or self.imgsz % 32:
            raise ValueError(f"imgsz must be a positive multiple of 32, got {self.imgsz}")
        if not 0.0 < self.conf < 1.0:
            raise ValueError(f"conf must be in (0, 1), got {self.conf}")
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f"iou must be in (0, 1], got {self.iou}")
        if not self.device.strip():
            raise ValueError(f"device must be set ({SUPPORTED_DEVICES_HINT})")
        return self


def resolve_model_path(model_path: str) -> Path:
    """The configured path, or the shipped fall model for ""; raises ModelLoadError."""
    if not model_path:
        from carebot import models

        try:
            return models.locate(DEFAULT_MODEL)
        except models.ModelNotFound as exc:
            raise ModelLoadError(f"{exc}; fix: {exc.fix}") from exc
    path = Path(model_path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"model file {path} does not exist")
    if path.is_file() and path.stat().st_size == 0:
        raise ModelLoadError(f"model file {path} is empty")
    return path


def classify_names(names: dict[int, str]) -> dict[int, DetectionClass]:
    """Map the model's class ids to person/fall; other classes (cars, cups) are not persons."""
    mapping: dict[int, DetectionClass] = {}
    for idx, name in names.items():
        key = str(name).strip().lower().replace(" ", "_")
        if key in FALL_CLASS_NAMES:
            mapping[int(idx)] = DetectionClass.FALL
        elif key in PERSON_CLASS_NAMES:
            mapping[int(idx)] = DetectionClass.PERSON
    return mapping


class Detector:
    """A loaded ultralytics model that returns person Detections for BGR frames."""

    def __init__(self, cfg: DetectorConfig):
        self.cfg = cfg.validate()
        self.path = resolve_model_path(cfg.model_path)
        try:
            from ultralytics import YOLO

            self._model = YOLO(str(self.path), task="detect")
            names = dict(self._model.names)
        except Exception as exc:  # ultralytics raises many types for a broken file
            raise ModelLoadError(f"cannot load model {self.path}: {type(exc).__name__}: {exc}") from exc
        self.names = names
        self.classes = classify_names(names)
        if not self.classes:
            raise ModelLoadError(f"model {self.path} has no person class (classes: {sorted(names.values())})")
        self.has_fall_class = DetectionClass.FALL in self.classes.values()
        try:
            self.warmup_ms = self.warmup()
        except Exception as exc:  # e.g. an ONNX file that only fails when run, a bad device name
            raise ModelLoadError(f"model {self.path} failed its first inference on {cfg.device}: "
                                 f"{type(exc).__name__}: {exc}") from exc

    def _kwargs(self) -> dict:
        return dict(imgsz=self.cfg.imgsz, conf=self.cfg.conf, iou=self.cfg.iou, device=self.cfg.device,
                    half=self.cfg.half, classes=sorted(self.classes), agnostic_nms=True, verbose=False)

    def warmup(self) -> float:
        """One inference on a grey frame (first-call setup off the hot path); returns its ms."""
        frame = np.full((self.cfg.imgsz, self.cfg.imgsz, 3), 114, np.uint8)
        start = time.perf_counter()
        self._model.predict(frame, **self._kwargs())
        return (time.perf_counter() - start) * 1000.0

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """Persons in one BGR frame, without tracking (track_id None)."""
        result = self._model.predict(bgr, **self._kwargs())[0]
        return self._detections(result, with_ids=False)

    def track(self, bgr: np.ndarray) -> list[Detection]:
        """Persons in the next frame of a stream, with tracker ids (None until a track is confirmed)."""
        result = self._model.track(bgr, persist=True, tracker=self.cfg.tracker, **self._kwargs())[0]
        return self._detections(result, with_ids=True)

    def reset_tracking(self) -> None:
        """Start a new stream: forget all tracks."""
        predictor = getattr(self._model, "predictor", None)
        for tracker in getattr(predictor, "trackers", []) or []:
            tracker.reset()

    def _detections(self, result, with_ids: bool) -> list[Detection]:
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return []
        xyxy = boxes.xyxy.cpu().numpy()
        conf = boxes.conf.cpu().numpy()
        cls = boxes.cls.cpu().numpy().astype(int)
        ids = boxes.id.cpu().numpy().astype(int) if (with_ids and boxes.id is not None) else [None] * len(cls)
        out = []
        for (x1, y1, x2, y2), score, c, tid in zip(xyxy, conf, cls, ids):
            label = self.classes.get(int(c))
            if label is None:
                continue
            out.append(Detection(Box(float(x1), float(y1), float(x2), float(y2)), float(score), label,
                                 None if tid is None else int(tid)))
        return out
