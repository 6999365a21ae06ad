"""Scripted speech: espeak-ng audio at 16 kHz, a continuous microphone stream paced by sim time."""
import numpy as np
import pytest

from carebot.sim.voice import LEAD_SILENCE_S, SAMPLE_RATE, MicrophoneStream, synthesize_pcm


def test_synthesized_speech_is_16k_int16_with_a_lead_in():
    pcm = synthesize_pcm("please bring me a glass of water")
    assert pcm.dtype == np.int16
    assert 1.0 < len(pcm) / SAMPLE_RATE < 6.0
    lead = int(LEAD_SILENCE_S * SAMPLE_RATE)
    assert not pcm[:lead].any() and np.abs(pcm[lead:]).max() > 10000


def test_stream_is_silence_then_the_words_then_silence():
    mic = MicrophoneStream(block_s=0.1)
    assert len(mic.blocks_until(0.35)) == 3
    words = np.full(2500, 1000, dtype=np.int16)       # 0.156 s
    assert mic.queue(words) == pytest.approx(2500 / SAMPLE_RATE)
    blocks = mic.blocks_until(0.65)
    assert [round(t, 2) for t, _ in blocks] == [0.3, 0.4, 0.5]
    joined = np.concatenate([b for _, b in blocks])
    assert int((joined == 1000).sum()) == 2500 and joined[:2500].all() and not joined[2500:].any()
    assert not mic.speaking
