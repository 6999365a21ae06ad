"""The ultralytics model behind perception: load, detect, track.

Any ultralytics detection model file works (.pt, exported .onnx, OpenVINO folder):
its class names decide which boxes are persons and which mean "fallen"
(the default fall model has Normal/Fall; a COCO model has person). Loading checks
the file, builds the model and runs one warm-up inference, so a broken file fails
here with ``ModelLoadError`` and a clear reason, never in the middle of a stream.

Backends: a .pt file runs through torch, or through its OpenVINO / ONNX export made
once into the cache (carebot.models.exported, keyed on the weights' hash and the
input size). ``auto`` (the default) is OpenVINO on a CPU and torch on CUDA/MPS.
When an export or its runtime is not available, the detector falls back to torch
and says why in ``fallback_reason`` (the node and the CLI log it).

Never import MuJoCo into a process that uses this module: torch's first inference
after a MuJoCo OSMesa renderer was created segfaulted (see ARCHITECTURE.md).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from carebot.perception.detection import Box, Detection, DetectionClass
from carebot.perception.low_light import equalise_if_dark

# ultralytics must not reach for the network (no hub here) nor pip-install at run time.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("YOLO_VERBOSE", "0")

DEFAULT_MODEL = "yolo-fall"  # name for carebot.models.locate
FALL_CLASS_NAMES = frozenset({"fall", "fallen", "falling", "fall_detected", "fall-detected", "lying", "down"})
PERSON_CLASS_NAMES = frozenset({"normal", "person", "people", "human", "standing", "walking", "sitting",
                                "pedestrian", "not_fall", "no_fall", "nofall"})
SUPPORTED_DEVICES_HINT = "cpu, cuda, cuda:N, mps"
BACKENDS = ("auto", "openvino", "torch", "onnx")
CPU_ONLY_BACKENDS = ("openvino", "onnx")   # as run here: OpenVINO's and onnxruntime's CPU builds


class ModelLoadError(RuntimeError):
    """The configured model file is missing, unreadable or not a person detector."""


@dataclass(frozen=True)
class DetectorConfig:
    """Model file and inference settings."""

    model_path: str = ""            # "" = the shipped fall model
    imgsz: int = 640                # inference size, px (multiple of 32); 640 finds more fallen people (docs)
    conf: float = 0.3               # minimum box confidence
    fall_conf: float = 0.2          # a box of the model's Fall class is kept from this confidence (docs)
    iou: float = 0.5                # NMS IoU threshold
    device: str = "cpu"             # torch device: cpu, cuda:0 ...
    tracker: str = "bytetrack.yaml"  # ultralytics tracker config (bytetrack.yaml, botsort.yaml or a path)
    half: bool = False              # fp16 inference (GPU only)
    backend: str = "auto"           # auto (OpenVINO on CPU, torch on GPU), openvino, torch, onnx
    second_look_imgsz: int = 320    # 0 or imgsz = off; else a lying/Fall box (or nobody) is looked at again at this size
    dark_luma: float = 70.0         # frames darker than this mean luma (0..255) are equalised first (low_light); 0 = off

    def validate(self) -> "DetectorConfig":
        if self.imgsz < 32 or self.imgsz % 32:
            raise ValueError(f"imgsz must be a positive multiple of 32, got {self.imgsz}")
        if not 0.0 < self.conf < 1.0:
            raise ValueError(f"conf must be in (0, 1), got {self.conf}")
        if not 0.0 < self.fall_conf < 1.0:
            raise ValueError(f"fall_conf must be in (0, 1), got {self.fall_conf}")
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f"iou must be in (0, 1], got {self.iou}")
        if not self.device.strip():
            raise ValueError(f"device must be set ({SUPPORTED_DEVICES_HINT})")
        if not 0.0 <= self.dark_luma <= 255.0:
            raise ValueError(f"dark_luma must be in 0..255 (0: off), got {self.dark_luma}")
        if self.second_look_imgsz and (self.second_look_imgsz < 32 or self.second_look_imgsz % 32):
            raise ValueError(f"second_look_imgsz must be 0 (off) or a positive multiple of 32 "
                             f"(equal to imgsz: off), got {self.second_look_imgsz}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend in CPU_ONLY_BACKENDS and self.device.strip().lower() != "cpu":
            raise ValueError(f"backend {self.backend} runs on the CPU here: set device cpu, "
                             f"or backend torch/auto for {self.device}")
        return self

    def resolved_backend(self) -> str:
        """The backend auto stands for on this device: torch on a GPU, OpenVINO on a CPU."""
        if self.backend != "auto":
            return self.backend
        return "openvino" if self.device.strip().lower() == "cpu" else "torch"


def backend_of_file(path: Path) -> str | None:
    """The backend an already exported model file needs (None: a .pt, any backend)."""
    if path.is_dir() or path.suffix == ".xml":
        return "openvino"
    if path.suffix == ".onnx":
        return "onnx"
    return None


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


SECOND_LOOK_ASPECT = 1.05   # a box at least this wide for its height may be a lying person
MATCH_IOU = 0.3             # boxes of the two looks are one person at this IoU ...
MATCH_OVERLAP = 0.6         # ... or when one lies this much inside the other


def needs_second_look(detections: list[Detection]) -> bool:
    """Nobody found, a Fall box, or a box wider than an upright person: worth a second look."""
    return not detections or any(d.label is DetectionClass.FALL or d.box.aspect >= SECOND_LOOK_ASPECT
                                 for d in detections)


def merge_looks(primary: list[Detection], second: list[Detection]) -> list[Detection]:
    """The primary boxes (and track ids), each taking the strongest Fall of the second look that
    matches it; second-look persons the primary look missed are added (without a track id).

    The fall model's two input sizes disagree on different people (docs/perception.md: at 640
    it calls some people lying across the view Normal, at 320 it misses far and half-hidden
    ones), so a Fall seen at either size counts, and the shape of the box it was seen in
    counts too (fall_box: the two sizes often frame a half-hidden or dim person differently)."""
    out, used = [], set()
    for det in primary:
        best = det
        for j, other in enumerate(second):
            if det.box.iou(other.box) >= MATCH_IOU or det.box.overlap(other.box) >= MATCH_OVERLAP:
                used.add(j)
                if other.label is DetectionClass.FALL and (best.label is not DetectionClass.FALL
                                                           or other.score > best.score):
                    best = Detection(det.box, other.score, DetectionClass.FALL, det.track_id, det.floor,
                                     det.resting_on, fall_box=other.box)
        out.append(best)
    out.extend(d for j, d in enumerate(second) if j not in used)
    return out


class Detector:
    """A loaded ultralytics model that returns person Detections for BGR frames.

    With ``second_look_imgsz`` set, frames where the first look finds a lying or Fall box
    (or nobody) are looked at again at that size and the two looks merged (merge_looks)."""

    def __init__(self, cfg: DetectorConfig):
        self.cfg = cfg.validate()
        self.path = resolve_model_path(cfg.model_path)   # the configured file (weights)
        self.fallback_reason = ""                         # why torch runs instead of the requested backend
        self.second_looks = 0                             # frames looked at twice
        self._second: Detector | None = None
        self.backend, self.model_file = self._choose_file()
        try:
            self._start(self.model_file)
        except ModelLoadError as exc:
            if self.backend == "torch" or self.path.suffix != ".pt":
                raise
            self.fallback_reason = f"{self.backend} model {self.model_file} failed ({exc}); running torch"
            self.backend, self.model_file = "torch", self.path
            self._start(self.path)

        if cfg.second_look_imgsz and cfg.second_look_imgsz != cfg.imgsz:
            # the second look is handed the frame already equalised (dark_luma 0: not twice)
            self._second = Detector(replace(cfg, imgsz=cfg.second_look_imgsz, second_look_imgsz=0,
                                            backend=self.backend, dark_luma=0.0))
            if self._second.fallback_reason and not self.fallback_reason:
                self.fallback_reason = f"second look: {self._second.fallback_reason}"

    def _start(self, path: Path) -> None:
        """Load path, map its classes and run the warm-up inference; ModelLoadError on any failure."""
        self._model = self._load(path)
        names = dict(self._model.names)
        self.names = names
        self.classes = classify_names(names)
        if not self.classes:
            raise ModelLoadError(f"model {path} has no person class (classes: {sorted(names.values())})")
        self.has_fall_class = DetectionClass.FALL in self.classes.values()
        try:
            self.warmup_ms = self.warmup()
        except Exception as exc:  # e.g. an ONNX file that only fails when run, a bad device name
            raise ModelLoadError(f"model {path} failed its first inference on {self.cfg.device}: "
                                 f"{type(exc).__name__}: {exc}") from exc
        self.unpinned = self._unpin_openvino()

    def _unpin_openvino(self) -> bool:
        """Recompile an OpenVINO model without CPU pinning; True when done.

        OpenVINO pins its threads to cores by default. On the robot's two cores, shared with
        the speech, brain and motion nodes (and the simulation in CI), a pinned thread waits
        whenever its core is busy: unpinned, a 640 frame took 544 instead of 613 ms under a
        load of 5-8 (docs/perception.md; the same at 320). ultralytics compiles the model itself with
        only a latency hint, so this reaches into its OpenVINO backend and leaves it as it was
        if that ever changes."""
        backend = getattr(getattr(getattr(self._model, "predictor", None), "model", None), "backend", None)
        if backend is None or not hasattr(backend, "ov_compiled_model") or getattr(backend, "ov", None) is None:
            return False
        try:
            ov = backend.ov
            core = ov.Core()
            xml = self.model_file if self.model_file.suffix == ".xml" else next(Path(self.model_file).glob("*.xml"))
            config = {"PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
            compiled = core.compile_model(core.read_model(str(xml)), "CPU", config)
            backend.ov_compiled_model = compiled
            if hasattr(backend, "compile_model"):
                from functools import partial

                backend.compile_model = partial(core.compile_model, device_name="CPU", config=config)
            return True
        except Exception:  # an ultralytics/OpenVINO change: keep its own compiled model
            return False

    def _choose_file(self) -> tuple[str, Path]:
        """(backend, file to load): a .pt for torch, else its cached export (made on first use)."""
        fixed = backend_of_file(self.path)
        wanted = self.cfg.resolved_backend()
        if fixed is not None:   # an exported file runs on the runtime it was exported for
            return fixed, self.path
        if wanted == "torch":
            return "torch", self.path
        from carebot import models

        try:
            return wanted, models.exported(self.path, wanted, self.cfg.imgsz)
        except (models.ExportError, OSError) as exc:
            self.fallback_reason = f"no {wanted} model ({exc}); running torch"
            return "torch", self.path

    def _load(self, path: Path):
        try:
            from ultralytics import YOLO

            model = YOLO(str(path), task="detect")
            dict(model.names)
            return model
        except Exception as exc:  # ultralytics raises many types for a broken file
            raise ModelLoadError(f"cannot load model {path}: {type(exc).__name__}: {exc}") from exc

    def _kwargs(self) -> dict:
        return dict(imgsz=self.cfg.imgsz, conf=min(self.cfg.conf, self.cfg.fall_conf), iou=self.cfg.iou, device=self.cfg.device,
                    half=self.cfg.half, classes=sorted(self.classes), agnostic_nms=True, verbose=False)

    def warmup(self) -> float:
        """One inference on a grey frame (first-call setup off the hot path); returns its ms."""
        frame = np.full((self.cfg.imgsz, self.cfg.imgsz, 3), 114, np.uint8)
        start = time.perf_counter()
        self._model.predict(frame, **self._kwargs())
        return (time.perf_counter() - start) * 1000.0

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """Persons in one BGR frame, without tracking (track_id None)."""
        bgr = equalise_if_dark(bgr, self.cfg.dark_luma)
        result = self._model.predict(bgr, **self._kwargs())[0]
        return self._look_again(bgr, self._detections(result, with_ids=False))

    def track(self, bgr: np.ndarray) -> list[Detection]:
        """Persons in the next frame of a stream, with tracker ids (None until a track is confirmed)."""
        bgr = equalise_if_dark(bgr, self.cfg.dark_luma)
        result = self._model.track(bgr, persist=True, tracker=self.cfg.tracker, **self._kwargs())[0]
        return self._look_again(bgr, self._detections(result, with_ids=True))

    def _look_again(self, bgr: np.ndarray, detections: list[Detection]) -> list[Detection]:
        if self._second is None or not needs_second_look(detections):
            return detections
        self.second_looks += 1
        return merge_looks(detections, self._second.detect(bgr))

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
            if label is None or score < (self.cfg.fall_conf if label is DetectionClass.FALL else self.cfg.conf):
                continue
            out.append(Detection(Box(float(x1), float(y1), float(x2), float(y2)), float(score), label,
                                 None if tid is None else int(tid)))
        return out
