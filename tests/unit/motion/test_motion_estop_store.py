"""The e-stop state file without ROS: atomic writes, restarts, resets with who and why, bad files fail closed."""
from __future__ import annotations

import json
import os

import pytest

from carebot.motion import estop_store
from carebot.motion.estop_store import EstopState, PersistentLatch, load, save, state_file


def test_default_state_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CAREBOT_STATE_DIR", str(tmp_path / "robot"))
    assert state_file("") == tmp_path / "robot" / estop_store.FILE_NAME
    monkeypatch.delenv("CAREBOT_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_file("") == tmp_path / "xdg" / "carebot" / estop_store.FILE_NAME
    assert state_file(tmp_path / "x") == tmp_path / "x" / estop_store.FILE_NAME


def test_latch_survives_a_restart_and_a_reset_is_recorded(tmp_path):
    path = tmp_path / "state" / "estop.json"
    first = PersistentLatch(path, clock=lambda: 1000.0)
    notes = first.open()
    assert not first.latched and "no e-stop state file yet" in notes[0]
    assert path.is_file() and not load(path).state.latched          # written at start: the folder works
    assert first.engage("safety/estop topic") == ""
    # a new process (the old one was SIGKILLed: nothing else was written)
    second = PersistentLatch(path, clock=lambda: 2000.0)
    notes = second.open()
    assert second.latched and second.state.reason == "safety/estop topic" and second.state.since == 1000.0
    assert "starting LATCHED" in notes[0]
    ok, message = second.release("", "path clear")
    assert not ok and "say who" in message and second.latched
    ok, message = second.release("nurse:anna", "resident helped up, path clear")
    assert ok and "nurse:anna" in message and "safety/estop topic" in message
    data = json.loads(path.read_text())
    assert data["latched"] is False
    assert data["last_reset"]["who"] == "nurse:anna" and data["last_reset"]["why"] == "resident helped up, path clear"
    assert data["last_reset"]["at"] == 2000.0 and data["last_reset"]["cleared"] == "safety/estop topic"
    third = PersistentLatch(path)
    third.open()
    assert not third.latched and third.state.last_reset.who == "nurse:anna"


@pytest.mark.parametrize("content", [b"", b"{", b"\x00\xff garbage", b"[]", b'{"version": 1}',
                                     b'{"version": 1, "latched": "no"}', b'{"version": 2, "latched": false}',
                                     b'{"version": 1, "latched": false, "last_reset": 5}',
                                     b'{"version": 1, "latched": false, "reason": 3}'])
def test_a_bad_file_starts_latched_says_why_and_is_kept(tmp_path, content):
    path = tmp_path / "estop.json"
    path.write_bytes(content)
    latch = PersistentLatch(path)
    notes = latch.open()
    assert latch.latched
    assert "is not a valid e-stop state" in latch.state.reason and str(path) in latch.state.reason
    assert "starting LATCHED" in notes[0] and "bad file kept as" in notes[0]
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("estop.json.bad-")]
    assert len(kept) == 1 and kept[0].read_bytes() == content
    # the new file says latched, so another restart stays latched too
    again = PersistentLatch(path)
    again.open()
    assert again.latched


def test_an_unreadable_file_starts_latched(tmp_path):
    path = tmp_path / "estop.json"
    path.mkdir()                                      # a folder where the file should be
    latch = PersistentLatch(path)
    notes = latch.open()
    assert latch.latched and "cannot be read" in latch.state.reason
    assert latch.write_error                          # and it cannot be written either: said, not hidden
    ok, message = latch.release("nurse", "checked")   # a reset that cannot be recorded is refused
    assert not ok and "cannot write" in message and latch.latched
    assert any("cannot write" in n for n in notes)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_starts_latched(tmp_path):
    path = tmp_path / "estop.json"
    save(path, EstopState(False))
    path.chmod(0)
    assert load(path).state.latched and "cannot be read" in load(path).problem


def test_an_oversized_file_is_not_read(tmp_path):
    path = tmp_path / "estop.json"
    path.write_text(" " * (estop_store.MAX_FILE_BYTES + 1))
    loaded = load(path)
    assert loaded.state.latched and "bytes" in loaded.problem


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "estop.json"
    save(path, EstopState(True, "button", 5.0))
    real_replace = os.replace

    def crash(src, dst):                              # power cut between write and rename
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", crash)
    latch = PersistentLatch(path)
    latch.state = EstopState(True, "button", 5.0)
    ok, message = latch.release("nurse", "clear")
    assert not ok and "No space left" in message and latch.latched
    monkeypatch.setattr(os, "replace", real_replace)
    assert load(path).state.latched and load(path).state.reason == "button"     # the old state is intact
    assert [p.name for p in tmp_path.iterdir()] == ["estop.json"]                # no temp file left


def test_engage_twice_keeps_the_first_reason(tmp_path):
    latch = PersistentLatch(tmp_path / "estop.json")
    latch.open()
    latch.engage("dashboard")
    latch.engage("brain")
    assert load(latch.path).state.reason == "dashboard"
