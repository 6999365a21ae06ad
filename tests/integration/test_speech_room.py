"""Hearing in a room, through real (virtual) audio devices: a private PulseAudio
daemon whose null sink is both the robot's loudspeaker and what the microphone
hears. The speech node records from the device ``pulse`` and plays its own voice
on ``pulse``; the test plays a resident's voice into the same sink.

* A slow sentence with a 0.9 s pause in the middle comes out as one transcript.
* While the robot speaks, its voice is removed by the echo canceller before the
  VAD (the node measures 8-24 dB less power; at most a few stray utterances,
  nothing transcribed).
* A resident's "Stop, please stop!" said over the robot cuts it off. Lost in 4 runs of 4
  until 4 Dec: the null sink put the robot's voice 13 ms *before* its reference, which AEC3
  cannot cancel (now the echo guard holds the microphone back 40 ms, and an echo measured
  before its reference moves the reference earlier), and AEC3's double-talk suppressor turned
  the resident's words into "up" or nothing (now the speech node listens again to a linear
  echo canceller's output: linear_echo.py); and where AEC3 lost the robot altogether the VAD
  ran its speech and the stop into one utterance (now cut into 2.5 s pieces while the robot
  talks). The node's INFO line "echo while speaking" (lag, reduction) is printed on failure.
"""
import time

import numpy as np
import pytest
from carebot_interfaces.action import Speak

from carebot.speech import corpus
from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.room_corpus import RoomCorpus, RoomVoice
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

from speech_support import NODE, SpeechClient

pytestmark = [pytest.mark.ros, pytest.mark.slow]
# The resident: not the robot's voice (the robot speaks with Piper "joe" at 1.0).
RESIDENT = RoomVoice(corpus.Voice("espeak", "en-us+f3", 120))
SLOW = RoomVoice(corpus.Voice("piper", "joe", 100), 0.94)


def _values(client):
    return {kv.key: kv.value for kv in client.diagnostics[-1].values} if client.diagnostics else {}


def _print_echo(log):
    """The echo canceller's lag and reduction (the node's INFO lines), in the output of a failed test."""
    print("\n".join(line for line in log.read_text().splitlines() if "echo while speaking" in line))


def _speech_node_in_the_room(tmp_path, room):
    """The speech node on the room's microphone and loudspeaker (echo canceller on), ready."""
    env = isolated_env(**room.env)
    log = tmp_path / "speech.log"
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=device", "-p", "device:=pulse",
                         "-p", "playback:=device", "-p", "output_device:=pulse", "-p", "model:=tiny.en",
                         "-p", "language:=en", "-p", "tts_engine:=piper", "-p", "echo_cancellation:=true",
                         "-p", "end_silence_ms:=500", "-p", "max_pause_ms:=1300", "-p", "site:=care_home"],
                 env, log)
    client = SpeechClient(env)
    try:
        assert wait_for(lambda: "speech ready" in log.read_text(), 90), log.read_text()
        assert wait_for(lambda: "aec" in _values(client).get("frontend", "").split(","), 10), _values(client)
    except AssertionError:
        client.close()
        stop(proc)
        raise
    return proc, client, log


def test_paused_sentence_and_no_self_transcription(tmp_path, room):
    proc, client, log = _speech_node_in_the_room(tmp_path, room)
    voices = RoomCorpus()
    try:

        # 1. A slow speaker pauses 0.9 s mid-sentence: one transcript, the whole sentence.
        sentence = "I would like to go to the garden"
        paused = voices.paused(sentence, SLOW, 0.9, after_word=4)
        room.play_clip(np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), 0.5 * paused]), SAMPLE_RATE)
        assert wait_for(lambda: client.transcripts, 30), log.read_text()
        assert not wait_for(lambda: len(client.transcripts) > 1, 3), [m.text for m in client.transcripts]
        whole = client.transcripts[0].text
        assert corpus.word_errors(sentence, whole)[0] <= 2, whole
        assert "garden" in whole.lower() and "like" in whole.lower(), whole

        # 2. The robot talks: its own voice goes through the sink into the microphone and is
        #    removed before the VAD: no utterance, no transcript.
        assert wait_for(lambda: _values(client).get("transcripts") == "1", 10), _values(client)
        cut_before = int(_values(client)["utterances"])
        quiet = client.speak.send_goal_async(Speak.Goal(
            text="Good afternoon. Lunch today is vegetable soup with fresh bread, and after lunch "
                 "there is music in the lounge.", language="en", rate=120.0))
        assert wait_for(lambda: quiet.done(), 15) and quiet.result().accepted
        done = quiet.result().get_result_async()
        assert wait_for(lambda: done.done(), 40), log.read_text()
        assert done.result().result.success
        assert not wait_for(lambda: len(client.transcripts) > 1, 3), [m.text for m in client.transcripts]
        # Measured on the device path: the microphone's power while the robot played, before
        # and after the echo canceller. Without it ~0 dB; with it 8-24 dB between runs on the
        # loaded 2-core machine, once 5.6 dB in a clean-clone CI run (4 Dec; the alignment
        # suffers when the capture thread is starved): > 3 dB says the canceller is at work.
        # What matters, no transcript of the robot's own voice, is asserted just above.
        assert wait_for(lambda: float(_values(client).get("echo_reduction_db", "0")) > 3.0, 5), \
            {k: v for k, v in _values(client).items() if k in ("echo_reduction_db", "utterances")}
        assert int(_values(client)["utterances"]) <= cut_before + 3, (
            "the robot's own voice was cut into utterances: the echo canceller did not remove it", _values(client))

    finally:
        client.close()
        code = stop(proc)
        _print_echo(log)
    assert code in (0, -2), log.read_text()


def test_a_stop_said_over_the_robot_cuts_it_off(tmp_path, room):
    # A known defect until the night of 4 Dec (skipped): one clean-clone CI run of two missed
    # both stops when AEC3 did not cancel the robot at all and the VAD ran the robot's speech
    # and the stops into one utterance. Now pieces while the robot talks, and the reference
    # realigned when the echo comes before it (docs/speech.md, "Barge-in").
    proc, client, log = _speech_node_in_the_room(tmp_path, room)
    voices = RoomCorpus()
    try:
        # Barge-in: the robot talks; after a few seconds a resident says "stop" over it.
        before = len(client.transcripts)
        talk = client.speak.send_goal_async(Speak.Goal(
            text="Lunch today is chicken soup with fresh bread, a green salad and apple pie, and after "
                 "lunch there is music and a short walk in the garden for everyone who likes it.",
            language="en", rate=110.0, volume=0.35))
        # The resident speaks up: about 10 dB louder than the robot's voice at the microphone.
        # (Quieter than the robot, AEC3 suppresses the resident too: docs/speech.md.)
        assert wait_for(lambda: talk.done(), 15) and talk.result().accepted
        result = talk.result().get_result_async()
        assert wait_for(lambda: client.speaking[-1:] == [True], 15)
        time.sleep(3.0)                                     # the robot has been talking a while
        stop_words = voices.speech("Stop, please stop!", RESIDENT)
        # A resident who is not heard says it again, as people do; the robot's sentence lasts
        # about 13 s, so it must be cut off by the first or the second time. (4 Dec: at the first
        # in 9 runs of 9 on a quiet machine, 15 of 16 with two or three busy processes beside it.)
        for said in (1, 2):
            room.play_clip(0.9 * stop_words / np.max(np.abs(stop_words)), SAMPLE_RATE)
            if wait_for(lambda: result.done(), 4.0):
                break
        print(f"the robot stopped after the resident said stop {said} time(s)")
        assert wait_for(lambda: result.done(), 20), log.read_text()
        outcome = result.result().result
        heard = [m.text for m in client.transcripts[before:]]
        assert not outcome.success and "stop" in outcome.message, (outcome.message, heard, _values(client))
        assert any("stop" in h.lower() for h in heard), heard
        assert not any(w in " ".join(heard).lower() for w in ("lunch", "soup", "salad", "garden")), heard
        assert wait_for(lambda: int(_values(client).get("barge_ins", 0)) >= 1, 5), _values(client)
        assert _values(client)["capture_failures"] == "0", log.read_text()
    finally:
        client.close()
        code = stop(proc)
        _print_echo(log)
    assert code in (0, -2), log.read_text()
