"""The exported voice encoder (made by `python -m carebot.models prepare`): the same network as
the published weights under torch, and voice prints that tell two synthetic voices apart.
Synthetic voices only: benchmarks/voice_id_bench.py says what that does and does not show."""
from __future__ import annotations

import numpy as np
import pytest

from carebot import models
from carebot.speech import corpus
from carebot.speech.voice_id import N_MELS, PARTIAL_FRAMES, VoiceEncoder
from carebot.voice_book import VoiceBook


@pytest.fixture(scope="module")
def encoder():
    return VoiceEncoder(models.voice_encoder_onnx())


def test_the_onnx_export_is_the_published_network(encoder):
    import torch

    state = torch.load(models.locate("voice-encoder"), map_location="cpu", weights_only=True)["model_state"]
    lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
    linear = torch.nn.Linear(256, 256)
    lstm.load_state_dict({k[len("lstm."):]: v for k, v in state.items() if k.startswith("lstm.")})
    linear.load_state_dict({k[len("linear."):]: v for k, v in state.items() if k.startswith("linear.")})
    for batch in (1, 4):                      # one window and several: the batch axis is dynamic
        mels = np.random.default_rng(batch).random((batch, PARTIAL_FRAMES, N_MELS)).astype(np.float32)
        got = encoder.session.run(None, {encoder.input_name: mels})[0]
        with torch.no_grad():
            _, (hidden, _) = lstm(torch.from_numpy(mels))
            raw = torch.relu(linear(hidden[-1]))
            want = (raw / raw.norm(dim=1, keepdim=True)).numpy()
        assert got.shape == (batch, 256) and np.abs(got - want).max() < 1e-4


def test_prints_of_one_voice_are_closer_than_another_voices(encoder):
    maker = corpus.SpeechMaker()
    joe, other = corpus.Voice("piper", "joe", 125), corpus.Voice("espeak", "en-us+f3", 125)
    lines = ["I used to work on the railways when I was young", "My daughter comes to visit me on Sundays",
             "Could you tell me what is for lunch today?"]
    prints = {v.label: [encoder.embed(maker.make(t, v).samples) for t in lines] for v in (joe, other)}
    for vectors in prints.values():
        assert all(v.shape == (256,) and abs(float(np.linalg.norm(v)) - 1) < 1e-4 and (v >= 0).all() for v in vectors)
    same = float(np.dot(prints[joe.label][0], prints[joe.label][1]))
    across = float(np.dot(prints[joe.label][0], prints[other.label][0]))
    assert same > across + 0.1, (same, across)
    book = VoiceBook()
    book.enrol("room_101", prints[joe.label][0])
    book.enrol("room_101", prints[joe.label][1])
    book.enrol("room_102", prints[other.label][0])
    assert book.identify(prints[joe.label][2]).resident == "room_101"
    assert book.identify(prints[other.label][2]).resident in ("room_102", None)    # never the other resident
