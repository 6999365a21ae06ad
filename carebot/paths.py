"""Where carebot's files live: repository data, model files inside installed wheels."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_VARIABLE = "CAREBOT_STATE_DIR"


def package_dir(dist_module: str) -> Path | None:
    """Directory of an installed top-level package, found without importing it.

    Several model wheels import heavy or missing dependencies on import
    (fall_detection needs onnxruntime), so only their location is looked up.
    """
    spec = importlib.util.find_spec(dist_module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def cache_dir() -> Path:
    """Writable folder for prepared models (e.g. joined Whisper parts)."""
    base = os.environ.get("CAREBOT_CACHE") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "carebot"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_state_dir() -> Path:
    """The robot's state folder (the e-stop latch, residents' remembered facts):
    $CAREBOT_STATE_DIR, else $XDG_STATE_HOME/carebot, else ~/.local/state/carebot."""
    explicit = os.environ.get(STATE_DIR_VARIABLE)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "carebot"


def in_state_dir(path: str | Path) -> Path:
    """``path`` as given when absolute (``~`` expanded), else inside ``default_state_dir()``."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else default_state_dir() / path
