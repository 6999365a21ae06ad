"""VAD: pauses of slow speakers, end-of-speech time, noise and limits (espeak-ng speech)."""
import numpy as np
import pytest

from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.vad import FRAME_MS, UtteranceDetector, VadConfig, frame_features

from conftest import room_noise, silence, speak, trim


def _run(signal, config=None):
    detector = UtteranceDetector(config)
    out = []
    for i in range(0, len(signal), 480 * 3):   # 90 ms blocks, like a device would deliver
        out += detector.process(signal[i:i + 480 * 3])
    return out + detector.flush()


def _with_pauses(parts, pause_s, lead=1.0, tail=1.5):
    pieces = [silence(lead)]
    for i, p in enumerate(parts):
        pieces.append(p)
        pieces.append(silence(pause_s if i < len(parts) - 1 else tail))
    x = np.concatenate(pieces)
    return x + room_noise(len(x) / SAMPLE_RATE)


@pytest.mark.parametrize("pause_s", [0.2, 0.3, 0.4])
def test_pauses_inside_a_sentence_do_not_split_it(speech_words, pause_s):
    utts = _run(_with_pauses(speech_words, pause_s))
    assert len(utts) == 1, [(u.start_s, u.end_s) for u in utts]
    speech_s = sum(len(w) for w in speech_words) / SAMPLE_RATE
    assert utts[0].duration_s >= speech_s


def test_a_long_pause_ends_the_utterance(speech_words):
    utts = _run(_with_pauses(speech_words[:2], 1.5))
    assert len(utts) == 2


@pytest.mark.parametrize("end_ms", [300, 500])
def test_end_of_speech_is_decided_within_the_configured_silence(speech_words, end_ms):
    x = _with_pauses([speech_words[2]], 0.0, lead=0.8, tail=2.0)
    utts = _run(x, VadConfig(end_silence_ms=end_ms))
    assert len(utts) == 1
    u = utts[0]
    speech_end = 0.8 + len(speech_words[2]) / SAMPLE_RATE
    # Detected at most end_ms (+ one frame and a block) after the true end of speech.
    delay = u.detected_sample / SAMPLE_RATE - speech_end
    assert delay <= end_ms / 1000 + 2 * FRAME_MS / 1000 + 0.09, delay
    assert abs(u.end_s - speech_end) < 0.25
    assert u.start_s == pytest.approx(0.8, abs=0.2)


def test_speech_at_the_very_start_of_a_recording_is_kept():
    x = np.concatenate([speak("Where is the registration desk"), silence(1.0)])
    utts = _run(x)
    assert len(utts) == 1 and utts[0].start_sample < 0.1 * SAMPLE_RATE


@pytest.mark.parametrize("name", ["silence", "white", "hum", "clicks", "digital_zero"])
def test_no_utterance_from_silence_and_steady_noise(name):
    rng = np.random.default_rng(1)
    n = 3 * SAMPLE_RATE
    if name == "silence":
        x = room_noise(3.0)
    elif name == "white":
        x = np.concatenate([room_noise(1.0), rng.normal(0, 0.2, n).astype(np.float32)])
    elif name == "hum":   # a fan/refrigerator: loud, steady, not speech-like in level
        t = np.arange(n) / SAMPLE_RATE
        x = (0.05 * np.sin(2 * np.pi * 50 * t) + room_noise(3.0)).astype(np.float32)
    elif name == "clicks":
        x = room_noise(3.0)
        x[::8000] = 0.9
    else:
        x = np.zeros(n, np.float32)
    assert _run(x) == []


def test_a_new_steady_hum_gives_at_most_one_short_utterance():
    # A hum with harmonics looks voiced; the noise floor learns it within its 3 s window.
    t = np.arange(8 * SAMPLE_RATE) / SAMPLE_RATE
    hum = sum(0.03 / k * np.sin(2 * np.pi * 100 * k * t) for k in (1, 2, 3)).astype(np.float32)
    x = np.concatenate([room_noise(1.0), hum + room_noise(8.0)])
    utts = _run(x)
    assert len(utts) <= 1
    assert all(u.end_s < 5.0 for u in utts)


def test_max_utterance_length_cuts_long_speech():
    talk = np.concatenate([speak("I would like a cup of tea with some milk please and a biscuit", rate=110)] * 3)
    utts = _run(np.concatenate([silence(0.5), talk, silence(1.0)]), VadConfig(max_utterance_s=4.0))
    assert len(utts) >= 2
    assert utts[0].truncated and utts[0].duration_s <= 4.5


def test_while_the_robot_talks_speech_is_cut_into_overlapping_pieces():
    # The speech node sets piece_s while the robot speaks: a stop said into a long stretch of
    # (uncancelled) robot speech must be heard within seconds, not after the robot has finished.
    talk = np.concatenate([trim(speak("I would like a cup of tea with some milk please and a biscuit", rate=110))] * 3)
    signal = np.concatenate([silence(0.5), talk, silence(1.0)])
    whole = _run(signal)
    detector = UtteranceDetector()
    detector.piece_s = 2.5
    pieces = []
    for i in range(0, len(signal), 480 * 3):
        pieces += detector.process(signal[i:i + 480 * 3])
    pieces += detector.flush()
    assert len(whole) == 1 and whole[0].duration_s > 8.0          # without pieces: one utterance
    assert len(pieces) >= 4
    assert all((p.end_sample - p.start_sample) / SAMPLE_RATE <= 2.6 for p in pieces)
    assert all(p.truncated for p in pieces[:-1])
    assert not pieces[0].continues and all(p.continues for p in pieces[1:])
    overlaps = []
    for before, after in zip(pieces, pieces[1:-1]):
        overlap = before.end_sample - after.audio_start_sample
        overlaps.append(overlap)
        # cut inside a word: 450 ms again; cut in a gap between words: only the gap
        assert 0 < overlap <= 0.45 * SAMPLE_RATE, overlap
        # the overlap is the same audio in both
        np.testing.assert_array_equal(before.audio[len(before.audio) - overlap:][:overlap // 2],
                                      after.audio[:overlap // 2])
    assert max(overlaps) == int(0.45 * SAMPLE_RATE)
    detector.piece_s = None
    assert detector._longest_s == VadConfig().max_utterance_s


def test_an_early_utterance_holds_exactly_what_the_end_will_hold():
    # early_ms: recognised ahead while the end of speech is awaited; used only if the end
    # comes with no more speech, so its samples must be the same as the end's.
    words = trim(speak("Where is the dining room", rate=120))
    signal = np.concatenate([silence(0.5), words, silence(2.0)])
    for max_pause in (0, 1300):
        out = _run(signal, VadConfig(end_silence_ms=500, max_pause_ms=max_pause, early_ms=250))
        early = [u for u in out if u.early]
        ended = [u for u in out if not u.early][0]                 # the tentative (adaptive) or the final
        assert len(early) == 1 and early[0].tentative and early[0].segment == ended.segment
        assert early[0].end_sample == ended.end_sample and early[0].audio_start_sample == ended.audio_start_sample
        np.testing.assert_array_equal(early[0].audio, ended.audio)
        assert ended.detected_sample - early[0].detected_sample == pytest.approx(0.25 * SAMPLE_RATE, abs=FRAME_MS * 16)


def test_speech_after_an_early_utterance_makes_a_new_one_at_the_next_pause():
    first, second = trim(speak("I would like", rate=110)), trim(speak("a cup of tea", rate=110))
    signal = np.concatenate([silence(0.5), first, silence(0.35), second, silence(2.0)])
    out = _run(signal, VadConfig(end_silence_ms=500, max_pause_ms=1300, early_ms=250))
    early = [u for u in out if u.early]
    ended = [u for u in out if not u.early]
    assert len(early) == 2 and early[0].end_sample < early[1].end_sample     # one per pause
    assert ended[0].end_sample == early[1].end_sample                        # the first pause ended nothing
    assert len({u.segment for u in out}) == 1


def test_early_ms_is_validated():
    for bad in (100, 500, 800):
        with pytest.raises(ValueError, match="early_ms"):
            VadConfig(end_silence_ms=500, early_ms=bad).validate()
    assert VadConfig(end_silence_ms=500, early_ms=0).validate()


def test_features_tell_voice_from_noise():
    voiced = trim(speak("aaah", rate=100))
    mid = voiced[len(voiced) // 2: len(voiced) // 2 + 480]
    noise = np.random.default_rng(2).normal(0, 0.2, 480).astype(np.float32)
    assert frame_features(mid).voicing > 0.6
    assert frame_features(noise).voicing < 0.4
    assert frame_features(noise).flatness > frame_features(mid).flatness


def test_config_is_validated():
    with pytest.raises(ValueError):
        VadConfig(end_silence_ms=10).validate()
    with pytest.raises(ValueError):
        VadConfig(max_utterance_s=60).validate()
    with pytest.raises(ValueError):
        VadConfig(continue_margin_db=20, start_margin_db=10).validate()
