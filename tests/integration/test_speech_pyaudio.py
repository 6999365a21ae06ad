"""The pyaudio path against a real audio device: a PulseAudio null sink whose
monitor is the default source; the node opens the ALSA device 'pulse' through
pyaudio and transcribes what is played into the sink."""
import pytest

from carebot.speech import corpus
from carebot.testing import virtual_audio
from carebot.testing.ros_env import isolated_env, start, stop, wait_for

from speech_support import NODE, SpeechClient

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope="module")
def microphone():
    if not virtual_audio.available():
        pytest.skip("PulseAudio is not installed (scripts/setup.sh installs it)")
    handle = virtual_audio.start()
    yield handle
    handle.stop()


def test_node_hears_a_wav_played_into_the_virtual_microphone(tmp_path, microphone):
    from carebot.speech.audio import write_wav

    sentence = "Where can I find the toilets"
    clip = corpus.SpeechMaker().make(sentence, corpus.Voice("piper", "joe", 130))
    wav = tmp_path / "question.wav"
    write_wav(wav, clip)
    env = isolated_env()
    log = tmp_path / "speech.log"
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=device", "-p", "device:=pulse",
                         "-p", "playback:=none", "-p", "model:=tiny.en"], env, log)
    client = SpeechClient(env)
    try:
        assert wait_for(lambda: "speech ready" in log.read_text(), 60), log.read_text()
        assert "audio input open: pulse" in log.read_text()
        virtual_audio.play_wav(wav)
        assert wait_for(lambda: client.transcripts, 20), log.read_text()
        text = client.transcripts[0].text
        assert corpus.word_errors(sentence, text)[0] <= 1, text
        assert client.transcripts[0].source == "device:pulse"
        # Silence from the device afterwards gives nothing more.
        assert not wait_for(lambda: len(client.transcripts) > 1, 3)
    finally:
        client.close()
        code = stop(proc)
    assert code in (0, -2), log.read_text()
