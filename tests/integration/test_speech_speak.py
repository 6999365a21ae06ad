"""Speaking through a real (virtual) loudspeaker: the speech node plays on the PulseAudio
null sink, the test records the sink's monitor (what a listener would hear).

* A long reply starts playing long before the whole text could be synthesised (the
  first sentence is synthesised, played, and the rest follows while it plays).
* A cancel mid-reply silences the loudspeaker at once; feedback progress only grew.
* A sentence queued behind it (queue=true) follows it, in order; a new reply
  (queue=false) preempts; speech/repeat_last says the last reply again, slower.
"""
import os
import subprocess
import threading
import time

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from carebot_interfaces.action import Speak
from std_srvs.srv import Trigger

import virtual_audio
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for
from carebot.speech.tts import Synthesizer, TtsConfig, TtsEngine

from speech_support import NODE, SpeechClient

pytestmark = [pytest.mark.ros, pytest.mark.slow]
RATE = 16000
BLOCK_S = 0.02
LONG = ("Good afternoon, Mrs Chen. Lunch today is vegetable soup with fresh bread. After lunch there is "
        "music in the lounge, and the hairdresser comes at three. Your daughter called this morning and "
        "she will visit on Sunday with the children. The weather is mild, so we could sit in the garden "
        "for a while. Would you like me to take you there after lunch? Please tell me if you need anything.")


class SinkRecorder:
    """The null sink's monitor as float32 blocks with their arrival times (parec, nothing on disk)."""

    def __init__(self, env: dict[str, str]):
        self.blocks: list[tuple[float, float]] = []       # (arrival time, RMS)
        self.audio: list[np.ndarray] = []
        self._proc = subprocess.Popen(
            ["parec", f"--device={virtual_audio.SOURCE}", "--format=float32le", "--channels=1", f"--rate={RATE}",
             "--latency-msec=20"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={**os.environ, **env})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        size = int(RATE * BLOCK_S) * 4
        while True:
            data = self._proc.stdout.read(size)
            if not data:
                return
            block = np.frombuffer(data, "<f4")
            self.audio.append(block)
            self.blocks.append((time.monotonic(), float(np.sqrt(np.mean(block ** 2)))))

    def loud_after(self, t0: float, threshold: float = 0.01) -> float | None:
        """Arrival time of the first block after t0 with sound in it."""
        return next((t for t, rms in list(self.blocks) if t >= t0 and rms > threshold), None)

    def last_loud(self, threshold: float = 0.01) -> float | None:
        loud = [t for t, rms in list(self.blocks) if rms > threshold]
        return loud[-1] if loud else None

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()


def _send(client, **goal):
    future = client.speak.send_goal_async(Speak.Goal(**goal), feedback_callback=client.feedback.append)
    assert wait_for(lambda: future.done(), 10)
    handle = future.result()
    assert handle.accepted
    return handle, handle.get_result_async()


def test_reply_starts_early_cancel_silences_queue_and_repeat(tmp_path, room):
    env = isolated_env(**room.env)
    log = tmp_path / "speech.log"
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=topic", "-p", "playback:=device",
                         "-p", "output_device:=pulse", "-p", "model:=tiny.en", "-p", "language:=en",
                         "-p", "tts_engine:=piper", "-p", "echo_cancellation:=false"], env, log)
    client = SpeechClient(env)
    client.feedback = []
    repeat = client.node.create_client(Trigger, "speech/repeat_last")
    recorder = SinkRecorder(room.env)
    try:
        assert wait_for(lambda: "Piper voice loaded" in log.read_text(), 90), log.read_text()
        assert client.speak.wait_for_server(10)

        # What the old node did before the first word: synthesise the whole text (same voice, same machine).
        whole = Synthesizer(TtsConfig(engine=TtsEngine.PIPER))
        whole.voice("Warm up.", "en")
        whole_s = whole.voice(LONG, "en", 120.0).synthesis_s

        # 1. A long reply: sound on the loudspeaker long before the whole text could be synthesised.
        sent = time.monotonic()
        handle, result = _send(client, text=LONG, language="en", rate=120.0)
        assert wait_for(lambda: recorder.loud_after(sent) is not None, 15), log.read_text()[-2000:]
        first_sound = recorder.loud_after(sent) - sent
        print(f"first sound {first_sound:.2f} s after the goal; whole text synthesised in {whole_s:.2f} s")
        assert first_sound < 0.5 * whole_s, (first_sound, whole_s)
        assert wait_for(lambda: client.speaking[-1:] == [True], 5)

        # 2. Cancel in the middle: the loudspeaker goes quiet at once, progress only grew.
        time.sleep(6.0)
        asked = time.monotonic()
        handle.cancel_goal_async()
        assert wait_for(lambda: result.done(), 5)
        assert result.result().status == GoalStatus.STATUS_CANCELED
        time.sleep(1.0)
        last = recorder.last_loud()
        assert last is not None and last - asked < 0.35, last - asked   # one 50 ms block + device latency
        progress = [f.feedback.progress for f in client.feedback]
        assert progress == sorted(progress) and 0.0 < progress[-1] < 0.7, progress
        assert wait_for(lambda: client.speaking[-1:] == [False], 5)

        # 3. A reply sent sentence by sentence: the second goal queues behind the first, no gap.
        client.speaking.clear()
        first, first_result = _send(client, text="Here is your tea.", language="en")
        second, second_result = _send(client, text="Careful, it is hot.", language="en", queue=True)
        assert wait_for(lambda: second_result.done(), 20), log.read_text()[-2000:]
        assert first_result.result().result.success and second_result.result().result.success
        assert client.speaking == [True, False]         # one stretch of speaking, not two

        # 4. "Pardon?": the brain calls speech/repeat_last; the last reply again, slower.
        assert repeat.wait_for_service(5)
        start_repeat = time.monotonic()
        future = repeat.call_async(Trigger.Request())
        assert wait_for(lambda: future.done(), 5)
        assert future.result().success
        assert future.result().message == "Here is your tea. Careful, it is hot."
        assert wait_for(lambda: recorder.loud_after(start_repeat) is not None, 10)
        assert wait_for(lambda: client.speaking[-1:] == [False], 20)
        assert "repeating the last reply at 104 wpm" in log.read_text()    # 0.8 x the 130 wpm default
        assert proc.poll() is None
    finally:
        recorder.close()
        client.close()
        code = stop(proc)
    assert code in (0, -2), log.read_text()[-3000:]
