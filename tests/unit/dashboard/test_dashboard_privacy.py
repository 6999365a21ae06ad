"""Personal data kept only as long as the site says: alert details (where people's words are
quoted) expire with the transcripts; no node logs what people said at INFO or above."""
import ast
from pathlib import Path

from carebot.dashboard.alerts import AlertBook, AlertKind, AlertRecord, AlertState, Severity
from carebot.dashboard.store import DashboardStore
from carebot.i18n import alert_text

CAREBOT = Path(__file__).resolve().parents[3] / "carebot"


def test_alert_details_expire_with_the_transcripts(tmp_path):
    store = DashboardStore(tmp_path / "p.sqlite3")
    book = AlertBook(store)
    quoted = alert_text.help_message("en", "MEDICAL", True, "my chest hurts, please get Anna")
    old = AlertRecord("help-1", AlertKind.HELP_REQUEST, Severity.CRITICAL, AlertState.RAISED, place="lounge",
                      message=quoted, raised_at=1000.0, updated_at=1000.0)
    new = AlertRecord("help-2", AlertKind.HELP_REQUEST, Severity.CRITICAL, AlertState.RAISED, place="lounge",
                      message=quoted, raised_at=5000.0, updated_at=5000.0)
    store.save_alert(old, "brain")
    store.save_alert(new, "brain")
    headline = alert_text.split(quoted)[0]
    assert "chest hurts" in quoted and "chest hurts" not in headline
    assert store.expire_alert_details(older_than=2000.0) == 1
    assert store.get_alert("help-1").message == headline           # the headline stays: what, where
    assert store.get_alert("help-2").message == quoted             # not old enough yet
    assert store.expire_alert_details(older_than=2000.0) == 0      # nothing left to cut
    raw = (tmp_path / "p.sqlite3").read_bytes() + (tmp_path / "p.sqlite3-wal").read_bytes()
    assert raw.count("chest hurts".encode()) >= 1                  # help-2 still there ...
    store.expire_alert_details(older_than=6000.0)
    assert "chest hurts" not in store.get_alert("help-2").message  # ... until its time too
    assert book is not None
    store.close()


# Names that hold what a person said or what the robot answered them.
_WORDS = ("text", "reply", "quote", "transcript")
# Log lines that may print such words, each with its reason.
_ALLOWED = {
    "sim/sim_node.py": "the simulation logs its scripted actors' lines (not people; not on a robot)",
    "perception/perception_node.py:alert.message": "a fall's message is made by perception itself (room, place, "
                                                   "seconds down, track id): no one's words",
}
_LOUD = ("info", "warning", "warn", "error", "fatal")


def _loud_log_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _LOUD:
            target = node.func.value
            if (isinstance(target, ast.Call) and isinstance(target.func, ast.Attribute)
                    and target.func.attr == "get_logger") or (isinstance(target, ast.Name)
                                                              and target.id in ("log", "logger")):
                yield node


def _printed_name(expr) -> str:
    """The last name of an expression printed as is (``item.text``, ``text[:60]``); '' for a
    computed value (``len(text)``: a count says nothing of the words)."""
    while isinstance(expr, ast.Subscript):
        expr = expr.value
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Name):
        return expr.id
    return ""


def _alert_message(expr) -> bool:
    """``alert.message``, ``changed.message``, ``record.message``: an alert's words quote people."""
    return isinstance(expr, ast.Attribute) and expr.attr == "message" and isinstance(expr.value, ast.Name) \
        and expr.value.id in ("alert", "changed", "record")


def test_no_node_logs_peoples_words_at_info_or_above():
    """Every INFO+ log call of a node that prints a transcript's text, a reply, a quote or an
    alert's message as is: none may remain (they go to DEBUG)."""
    found = []
    for path in sorted(CAREBOT.rglob("*_node.py")):
        rel = path.relative_to(CAREBOT).as_posix()
        if rel in _ALLOWED:
            continue
        for call in _loud_log_calls(ast.parse(path.read_text(encoding="utf-8"))):
            for value in ast.walk(call):
                if isinstance(value, ast.FormattedValue) and (
                        _printed_name(value.value) in _WORDS or _alert_message(value.value)) \
                        and f"{rel}:{ast.unparse(value.value)}" not in _ALLOWED:
                    found.append(f"{rel}:{call.lineno} {ast.unparse(value.value)}")
    assert found == [], "\n".join(found)
