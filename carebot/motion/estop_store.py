"""The e-stop latch on disk, so that a restarted base_safety starts as it stopped (no ROS).

A restarted node (``carebot up`` restarts a killed one within seconds) must not forget an
engaged emergency stop: the latch, why and when it was engaged, and the last reset (who,
why, when) are kept in one small JSON file under the robot's state folder. Writes are
atomic: a temporary file in the same folder, fsync, rename over the old file, fsync of the
folder; a power cut leaves either the old or the new state, never half a file.

Reading fails closed: a file that exists but cannot be read or understood (garbage, wrong
version, a latch that is not true/false) gives a *latched* state whose reason says what is
wrong; the bad file is kept beside it for a person to look at. Only a missing file (a
robot's first start) gives an unlatched state.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from carebot.paths import default_state_dir

FILE_NAME = "base_safety_estop.json"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 64 * 1024          # a state file is a few hundred bytes; more is not ours
MAX_TEXT = 500                      # characters kept of a reason, who or why


def state_file(state_dir: str | Path = "") -> Path:
    """The e-stop file in ``state_dir`` (empty: ``default_state_dir()``)."""
    folder = Path(state_dir).expanduser() if str(state_dir) else default_state_dir()
    return folder / FILE_NAME


@dataclass(frozen=True)
class Reset:
    """The last release of the e-stop."""

    who: str
    why: str
    at: float                       # unix time, s
    cleared: str                    # the reason of the stop that was released

    def to_json(self) -> dict:
        return {"who": self.who, "why": self.why, "at": self.at, "at_utc": utc(self.at), "cleared": self.cleared}


@dataclass(frozen=True)
class EstopState:
    latched: bool
    reason: str = ""                # why it is latched
    since: float = 0.0              # unix time it was engaged, s
    last_reset: Reset | None = None

    def engaged(self, reason: str, now: float | None = None) -> "EstopState":
        return EstopState(True, _text(reason) or "requested", time.time() if now is None else now, self.last_reset)

    def released(self, who: str, why: str, now: float | None = None) -> "EstopState":
        at = time.time() if now is None else now
        return EstopState(False, "", 0.0, Reset(_text(who), _text(why), at, self.reason))

    def to_json(self) -> dict:
        return {"version": FORMAT_VERSION, "latched": self.latched, "reason": self.reason,
                "since": self.since, "since_utc": utc(self.since) if self.latched else "",
                "last_reset": self.last_reset.to_json() if self.last_reset else None}


@dataclass(frozen=True)
class Loaded:
    state: EstopState
    problem: str = ""               # non-empty: the file was bad and the state is latched because of it
    fresh: bool = False             # no file yet (a first start)


def load(path: Path) -> Loaded:
    """The state in ``path``; a bad file gives a latched state and says why (fail closed)."""
    try:
        if path.is_dir():
            raise OSError("is a folder, not a file")
        size = path.stat().st_size
    except FileNotFoundError:
        return Loaded(EstopState(False), fresh=True)
    except OSError as exc:
        return _bad(path, f"cannot be read ({exc.strerror or exc})")
    try:
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{size} bytes, more than an e-stop state ever holds")
        data = json.loads(path.read_text(encoding="utf-8"))
        return Loaded(_parse(data))
    except OSError as exc:
        return _bad(path, f"cannot be read ({exc.strerror or exc})")
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        return _bad(path, f"is not a valid e-stop state ({exc})")


def _parse(data) -> EstopState:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"version {data.get('version')!r}, expected {FORMAT_VERSION}")
    latched = data["latched"]
    if not isinstance(latched, bool):
        raise ValueError(f"latched is {latched!r}, not true or false")
    reset = data.get("last_reset")
    last = None
    if reset is not None:
        if not isinstance(reset, dict):
            raise ValueError("last_reset is not an object")
        last = Reset(_text(reset.get("who", "")), _text(reset.get("why", "")), _number(reset.get("at", 0.0)),
                     _text(reset.get("cleared", "")))
    return EstopState(latched, _text(data.get("reason", "")), _number(data.get("since", 0.0)), last)


def _bad(path: Path, why: str) -> Loaded:
    problem = f"e-stop state file {path} {why}"
    return Loaded(EstopState(True, f"{problem}: starting latched", time.time()), problem)


def save(path: Path, state: EstopState) -> None:
    """Write ``state`` atomically (temp file + fsync + rename + fsync of the folder). Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(state.to_json(), indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)            # the rename itself survives a power cut
    finally:
        os.close(folder)


def keep_bad_file(path: Path, now: float | None = None) -> Path | None:
    """Move an unreadable state file aside (``<name>.bad-<time>``) so a person can look at it."""
    target = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}")
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value.strip()[:MAX_TEXT]


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def utc(t: float) -> str:
    """Unix time as ISO 8601 UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class PersistentLatch:
    """The e-stop latch and its file: what base_safety keeps across restarts.

    ``open()`` reads the file (failing closed), ``engage`` latches and writes, ``release``
    writes the reset first and clears the latch only when that write succeeded: a reset
    that cannot be recorded is refused, and the robot stays stopped.
    """

    def __init__(self, path: Path, clock=time.time):
        self.path = path
        self.clock = clock
        self.state = EstopState(False)
        self.write_error = ""               # the last failed write ("" after a good one)

    def open(self) -> list[str]:
        """Load the state; returns log lines (warnings) for anything a person should know."""
        notes = []
        loaded = load(self.path)
        self.state = loaded.state
        if loaded.problem:
            kept = keep_bad_file(self.path, self.clock()) if self.path.is_file() else None
            notes.append(f"{loaded.problem}; starting LATCHED" + (f" (bad file kept as {kept})" if kept else ""))
        elif loaded.fresh:
            notes.append(f"no e-stop state file yet: starting unlatched, state kept in {self.path}")
        elif self.state.latched:
            notes.append(f"e-stop was latched before this start ({self.state.reason}, since "
                         f"{utc(self.state.since)}): starting LATCHED")
        error = self._write(self.state)     # proves the folder is writable; replaces a bad file
        if error:
            notes.append(error)
        return notes

    @property
    def latched(self) -> bool:
        return self.state.latched

    def engage(self, reason: str) -> str:
        """Latch (once); returns a write error ('' when persisted or already latched)."""
        if self.state.latched:
            return ""
        self.state = self.state.engaged(reason, self.clock())
        return self._write(self.state)

    def release(self, who: str, why: str) -> tuple[bool, str]:
        """(released, message). Refused without who and why, or when the reset cannot be written."""
        who, why = (who or "").strip(), (why or "").strip()
        if not who or not why:
            return False, "refused: say who resets the emergency stop and why"
        if not self.state.latched:
            return True, "emergency stop was not engaged"
        released = self.state.released(who, why, self.clock())
        error = self._write(released)
        if error:
            return False, f"refused: {error}; the emergency stop stays engaged"
        cleared = self.state.reason
        self.state = released
        return True, f"emergency stop reset by {released.last_reset.who}: {released.last_reset.why} (was: {cleared})"

    def _write(self, state: EstopState) -> str:
        try:
            save(self.path, state)
        except OSError as exc:
            self.write_error = f"cannot write the e-stop state file {self.path} ({exc.strerror or exc})"
            return self.write_error
        self.write_error = ""
        return ""
