"""The fleet view's own tables, in the same SQLite file as the dashboard's store it reuses
(alerts, their history, sessions): which robot raised each alert, and every staff action
sent to robots (the audit trail: who, what, which robot, when, and what came of it)."""
from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fleet_alert_origin (
    alert_id TEXT PRIMARY KEY, site TEXT NOT NULL, robot TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fleet_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, staff TEXT NOT NULL, action TEXT NOT NULL,
    site TEXT NOT NULL, robot TEXT NOT NULL, detail TEXT, result TEXT);
"""


@dataclass(frozen=True)
class StaffActionRow:
    at: float
    staff: str
    action: str
    site: str
    robot: str
    detail: str
    result: str


class FleetStore:
    """Origins of alerts and the staff actions audit, next to the dashboard's tables."""

    def __init__(self, path: str | Path):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA synchronous=FULL")    # a staff action's record survives a crash
        self._db.executescript(_SCHEMA)

    def set_origin(self, alert_id: str, site: str, robot: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO fleet_alert_origin VALUES (?, ?, ?)", (alert_id, site, robot))

    def origins(self) -> dict[str, tuple[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT alert_id, site, robot FROM fleet_alert_origin").fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def record_action(self, row: StaffActionRow) -> None:
        with self._lock:
            self._db.execute("INSERT INTO fleet_actions (at, staff, action, site, robot, detail, result) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (row.at, row.staff, row.action, row.site, row.robot, row.detail, row.result))

    def actions(self, limit: int = 100) -> list[StaffActionRow]:
        with self._lock:
            rows = self._db.execute("SELECT at, staff, action, site, robot, detail, result FROM fleet_actions "
                                    "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [StaffActionRow(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
