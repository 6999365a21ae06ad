"""Recorded utterances on disk (``record_dir``): raw audio of people, so private and short-lived.

Files are written readable by their owner only, in a folder made 0700, and deleted once
older than ``record_retention_s`` (the node sweeps every minute). Pure: no ROS.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

PATTERN = "utterance-*.wav"


def private_folder(folder: Path) -> Path:
    """Make ``folder`` (0700 when made here) and return it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def make_private(path: Path) -> None:
    """Narrow a written recording to its owner (0600)."""
    os.chmod(path, 0o600)


def expire(folder: Path, retention_s: float, now: float | None = None) -> int:
    """Delete recordings in ``folder`` last written more than ``retention_s`` ago; returns how many."""
    now = time.time() if now is None else now
    removed = 0
    for path in folder.glob(PATTERN):
        try:
            if now - path.stat().st_mtime > retention_s:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
