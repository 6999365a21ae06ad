"""Voice prints (carebot.speech.voice_id): the mel front end, partial windows, and the book
that names a resident only when sure. The encoder itself: tests/unit/speech/test_voice_id_encoder.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

from carebot.speech import voice_id
from carebot.speech.voice_id import HOP, N_MELS, PARTIAL_FRAMES, SAMPLE_RATE
from carebot.voice_book import VoiceBook, unit


def test_filterbank_is_forty_ordered_triangles_up_to_nyquist():
    bank = voice_id.mel_filterbank()
    assert bank.shape == (N_MELS, 201) and (bank >= 0).all()
    peaks = bank.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all() and peaks[0] <= 2 and peaks[-1] >= 180
    # Slaney's area normalisation: wide high filters are lower than narrow low ones.
    assert bank[-1].max() < bank[5].max()


def test_a_tone_lands_in_the_channel_around_its_frequency():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    for hz in (300.0, 1000.0, 3000.0):
        mels = voice_id.mel_frames(0.5 * np.sin(2 * np.pi * hz * t))
        assert mels.shape == (1 + SAMPLE_RATE // HOP, N_MELS)
        channel = int(mels.mean(axis=0).argmax())
        centre = voice_id._mel_to_hz(np.linspace(0, voice_id._hz_to_mel(8000.0), N_MELS + 2))[channel + 1]
        assert abs(centre - hz) / hz < 0.15, (hz, centre)


def test_mel_scale_round_trips():
    hz = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 8000.0])
    assert np.allclose(voice_id._mel_to_hz(voice_id._hz_to_mel(hz)), hz)


@pytest.mark.parametrize("frames, windows", [(50, 1), (160, 1), (199, 1), (200, 2), (239, 2), (400, 4), (1000, 12)])
def test_partial_windows_cover_the_utterance(frames, windows):
    mels = np.ones((frames, N_MELS), dtype=np.float32)
    out = voice_id.partial_windows(mels)
    assert out.shape == (windows, PARTIAL_FRAMES, N_MELS)
    assert out[0, :min(frames, PARTIAL_FRAMES)].all()        # starts at the beginning
    if frames < PARTIAL_FRAMES:
        assert not out[0, frames:].any()                      # a short utterance is zero-padded


def test_quiet_speech_is_raised_loud_speech_kept():
    quiet = np.full(16000, 0.001, dtype=np.float32)
    raised = voice_id.raise_level(quiet)
    assert 20 * np.log10(np.sqrt(np.mean(raised ** 2))) == pytest.approx(voice_id.TARGET_DBFS, abs=0.01)
    loud = np.full(16000, 0.5, dtype=np.float32)
    assert voice_id.raise_level(loud) is loud
    silent = np.zeros(100, dtype=np.float32)
    assert voice_id.raise_level(silent) is silent


def _print(seed: int) -> np.ndarray:
    """A print on its own 64 of the 256 values (ReLU outputs: never negative)."""
    vector = np.zeros(256)
    vector[64 * (seed % 4):64 * (seed % 4 + 1)] = np.abs(np.random.default_rng(seed).normal(size=64))
    return unit(vector).astype(np.float32)


def _near(base: np.ndarray, seed: int, amount: float) -> np.ndarray:
    noise = unit(np.abs(np.random.default_rng(seed).normal(size=256)))
    return unit(base + amount * noise).astype(np.float32)


def test_the_book_names_only_a_close_and_clear_match():
    book = VoiceBook(threshold=0.8, margin=0.06)
    assert book.identify(_print(1)).resident is None               # nobody enrolled
    alice, bob = _print(1), _print(2)
    book.enrol("alice", alice)
    book.enrol("bob", bob)
    match = book.identify(_near(alice, 10, 0.2))
    assert match.resident == "alice" and match.similarity > 0.8 and match.margin >= 0.06
    # Half-way between two residents: close to both, ahead of neither -> nobody.
    between = unit(alice + bob)
    assert book.identify(between).resident is None
    # A stranger far from both -> nobody.
    stranger = _print(3)
    assert book.identify(stranger).resident is None


def test_enrolment_averages_and_forgetting_removes(tmp_path):
    book = VoiceBook()
    base = _print(3)
    assert [book.enrol("ming", _near(base, s, 0.3)) for s in range(3)] == [1, 2, 3]
    assert float(np.dot(book.prints["ming"], base)) > max(float(np.dot(_near(base, s, 0.3), base)) for s in range(3)) - 1e-6
    with pytest.raises(ValueError):
        book.enrol(" ", base)
    path = tmp_path / "state" / "voices.json"
    book.save(path)
    again = VoiceBook.load(path)
    assert again.counts == {"ming": 3} and np.allclose(again.prints["ming"], book.prints["ming"], atol=1e-5)
    assert again.forget("ming") and not again.forget("ming") and again.identify(base).resident is None
    assert "audio" not in path.read_text()          # prints only


def test_a_damaged_book_is_a_clear_error_and_a_missing_one_empty(tmp_path):
    assert VoiceBook.load(tmp_path / "none.json").prints == {}
    bad = tmp_path / "voices.json"
    for text in ("{", json.dumps({"residents": {"x": {"print": [0.1] * 3}}}), json.dumps({"version": 1}),
                 json.dumps({"residents": {"x": {"print": [float("nan")] * 256}}})):
        bad.write_text(text)
        with pytest.raises(ValueError, match="voice"):
            VoiceBook.load(bad)


def test_too_short_an_utterance_is_refused_before_the_encoder():
    encoder = voice_id.VoiceEncoder.__new__(voice_id.VoiceEncoder)    # no model needed to refuse
    with pytest.raises(ValueError, match="needs"):
        encoder.embed(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))


class _FakeEncoder:
    """Stands in for the ONNX encoder (tested in test_voice_id_encoder.py): the 'voice' is the
    audio's first sample, mapped to one of four orthogonal prints."""

    def __init__(self):
        self.calls = 0

    def embed(self, audio):
        self.calls += 1
        return _print(int(audio[0]))


def _register(tmp_path, encoder=None):
    encoder = encoder or _FakeEncoder()
    return voice_id.VoiceRegister(tmp_path / "voices.json", 0.8, 0.06, lambda: encoder), encoder


def _voice(which: int, seconds: float = 1.5):
    return np.full(int(seconds * SAMPLE_RATE), float(which), dtype=np.float32)


def test_enrolment_needs_consent_takes_the_next_utterances_and_then_names(tmp_path):
    register, encoder = _register(tmp_path)
    assert register.hear(_voice(1), 0.0).speaker == "" and encoder.calls == 0    # nobody enrolled: no encoder work
    with pytest.raises(ValueError, match="consent"):
        register.start_enrolment("room_101", False, 2, 60.0, 0.0)
    with pytest.raises(ValueError, match="resident"):
        register.start_enrolment("  ", True, 2, 60.0, 0.0)
    assert "room_101" in register.start_enrolment("room_101", True, 2, 60.0, 0.0)
    with pytest.raises(ValueError, match="already"):
        register.start_enrolment("room_102", True, 2, 60.0, 1.0)
    assert register.hear(_voice(1, 0.5), 1.0).note == ""                 # too short: not taken
    assert "1 of 2" in register.hear(_voice(1), 2.0).note
    assert "enrolled room_101" in register.hear(_voice(1), 3.0).note
    assert json.loads((tmp_path / "voices.json").read_text())["residents"]["room_101"]["utterances"] == 2
    assert register.hear(_voice(1), 4.0).speaker == "room_101"
    assert register.hear(_voice(2), 5.0).speaker == ""                  # another voice


def test_an_enrolment_that_times_out_keeps_nothing(tmp_path):
    register, _ = _register(tmp_path)
    register.start_enrolment("room_101", True, 3, 10.0, 0.0)
    register.hear(_voice(1), 1.0)
    assert "timed out with 1 of 3" in register.hear(_voice(1), 11.0).note
    assert not (tmp_path / "voices.json").exists() and register.enrolling == ""


def test_the_book_file_is_reread_and_a_damaged_one_names_nobody(tmp_path):
    register, _ = _register(tmp_path)
    book = VoiceBook()
    book.enrol("room_103", _print(3))
    book.save(tmp_path / "voices.json")                # staff tools write the file; the node re-reads it
    assert register.hear(_voice(3), 0.0).speaker == "room_103"
    assert register.forget("room_103") and not register.forget("room_103")
    assert register.hear(_voice(3), 1.0).speaker == ""
    book.save(tmp_path / "voices.json")
    (tmp_path / "voices.json").write_text("{ damaged")
    assert register.hear(_voice(3), 2.0).speaker == "" and "voice book" in register.load_error


def test_a_missing_encoder_is_named_and_enrolment_refused(tmp_path):
    def broken():
        raise FileNotFoundError("no ONNX export")

    register = voice_id.VoiceRegister(tmp_path / "voices.json", 0.8, 0.06, broken)
    with pytest.raises(voice_id.VoiceIdUnavailable, match="no ONNX export"):
        register.start_enrolment("room_101", True, 2, 60.0, 0.0)


def test_staff_forgetting_a_resident_removes_the_voice_print(tmp_path, monkeypatch):
    from carebot.brain import residents_cli

    monkeypatch.setenv("CAREBOT_STATE_DIR", str(tmp_path))
    assert residents_cli.voice_book_file("care_home") == tmp_path / "voices.json"
    assert residents_cli.voice_book_file("public_hall") is None          # a hall keeps no voices
    assert not residents_cli.forget_voice("care_home", "room_101")       # no book yet
    book = VoiceBook()
    book.enrol("room_101", _print(1))
    book.enrol("room_102", _print(2))
    book.save(tmp_path / "voices.json")
    assert residents_cli.forget_voice("care_home", "room_101")
    assert list(VoiceBook.load(tmp_path / "voices.json").prints) == ["room_102"]
