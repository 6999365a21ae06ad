"""``carebot residents``: what residents chose to have the robot remember, for staff.

    carebot residents list                    # who is on record: consent, how many facts
    carebot residents show room_101           # what room_101 told: kind, relation, value
    carebot residents forget room_101         # every fact, the consent and the voice print, gone at once

The file is the brain's ``resident_memory_path`` of the site (relative paths are in the
robot's state folder, $CAREBOT_STATE_DIR or ~/.local/state/carebot), or ``--db``. The
running brain may keep writing while this reads: SQLite in WAL mode allows both.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from carebot.bringup import SITES, file_parameter, site_config


def register(subparsers) -> None:
    parser = subparsers.add_parser("residents", help="list, show or forget what residents asked the robot to remember",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("list", "show", "forget"))
    parser.add_argument("resident", nargs="?", default="", help="the resident (show, forget)")
    parser.add_argument("--site", choices=SITES, default="care_home", help="site whose brain settings name the file")
    parser.add_argument("--db", type=Path, help="the SQLite file itself instead of the site's")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _site_state_file(site: str, node: str, parameter: str) -> Path | None:
    """A file a node of the site keeps in the state folder, as its site file names it (None: none)."""
    from carebot.paths import in_state_dir

    path = str(file_parameter(site_config(site), node, parameter) or "")
    return in_state_dir(path) if path else None


def memory_file(site: str, db: Path | None) -> Path:
    """The resident memory file: ``db``, else the site's brain.resident_memory_path.
    ValueError when the site keeps nothing."""
    if db is not None:
        return db.expanduser()
    path = _site_state_file(site, "brain", "resident_memory_path")
    if path is None:
        raise ValueError(f"site {site} keeps no resident memory (brain.resident_memory_path is empty)")
    return path


def voice_book_file(site: str) -> Path | None:
    """The speech node's voice book of the site (None when it keeps none)."""
    return _site_state_file(site, "speech", "voice_book_path")


def forget_voice(site: str, resident: str) -> bool:
    """Removes the resident's voice print from the site's voice book (the running speech node
    re-reads the file before its next utterance). False when there was none."""
    from carebot.voice_book import forget_in_file

    path = voice_book_file(site)
    return path is not None and forget_in_file(path, resident)


def run(args: argparse.Namespace) -> int:
    from carebot.brain.resident_memory import ResidentMemory

    if args.action in ("show", "forget") and not args.resident:
        print(f"carebot residents {args.action}: name the resident", file=sys.stderr)
        return 2
    try:
        path = memory_file(args.site, args.db)
    except ValueError as exc:
        print(f"carebot residents: {exc}", file=sys.stderr)
        return 2
    if not path.is_file():
        # Nothing was ever kept (and a listing must not create the file).
        print(f"carebot residents: no resident memory at {path} (nothing has been kept)", file=sys.stderr)
        if args.action == "forget" and args.db is None and forget_voice(args.site, args.resident):
            print(f"forgot the voice print of {args.resident}")
        return 0 if args.action != "show" else 1
    memory = ResidentMemory(path)
    try:
        if args.action == "list":
            rows = memory.residents()
            if args.json:
                print(json.dumps([{"resident": r, "consent": c, "facts": n} for r, c, n in rows]))
            else:
                consent = {True: "yes", False: "no", None: "not asked"}
                for resident, granted, count in rows:
                    print(f"{resident}\tconsent {consent[granted]}\t{count} fact(s)")
        elif args.action == "show":
            facts = memory.facts(args.resident)
            if args.json:
                print(json.dumps([{"kind": f.kind, "relation": f.relation, "value": f.value,
                                   "language": f.language} for f in facts], ensure_ascii=False))
            else:
                for fact in facts:
                    print(f"{fact.kind}\t{fact.relation or '-'}\t{fact.value}")
        else:
            gone = memory.forget(args.resident)
            voice = forget_voice(args.site, args.resident) if args.db is None else False
            print(json.dumps({"resident": args.resident, "forgotten": gone, "voice_print": voice}) if args.json
                  else f"forgot {gone} fact(s) and the consent of {args.resident}"
                       + (", and their voice print" if voice else ""))
    finally:
        memory.close()
    return 0
