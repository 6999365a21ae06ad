"""Alert life cycle and storage: nothing is lost, nothing moves backwards."""
from dataclasses import replace

import pytest

from carebot.dashboard.alerts import (AlertActionError, AlertBook, AlertKind, AlertRecord, AlertState,
                                      Severity, StaffAction, merge_incoming)
from carebot.dashboard.store import DashboardStore, TranscriptEntry


def _alert(state=AlertState.RAISED, **kw):
    base = dict(id="fall-1", kind=AlertKind.FALL, severity=Severity.CRITICAL, state=state,
                place="lounge", message="Resident down in the lounge", raised_at=50.0, updated_at=50.0)
    base.update(kw)
    return AlertRecord(**base)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        self.now += 1.0
        return self.now


@pytest.fixture()
def book(tmp_path):
    store = DashboardStore(tmp_path / "alerts.sqlite3")
    published = []
    yield AlertBook(store, publish=published.append, clock=Clock()), store, published
    store.close()


def test_enum_values_match_the_messages():
    from carebot_interfaces.msg import Alert
    from carebot_interfaces.srv import UpdateAlert

    for kind in AlertKind:
        assert getattr(Alert, f"KIND_{kind.name}") == kind
    for severity in Severity:
        assert getattr(Alert, f"SEVERITY_{severity.name}") == severity
    for state in AlertState:
        assert getattr(Alert, f"STATE_{state.name}") == state
    for action in StaffAction:
        assert getattr(UpdateAlert.Request, f"ACTION_{action.name}") == action


def test_merge_never_moves_backwards_and_ignores_echoes():
    acked = _alert(AlertState.ACKNOWLEDGED, handled_by="nurse")
    assert merge_incoming(acked, _alert(AlertState.RAISED)) is None
    assert merge_incoming(acked, _alert(AlertState.ESCALATED)) is None
    assert merge_incoming(acked, _alert(AlertState.ACKNOWLEDGED, handled_by="nurse", updated_at=51.0)) is None
    escalated = merge_incoming(_alert(), _alert(AlertState.ESCALATED, raised_at=60.0))
    assert escalated.state is AlertState.ESCALATED and escalated.raised_at == 50.0


def test_a_machine_cannot_close_what_staff_must_close():
    # perception (or an old sender) says RESOLVED with no staff account: words kept, state kept
    up = _alert(AlertState.RESOLVED, message="Resident up again")
    merged = merge_incoming(_alert(), up)
    assert merged.state is AlertState.RAISED and merged.message == "Resident up again"
    escalated = _alert(AlertState.ESCALATED, message="escalated: no answer")
    assert merge_incoming(escalated, up).state is AlertState.ESCALATED
    assert merge_incoming(None, up).state is AlertState.RAISED        # never seen open: staff must see it
    acked = _alert(AlertState.ACKNOWLEDGED, handled_by="nurse")
    kept = merge_incoming(acked, _alert(AlertState.RESOLVED, message="gone"))
    assert kept.state is AlertState.ACKNOWLEDGED and kept.handled_by == "nurse"
    assert merge_incoming(_alert(), _alert(AlertState.ACKNOWLEDGED)) is None   # no staff account: no change
    # a staff member's decision heard from another dashboard counts
    other = merge_incoming(_alert(), _alert(AlertState.RESOLVED, handled_by="night_nurse"))
    assert other.state is AlertState.RESOLVED and other.handled_by == "night_nurse"


def test_system_alerts_are_resolved_by_the_machine_that_raised_them():
    system = _alert(id="system-perception", kind=AlertKind.SYSTEM, severity=Severity.WARNING,
                    message="perception died")
    healthy = replace(system, state=AlertState.RESOLVED, message="perception healthy again")
    assert merge_incoming(system, healthy).state is AlertState.RESOLVED
    acked = replace(system, state=AlertState.ACKNOWLEDGED, handled_by="nurse")
    resolved = merge_incoming(acked, healthy)
    assert resolved.state is AlertState.RESOLVED and resolved.handled_by == "nurse"
    assert merge_incoming(system, replace(system, state=AlertState.ACKNOWLEDGED)) is None   # no staff: no change


def test_a_resolved_alert_stays_resolved_and_severity_never_drops():
    done = _alert(AlertState.RESOLVED, handled_by="nurse")
    assert merge_incoming(done, _alert(AlertState.RESOLVED, handled_by="other", message="x")) is None
    assert merge_incoming(done, _alert(message="replayed from a durable history")) is None
    lower = merge_incoming(_alert(), _alert(severity=Severity.WARNING, message="person up again"))
    assert lower.severity is Severity.CRITICAL and lower.message == "person up again"
    higher = merge_incoming(_alert(severity=Severity.WARNING), _alert(AlertState.ESCALATED))
    assert higher.severity is Severity.CRITICAL


def test_replayed_history_after_a_restart_changes_nothing(book):
    # a restarted dashboard hears each sender's kept changes again, in any order
    book, store, _ = book
    book.receive(_alert())
    book.receive(_alert(AlertState.ESCALATED, message="escalated"))
    book.act("fall-1", StaffAction.RESOLVE, "nurse", "helped up")
    before = store.alert_history("fall-1")
    for replay in (_alert(AlertState.ESCALATED, message="escalated"), _alert(),
                   _alert(message="person up again")):
        assert book.receive(replay) is None
    assert store.get_alert("fall-1").state is AlertState.RESOLVED
    assert store.alert_history("fall-1") == before


def test_staff_actions_are_stored_published_and_checked(book):
    book, store, published = book
    assert book.receive(_alert()) is not None
    assert book.receive(_alert()) is None                 # repeated publication: no change
    acked = book.act("fall-1", StaffAction.ACKNOWLEDGE, "nurse", "on my way")
    assert acked.state is AlertState.ACKNOWLEDGED and acked.handled_by == "nurse" and acked.note == "on my way"
    assert published == [acked]
    assert book.receive(acked) is None                    # our own publication comes back
    with pytest.raises(AlertActionError, match="already acknowledged"):
        book.act("fall-1", StaffAction.ACKNOWLEDGE, "other", "")
    resolved = book.act("fall-1", StaffAction.RESOLVE, "nurse", "")
    assert resolved.state is AlertState.RESOLVED and resolved.note == "on my way"
    with pytest.raises(AlertActionError, match="already resolved"):
        book.act("fall-1", StaffAction.RESOLVE, "nurse", "")
    with pytest.raises(AlertActionError, match="no alert"):
        book.act("nope", StaffAction.RESOLVE, "nurse", "")
    book.receive(_alert(id="x"))
    with pytest.raises(AlertActionError, match="staff"):
        book.act("x", StaffAction.RESOLVE, "  ", "")
    history = store.alert_history("fall-1")
    assert [(e.state, e.actor) for e in history] == [(AlertState.RAISED, "topic"),
                                                     (AlertState.ACKNOWLEDGED, "nurse"),
                                                     (AlertState.RESOLVED, "nurse")]
    assert store.get_alert("x").state is AlertState.RAISED


def test_alerts_survive_reopening_the_database(book, tmp_path):
    book, store, _ = book
    book.receive(_alert())
    book.receive(_alert(id="help-2", kind=AlertKind.HELP_REQUEST, severity=Severity.WARNING, raised_at=70.0))
    book.act("fall-1", StaffAction.ACKNOWLEDGE, "nurse", "")
    store.close()
    reopened = DashboardStore(tmp_path / "alerts.sqlite3")
    records = {r.id: r for r in reopened.list_alerts()}
    assert records["fall-1"].state is AlertState.ACKNOWLEDGED and records["fall-1"].handled_by == "nurse"
    assert records["help-2"].kind is AlertKind.HELP_REQUEST
    assert [r.id for r in reopened.list_alerts()] == ["fall-1", "help-2"]   # critical first
    reopened.close()


def test_bad_enum_values_are_refused(book):
    book, _, _ = book
    with pytest.raises(ValueError):
        book.receive(_alert(kind=9))
    with pytest.raises(ValueError, match="without id"):
        book.receive(_alert(id=""))


def test_transcripts_expire(tmp_path):
    store = DashboardStore(tmp_path / "t.sqlite3")
    store.add_transcript(TranscriptEntry(10.0, "old words"))
    store.add_transcript(TranscriptEntry(20.0, "new words", "en", 0.9))
    assert [e.text for e in store.transcripts()] == ["old words", "new words"]
    assert store.expire_transcripts(15.0) == 1
    assert [e.text for e in store.transcripts()] == ["new words"]
    store.close()


def test_sim_time_stamps_become_the_wall_clock_time_of_arrival(book):
    book, _, _ = book
    record = book.receive(_alert(id="sim-1", raised_at=12.5))       # 12.5 s of sim time
    assert record.raised_at > 100.0 and record.updated_at >= record.raised_at
    wall = book.receive(_alert(id="wall-1", raised_at=1.7e9))
    assert wall.raised_at == 1.7e9


def test_position_and_room_are_stored_as_said(tmp_path):
    store = DashboardStore(tmp_path / "p.sqlite3")
    origin = _alert(id="fall-origin", position=(0.0, 0.0, 0.0), room="lounge")   # a measured (0, 0)
    nowhere = _alert(id="help-1", kind=AlertKind.HELP_REQUEST, position=None)
    store.save_alert(origin, actor="topic")
    store.save_alert(nowhere, actor="topic")
    assert store.get_alert("fall-origin").position == (0.0, 0.0, 0.0)
    assert store.get_alert("fall-origin").room == "lounge"
    assert store.get_alert("help-1").position is None


def test_a_schema_1_database_is_migrated(tmp_path):
    """Rows of an older dashboard had no position_known: their zeros meant 'no position'."""
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE alerts (id TEXT PRIMARY KEY, kind INTEGER NOT NULL, severity INTEGER NOT NULL,
                state INTEGER NOT NULL, person TEXT, place TEXT, x REAL, y REAL, z REAL, frame_id TEXT,
                message TEXT, handled_by TEXT, note TEXT, raised_at REAL NOT NULL, updated_at REAL NOT NULL);
            INSERT INTO alerts VALUES ('a', 0, 2, 0, '', 'lounge', 0, 0, 0, 'map', 'm', '', '', 1, 1);
            INSERT INTO alerts VALUES ('b', 0, 2, 0, '', '', 2.5, 1.0, 0, 'map', 'm', '', '', 1, 1);
        """)
    store = DashboardStore(path)
    assert store.get_alert("a").position is None and store.get_alert("a").room == ""
    assert store.get_alert("b").position == (2.5, 1.0, 0.0)
    store.close()
    assert DashboardStore(path).get_alert("b").position == (2.5, 1.0, 0.0)   # a second open changes nothing
