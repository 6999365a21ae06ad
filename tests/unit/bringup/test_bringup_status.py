"""The diagnostics summary behind `carebot status` and the dashboard's health table."""
from carebot.diagnostics import Level
from carebot.diagnostics_board import DiagnosticsBoard, StatusEntry, format_table, level_of, worst


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_newest_entry_wins_and_silent_nodes_turn_stale():
    clock = Clock()
    board = DiagnosticsBoard(stale_after_s=5.0, clock=clock)
    board.update([StatusEntry("carebot/brain", Level.WARN, "llm slow"), StatusEntry("carebot/speech", Level.OK, "ok")])
    clock.now += 3
    board.update([StatusEntry("carebot/speech", Level.ERROR, "mic gone", values=(("device", "pulse"),))])
    entries = {e.name: e for e in board.entries()}
    assert entries["carebot/speech"].level is Level.ERROR
    clock.now += 3                       # brain last heard 6 s ago
    entries = {e.name: e for e in board.entries()}
    assert entries["carebot/brain"].level is Level.STALE and "llm slow" in entries["carebot/brain"].message
    assert entries["carebot/speech"].level is Level.ERROR


def test_level_of_bytes_and_unknown_values():
    assert level_of(b"\x01") is Level.WARN
    assert level_of(7) is Level.ERROR


def test_table_lists_each_node_and_the_overall_level():
    entries = [StatusEntry("carebot/a", Level.OK, "fine", values=(("rate_hz", "9.8"),)),
               StatusEntry("carebot/bb", Level.WARN, "slow")]
    text = format_table(entries, verbose=True)
    assert "carebot/a   OK     fine" in text and "rate_hz = 9.8" in text
    assert text.splitlines()[-1] == "overall: WARN (1 OK, 1 WARN)"
    assert worst(entries) is Level.WARN and worst([]) is Level.STALE
    assert "no diagnostics" in format_table([])
