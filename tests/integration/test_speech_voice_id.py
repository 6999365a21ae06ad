"""Who is speaking, over real DDS: a resident enrolled with consent on speech/enrol_voice (the
speech node takes their next utterances), then named in Transcript.speaker; another voice is
not; a forgotten print names nobody. Voices are synthetic (Piper's and espeak-ng's): what
this proves is the path, not the accuracy on real residents (benchmarks/voice_id_bench.py)."""
import json

import numpy as np
import pytest

from carebot_interfaces.srv import EnrolVoice

from carebot.speech import corpus
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

from speech_support import NODE, SpeechClient

pytestmark = [pytest.mark.ros, pytest.mark.slow]

RESIDENT = corpus.Voice("piper", "joe", 125)
VISITOR = corpus.Voice("espeak", "en-us+f3", 130)


def _said(maker, text, voice):
    clip = maker.make(text, voice).samples
    pad = np.zeros(int(0.4 * 16000), np.float32)
    return np.concatenate([pad, clip, pad, pad])


def _call(client, request, timeout=10.0):
    future = client.enrol.call_async(request)
    assert wait_for(future.done, timeout)
    return future.result()


def _heard(client, maker, text, voice, log):
    before = len(client.transcripts)
    client.stream(_said(maker, text, voice), 16000)
    assert wait_for(lambda: len(client.transcripts) > before, 30), log.read_text()[-3000:]
    return client.transcripts[-1]


def test_an_enrolled_resident_is_named_and_others_are_not(tmp_path):
    state = tmp_path / "state"
    env = isolated_env(CAREBOT_STATE_DIR=str(state))
    log = tmp_path / "speech.log"
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=topic", "-p", "playback:=none", "-p", "model:=tiny.en",
                         "-p", "language:=en", "-p", "tts_engine:=espeak", "-p", "voice_book_path:=voices.json"],
                 env, log)
    client = SpeechClient(env)
    client.enrol = client.node.create_client(EnrolVoice, "speech/enrol_voice")
    maker = corpus.SpeechMaker()
    book = state / "voices.json"
    try:
        assert wait_for(lambda: "speech ready" in log.read_text(), 60), log.read_text()
        assert client.enrol.wait_for_service(timeout_sec=10)
        # Nobody enrolled: nobody named (and the encoder is not even loaded).
        assert _heard(client, maker, "Good morning, how are you today?", RESIDENT, log).speaker == ""

        refused = _call(client, EnrolVoice.Request(resident="room_101", consent=False))
        assert not refused.success and "consent" in refused.message
        armed = _call(client, EnrolVoice.Request(resident="room_101", consent=True, utterances=2, timeout_s=120.0))
        assert armed.success, armed.message
        _heard(client, maker, "I used to work on the railways when I was young", RESIDENT, log)
        _heard(client, maker, "My daughter comes to visit me on Sundays", RESIDENT, log)
        assert wait_for(book.exists, 10), log.read_text()[-3000:]
        saved = json.loads(book.read_text())
        assert list(saved["residents"]) == ["room_101"] and saved["residents"]["room_101"]["utterances"] == 2
        assert set(saved["residents"]["room_101"]) == {"print", "utterances"}     # the print only, no audio
        assert not list(state.glob("*.wav"))

        named = _heard(client, maker, "Could you tell me what is for lunch today?", RESIDENT, log)
        assert named.speaker == "room_101", (named.text, log.read_text()[-2000:])
        other = _heard(client, maker, "Could you tell me what is for lunch today?", VISITOR, log)
        assert other.text and other.speaker == ""

        forgot = _call(client, EnrolVoice.Request(resident="room_101", forget=True))
        assert forgot.success and json.loads(book.read_text())["residents"] == {}
        assert _heard(client, maker, "Where is the garden, please?", RESIDENT, log).speaker == ""
    finally:
        client.close()
        assert stop(proc) == 0, log.read_text()[-3000:]
