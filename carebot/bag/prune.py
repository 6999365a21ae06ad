"""Transcripts follow the site's retention inside bags too (no rclpy).

A bag that recorded transcripts carries, in metadata.yaml's custom_data, when they expire
(the end of the recording plus ``dashboard.transcript_retention_s``). ``prune`` rewrites
such a bag without its transcript topics once that time has passed; everything else in
the bag is kept as it was. ``carebot bag prune`` runs it, and so does every
``carebot bag record`` on the bags beside the one it starts.
"""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

from carebot.bag.store import METADATA_FILE, BagError, copy_bag, read_info
from carebot.bag.topics import expired_topics, removal_data

SEARCH_DEPTH = 2          # bags directly in a folder or one level down (carebot demo: out/<scenario>/bag)


def find_bags(root: Path) -> list[Path]:
    """Bag folders (with metadata.yaml) at ``root`` or up to two levels below it."""
    root = Path(root)
    if (root / METADATA_FILE).is_file():
        return [root]
    found = []
    if root.is_dir():
        for depth in range(1, SEARCH_DEPTH + 1):
            found += [p.parent for p in root.glob("/".join(["*"] * depth) + "/" + METADATA_FILE)]
    return sorted(set(found))


def prune(bag: Path, now: _dt.datetime | None = None) -> list[str]:
    """Remove the bag's expired transcript topics (rewrites the bag); returns the topics removed."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    bag = Path(bag)
    info = read_info(bag)
    # Only topics the bag holds: a clip cut without them keeps its parent's expiry note and stays as it is.
    expired = [t for t in expired_topics(info.custom_data, now) if info.topic(t) is not None]
    if not expired:
        return []
    keep = [t.name for t in info.topics if t.name not in expired]
    stem = info.files[0].name.rsplit("_", 1)[0] if info.files else bag.name
    work = bag.parent / f".{bag.name}.pruning"
    old = bag.parent / f".{bag.name}.old"
    shutil.rmtree(work, ignore_errors=True)
    try:
        copy_bag(bag, work, topics=keep, custom_data=removal_data(now), file_stem=stem)
    except BagError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    # Swap folders: the old bag (with transcripts) goes only once the new one is complete.
    bag.rename(old)
    work.rename(bag)
    shutil.rmtree(old)
    return expired
