"""SQLite storage of the dashboard: alerts and their history, transcripts, sessions, audit.

Alerts and every state change (who acknowledged, when, with which note) are written
with ``synchronous=FULL`` before the change is published, so an acknowledgement
survives a crash of the node or the machine. Transcripts are personal data: they
expire after a configured time, and so do the details of alerts (where a person's own
words are quoted, carebot.i18n.alert_text): after the same time an alert keeps only its
headline. Sessions and trusted devices are stored as hashes of their tokens, so a
restart of the dashboard does not log the nurse station out and the file never holds a
usable token. Logins, failed logins, e-stop presses and resets go to ``audit_events``
(who, from where, when, what came of it). The file is created readable by its owner
only (0600, and 0700 for a folder it makes); a file found readable by others is
narrowed to 0600 when opened.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from carebot.dashboard.alerts import AlertKind, AlertRecord, AlertState, Severity

# 2: alerts.position_known and alerts.room (Alert.msg says both); 3: sessions with their start
# and account stamp (absolute lifetime, password changes), trusted devices, the audit trail.
SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, kind INTEGER NOT NULL, severity INTEGER NOT NULL,
    state INTEGER NOT NULL, person TEXT, place TEXT, room TEXT, position_known INTEGER NOT NULL DEFAULT 0,
    x REAL, y REAL, z REAL, frame_id TEXT, message TEXT, handled_by TEXT, note TEXT,
    raised_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alert_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, state INTEGER NOT NULL,
    actor TEXT NOT NULL, note TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS alert_events_by_alert ON alert_events (alert_id, seq);
CREATE TABLE IF NOT EXISTS transcripts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, text TEXT NOT NULL,
    language TEXT, confidence REAL, low_confidence INTEGER, speaker TEXT, source TEXT);
CREATE INDEX IF NOT EXISTS transcripts_by_time ON transcripts (at);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, expires_at REAL NOT NULL,
    created_at REAL NOT NULL, stamp TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trusted_devices (
    token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, created_at REAL NOT NULL, last_used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    client TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS audit_events_by_time ON audit_events (at);
"""
DETAILS_SEP = "\n"          # carebot.i18n.alert_text: the headline, then one line per detail
_ALERT_COLUMNS = ("id", "kind", "severity", "state", "person", "place", "room", "position_known", "x", "y", "z",
                  "frame_id", "message", "handled_by", "note", "raised_at", "updated_at")
# Schema 1 had neither column; its rows said "no position" with zeros, so that old guess is
# kept for them, and only for them.
_MIGRATE_1_TO_2 = ("ALTER TABLE alerts ADD COLUMN room TEXT",
                   "ALTER TABLE alerts ADD COLUMN position_known INTEGER NOT NULL DEFAULT 0",
                   "UPDATE alerts SET position_known = (x != 0 OR y != 0 OR z != 0)")


@dataclass(frozen=True)
class TranscriptEntry:
    """One line of the transcript log (heard by speech, or typed in the chat)."""

    at: float                  # unix time, s
    text: str
    language: str = ""
    confidence: float = 0.0    # 0..1
    low_confidence: bool = False
    speaker: str = ""
    source: str = ""

    def to_json(self) -> dict:
        return {"at": self.at, "text": self.text, "language": self.language,
                "confidence": round(self.confidence, 3), "low_confidence": self.low_confidence,
                "speaker": self.speaker, "source": self.source}


@dataclass(frozen=True)
class AuditEvent:
    """One line of the audit trail: a login, a failed login, an e-stop press or reset ..."""

    at: float              # unix time, s
    actor: str             # the account (or the name tried, for a failed login)
    action: str            # login, login_failed, login_throttled, logout, estop, estop_reset, denied
    client: str = ""       # the client's address
    detail: str = ""       # e.g. the reason given for a reset
    outcome: str = ""      # ok, refused, failed: what came of it

    def to_json(self) -> dict:
        return {"at": self.at, "actor": self.actor, "action": self.action, "client": self.client,
                "detail": self.detail, "outcome": self.outcome}


@dataclass(frozen=True)
class AlertEvent:
    alert_id: str
    state: AlertState
    actor: str
    note: str
    at: float


def default_database() -> Path:
    """``$XDG_DATA_HOME/carebot/dashboard.sqlite3`` (``~/.local/share`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "carebot" / "dashboard.sqlite3"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class DashboardStore:
    """One SQLite file, shared by the ROS callbacks and the HTTP threads (one lock)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.permission_notes: list[str] = []      # what was narrowed on open (the node logs it)
        if str(path) != ":memory:":
            self.permission_notes = _private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")   # an acknowledgement must survive power loss
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _migrate(self) -> None:
        """Bring a database written by an older dashboard to SCHEMA_VERSION."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(alerts)")}
        if "position_known" not in columns:
            with self._db:
                self._db.execute("BEGIN")
                for statement in _MIGRATE_1_TO_2:
                    self._db.execute(statement)
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
        if "stamp" not in columns:
            # Schema 2 sessions know neither their start nor the password they were made with:
            # they end (staff log in once more) rather than live on without an absolute limit.
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute("DROP TABLE sessions")
                self._db.execute("CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, "
                                 "expires_at REAL NOT NULL, created_at REAL NOT NULL, stamp TEXT NOT NULL)")
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ alerts
    def save_alert(self, record: AlertRecord, actor: str) -> None:
        """Insert or replace the alert and append its state change to the history."""
        values = tuple(int(v) if isinstance(v, (AlertKind, Severity, AlertState, bool)) else v
                       for v in (_column(record, c) for c in _ALERT_COLUMNS))
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(f"INSERT OR REPLACE INTO alerts ({', '.join(_ALERT_COLUMNS)}) "
                             f"VALUES ({', '.join('?' * len(_ALERT_COLUMNS))})", values)
            self._db.execute("INSERT INTO alert_events (alert_id, state, actor, note, at) VALUES (?, ?, ?, ?, ?)",
                             (record.id, int(record.state), actor, record.note, record.updated_at))

    def get_alert(self, alert_id: str) -> AlertRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_ALERT_COLUMNS)} FROM alerts WHERE id = ?",
                                   (alert_id,)).fetchone()
        return _alert(row) if row else None

    def list_alerts(self, resolved_limit: int = 20) -> list[AlertRecord]:
        """Open alerts (critical and newest first), then the newest resolved ones."""
        columns = ", ".join(_ALERT_COLUMNS)
        with self._lock:
            open_rows = self._db.execute(
                f"SELECT {columns} FROM alerts WHERE state != ? ORDER BY severity DESC, raised_at DESC",
                (int(AlertState.RESOLVED),)).fetchall()
            done_rows = self._db.execute(
                f"SELECT {columns} FROM alerts WHERE state = ? ORDER BY updated_at DESC LIMIT ?",
                (int(AlertState.RESOLVED), resolved_limit)).fetchall()
        return [_alert(row) for row in open_rows + done_rows]

    def alert_history(self, alert_id: str) -> list[AlertEvent]:
        with self._lock:
            rows = self._db.execute("SELECT alert_id, state, actor, note, at FROM alert_events "
                                    "WHERE alert_id = ? ORDER BY seq", (alert_id,)).fetchall()
        return [AlertEvent(r[0], AlertState(r[1]), r[2], r[3] or "", r[4]) for r in rows]

    # ------------------------------------------------------------------ transcripts
    def add_transcript(self, entry: TranscriptEntry) -> None:
        with self._lock:
            self._db.execute("INSERT INTO transcripts (at, text, language, confidence, low_confidence, "
                             "speaker, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (entry.at, entry.text, entry.language, float(entry.confidence),
                              int(entry.low_confidence), entry.speaker, entry.source))

    def transcripts(self, limit: int = 100, since: float = 0.0) -> list[TranscriptEntry]:
        """Newest last, at most ``limit``, not older than ``since``."""
        with self._lock:
            rows = self._db.execute("SELECT at, text, language, confidence, low_confidence, speaker, source "
                                    "FROM transcripts WHERE at >= ? ORDER BY seq DESC LIMIT ?",
                                    (since, limit)).fetchall()
        return [TranscriptEntry(r[0], r[1], r[2] or "", r[3] or 0.0, bool(r[4]), r[5] or "", r[6] or "")
                for r in reversed(rows)]

    def expire_transcripts(self, older_than: float) -> int:
        """Delete transcripts recorded before ``older_than`` (unix s); returns how many."""
        with self._lock:
            return self._db.execute("DELETE FROM transcripts WHERE at < ?", (older_than,)).rowcount

    def expire_alert_details(self, older_than: float) -> int:
        """Cut alerts last changed before ``older_than`` (unix s) to their headline: the details
        are where people's own words are quoted. Returns how many alerts were cut."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            rows = self._db.execute("SELECT id, message FROM alerts WHERE updated_at < ? AND instr(message, ?) > 0",
                                    (older_than, DETAILS_SEP)).fetchall()
            for alert_id, message in rows:
                self._db.execute("UPDATE alerts SET message = ? WHERE id = ?",
                                 (message.split(DETAILS_SEP, 1)[0], alert_id))
        return len(rows)

    # ------------------------------------------------------------------ audit
    def add_audit(self, event: AuditEvent) -> None:
        with self._lock:
            self._db.execute("INSERT INTO audit_events (at, actor, action, client, detail, outcome) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (event.at, event.actor[:100], event.action, event.client[:64],
                                                           event.detail[:500], event.outcome[:200]))

    def audit_events(self, limit: int = 200, since: float = 0.0, action: str = "") -> list[AuditEvent]:
        """Newest last, at most ``limit``, not older than ``since``, of one action when given."""
        query = "SELECT at, actor, action, client, detail, outcome FROM audit_events WHERE at >= ?"
        args: list = [since]
        if action:
            query += " AND action = ?"
            args.append(action)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [AuditEvent(*row) for row in reversed(rows)]

    def expire_audit(self, older_than: float) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM audit_events WHERE at < ?", (older_than,)).rowcount

    # ------------------------------------------------------------------ sessions
    def save_session(self, token: str, user: str, expires_at: float, created_at: float | None = None,
                     stamp: str = "") -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?)",
                             (token_hash(token), user, expires_at,
                              time.time() if created_at is None else created_at, stamp))

    def session_row(self, token: str) -> tuple[str, float, float, str] | None:
        """(user, expires_at, created_at, stamp) of a stored session, else None."""
        with self._lock:
            return self._db.execute("SELECT user, expires_at, created_at, stamp FROM sessions WHERE token_hash = ?",
                                    (token_hash(token),)).fetchone()

    def session_user(self, token: str, now: float) -> tuple[str, float] | None:
        """(user, expires_at) of a session not expired at ``now``, else None."""
        row = self.session_row(token)
        if row is None or row[1] <= now:
            return None
        return row[0], row[1]

    def touch_session(self, token: str, expires_at: float) -> None:
        with self._lock:
            self._db.execute("UPDATE sessions SET expires_at = ? WHERE token_hash = ?", (expires_at, token_hash(token)))

    def prune_sessions(self, user: str, keep: int) -> int:
        """Keep the ``keep`` newest sessions of an account; returns how many older ones ended."""
        with self._lock:
            return self._db.execute(
                "DELETE FROM sessions WHERE user = ? AND token_hash NOT IN (SELECT token_hash FROM sessions "
                "WHERE user = ? ORDER BY created_at DESC LIMIT ?)", (user, user, keep)).rowcount

    # ------------------------------------------------------------------ trusted devices
    def save_device(self, token: str, user: str, now: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO trusted_devices VALUES (?, ?, ?, ?)",
                             (token_hash(token), user, now, now))

    def device_user(self, token: str) -> tuple[str, float] | None:
        """(user, created_at) of a trusted device token, else None."""
        with self._lock:
            return self._db.execute("SELECT user, created_at FROM trusted_devices WHERE token_hash = ?",
                                    (token_hash(token),)).fetchone()

    def expire_devices(self, older_than: float) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM trusted_devices WHERE created_at < ?", (older_than,)).rowcount

    def delete_session(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))

    def expire_sessions(self, now: float | None = None) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM sessions WHERE expires_at <= ?",
                                    (time.time() if now is None else now,)).rowcount


def _private_file(path: Path) -> list[str]:
    """Make the database file (and a folder made for it) private to this user before SQLite
    opens it; narrow an existing file (and its WAL and shared-memory files) that others can
    read. Returns what was narrowed."""
    notes = []
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(file, mode & 0o700)
            notes.append(f"{file} was readable by others (mode {mode:04o}): now {mode & 0o700:04o}")
    return notes


def _column(record: AlertRecord, column: str):
    """The value a record stores in one column (the position in three, said known or not)."""
    if column in ("x", "y", "z"):
        return record.position["xyz".index(column)] if record.position is not None else 0.0
    return getattr(record, column)


def _alert(row) -> AlertRecord:
    data = dict(zip(_ALERT_COLUMNS, row))
    data["kind"] = AlertKind(data["kind"])
    data["severity"] = Severity(data["severity"])
    data["state"] = AlertState(data["state"])
    for key in ("person", "place", "room", "frame_id", "message", "handled_by", "note"):
        data[key] = data[key] or ""
    xyz = (data.pop("x") or 0.0, data.pop("y") or 0.0, data.pop("z") or 0.0)
    data["position"] = xyz if data.pop("position_known") else None
    return AlertRecord(**data)
