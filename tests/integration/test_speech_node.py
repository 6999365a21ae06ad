"""The speech node over real DDS: audio on speech/audio_in (the simulation's path)
becomes a transcript; Speak latches speaking; "stop" heard while speaking cuts it
off and other talk over the robot is not transcribed."""
import numpy as np
import pytest
from carebot_interfaces.action import Speak

from carebot.speech import corpus
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

from speech_support import NODE, SpeechClient

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _pad(samples, rate, before=0.4, after=1.0):
    return np.concatenate([np.zeros(int(before * rate), np.float32), samples,
                           np.zeros(int(after * rate), np.float32)])


@pytest.fixture(scope="module")
def maker():
    return corpus.SpeechMaker()


def _clip22k(maker, text, voice=corpus.Voice("piper", "joe", 130)):
    # 22.05 kHz on the topic: the node must resample.
    from carebot.speech.audio import resample
    clip = maker.make(text, voice)
    return resample(clip.samples, 16000, 22050)


def test_topic_audio_transcript_speak_and_barge_in(tmp_path, maker):
    env = isolated_env()
    log = tmp_path / "speech.log"
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=topic", "-p", "playback:=none",
                         "-p", "model:=tiny.en", "-p", "language:=en", "-p", "tts_engine:=espeak"], env, log)
    client = SpeechClient(env)
    try:
        assert wait_for(lambda: "speech ready" in log.read_text(), 60), log.read_text()
        assert wait_for(lambda: client.speaking == [False], 10)   # latched initial state

        # 1. Speech on the topic -> one transcript with timing.
        sentence = "Please call the nurse for me"
        client.stream(_pad(_clip22k(maker, sentence), 22050), 22050)
        assert wait_for(lambda: client.transcripts, 20), log.read_text()
        t = client.transcripts[0]
        errors, words = corpus.word_errors(sentence, t.text)
        assert errors <= 1, t.text
        assert t.language == "en" and 0.3 < t.confidence <= 1.0
        start_s = t.start.sec + t.start.nanosec * 1e-9
        end_s = t.end.sec + t.end.nanosec * 1e-9
        assert 0.8 < end_s - start_s < 4.0
        assert t.source.startswith("topic")
        # speech/hearing: true from the first words until the transcript is out, once (vision
        # steps back meanwhile), then false again.
        assert wait_for(lambda: client.hearing[-1:] and not client.hearing[-1][1], 5), client.hearing
        assert [h for _, h in client.hearing] == [False, True, False], client.hearing
        assert client.hearing[1][0] < client.arrivals[0] <= client.hearing[2][0] + 0.5

        # 2. Speak: speaking goes true; talk over it is ignored; "stop" cuts it off.
        assert client.speak.wait_for_server(10)
        goal = client.speak.send_goal_async(Speak.Goal(
            text="Lunch today is chicken soup with fresh bread, a green salad and apple pie, "
                 "and after lunch there is music and a short walk in the garden for everyone who likes it.",
            language="en", rate=100.0))   # ~17 s: time to hear "stop" even on a busy machine
        assert wait_for(lambda: goal.done(), 10)
        handle = goal.result()
        assert handle.accepted
        result = handle.get_result_async()
        assert wait_for(lambda: client.speaking[-1:] == [True], 10)
        before = len(client.transcripts)
        client.stream(_pad(_clip22k(maker, "The weather is nice today"), 22050, 0.2, 0.8), 22050)
        client.stream(_pad(_clip22k(maker, "Stop!"), 22050, 0.2, 0.8), 22050)
        assert wait_for(lambda: result.done(), 15), log.read_text()
        outcome = result.result().result
        assert not outcome.success and "stop" in outcome.message
        assert wait_for(lambda: client.speaking[-1:] == [False], 5)
        heard = [m.text for m in client.transcripts[before:]]
        assert any("stop" in h.lower() for h in heard), heard
        assert not any("weather" in h.lower() for h in heard), heard

        # 3. An empty Speak goal is refused; the node keeps running.
        bad = client.speak.send_goal_async(Speak.Goal(text="  "))
        assert wait_for(lambda: bad.done(), 10) and not bad.result().accepted
        assert proc.poll() is None
    finally:
        client.close()
        code = stop(proc)
    assert code in (0, -2), log.read_text()


def test_file_source_records_only_when_asked_and_reports_health(tmp_path, maker):
    from carebot.speech.audio import Clip, write_wav

    sentence = "Is there a lift to the second floor"
    clip = maker.make(sentence, corpus.Voice("espeak", "en-us", 150))
    wav = tmp_path / "in.wav"
    write_wav(wav, Clip(_pad(clip.samples, 16000), 16000))
    rec = tmp_path / "rec"
    env = isolated_env()
    log = tmp_path / "speech.log"
    # The listener first, and the file paced like a live microphone: a transcript published
    # before DDS discovery has matched the listener would be lost (reliable, not latched).
    client = SpeechClient(env)
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=file", "-p", f"file_path:={wav}",
                         "-p", "file_realtime:=true", "-p", "playback:=none", "-p", f"record_dir:={rec}"], env, log)
    try:
        assert wait_for(lambda: client.transcripts, 60), log.read_text()
        assert corpus.word_errors(sentence, client.transcripts[0].text)[0] <= 1
        assert client.transcripts[0].source == f"file:{wav}"
        # record_dir set: the utterance is kept (saved when it is final, after the longest pause,
        # which can be after its transcript: recognised ahead, a complete command is out first)
        assert wait_for(lambda: len(list(rec.glob("*.wav"))) >= 1, 10), log.read_text()
        assert not wait_for(lambda: len(list(rec.glob("*.wav"))) > 1, 2)

        def values():
            return {kv.key: kv.value for kv in client.diagnostics[-1].values} if client.diagnostics else {}

        assert wait_for(lambda: values().get("transcripts") == "1", 10), client.diagnostics
        assert client.diagnostics[-1].message == "listening" and values()["model"] == "tiny.en"
    finally:
        client.close()
        stop(proc)


def test_bad_parameters_stop_the_node_with_a_clear_message(tmp_path):
    log = tmp_path / "speech.log"
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=microphone", "-p", "model:=tiny.en",
                         "-p", "language:=zh"], isolated_env(), log)
    assert proc.wait(60) == 2
    text = log.read_text()
    assert "audio_source: 'microphone' is not one of" in text and "English-only" in text   # both at once


def test_shouts_and_screams_are_published_with_their_level(tmp_path, maker):
    """A clipped scream on the topic -> a Transcript with shout=True (text "" when no
    words); ordinary speech carries its level and shout=False; a loud hum and quiet
    noise give nothing; the robot's own voice, even clipped, is not a shout."""
    from carebot.speech.acoustics import hum, scream
    from carebot.speech.audio import resample

    env = isolated_env()
    log = tmp_path / "speech.log"
    # espeak-ng for the robot's Speak: fast to synthesise on a busy machine.
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=topic", "-p", "playback:=none",
                         "-p", "model:=tiny.en", "-p", "language:=en", "-p", "tts_engine:=espeak",
                         "--log-level", "speech:=debug"], env, log)   # debug: what a dropped utterance held
    client = SpeechClient(env)
    rate = 22050
    try:
        assert wait_for(lambda: "speech ready" in log.read_text(), 60), log.read_text()
        # 1. Ordinary speech: a transcript, not a shout, with a talking level.
        client.stream(_pad(_clip22k(maker, "Where are my glasses"), rate), rate)
        assert wait_for(lambda: client.transcripts, 20), log.read_text()
        talk = client.transcripts[-1]
        assert not talk.shout and -35.0 < talk.level_dbfs < -12.0, (talk.text, talk.level_dbfs)

        # 2. A loud hum and quiet room noise: nothing.
        noise = np.random.default_rng(3).normal(0, 0.003, 2 * 16000).astype(np.float32)
        client.stream(resample(np.concatenate([noise, hum(1.5, 100.0, 0.9), noise]), 16000, rate), rate)
        assert not wait_for(lambda: len(client.transcripts) > 1, 3), [m.text for m in client.transcripts]

        # 3. A clipped scream: a shout, published even without words.
        client.stream(_pad(resample(scream(1.5), 16000, rate), rate), rate)
        assert wait_for(lambda: len(client.transcripts) > 1, 20), log.read_text()
        shout = client.transcripts[-1]
        assert shout.shout and shout.level_dbfs > -6.0, (shout.text, shout.level_dbfs)
        assert len(shout.text.split()) <= 2, shout.text          # "" or a sound, never a request
        assert "shout heard" in log.read_text()

        # 4. The robot's own voice, overdriven and clipped on the microphone while it speaks:
        #    not transcribed, not a shout.
        before = len(client.transcripts)
        sentence = "Good afternoon, I am going to the dining room to fetch your tea now."
        goal = client.speak.send_goal_async(Speak.Goal(text=sentence, language="en", rate=110.0))
        assert wait_for(lambda: goal.done(), 10) and goal.result().accepted
        result = goal.result().get_result_async()
        assert wait_for(lambda: client.speaking[-1:] == [True], 20)
        own = np.clip(_clip22k(maker, sentence) * 4.0, -1.0, 1.0)
        client.stream(_pad(own, rate, 0.1, 0.2), rate)
        assert wait_for(lambda: result.done(), 30)
        client.stream(np.zeros(rate, np.float32), rate)
        assert not wait_for(lambda: len(client.transcripts) > before, 3), \
            [(m.text, m.shout) for m in client.transcripts[before:]]
    finally:
        client.close()
        code = stop(proc)
    assert code in (0, -2), log.read_text()


def _trimmed(samples, threshold=0.01):
    """Without the voice's own leading and trailing silence (so a pause is as long as written)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0]:loud[-1] + 1]


def test_early_recognition_is_used_when_the_speaker_has_finished(tmp_path, maker):
    """early_decode_ms: the utterance is recognised 250 ms into the pause while the node still
    waits for the end of speech (500 ms); used when nothing more is said, dropped when the
    speaker goes on after a short pause: the sentence still comes out whole, once."""
    env = isolated_env()
    log = tmp_path / "speech.log"
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=topic", "-p", "playback:=none",
                         "-p", "model:=tiny.en", "-p", "language:=en", "-p", "tts_engine:=espeak",
                         "-p", "end_silence_ms:=500", "-p", "max_pause_ms:=1300", "-p", "early_decode_ms:=250"], env, log)
    client = SpeechClient(env)

    def values():
        return {kv.key: kv.value for kv in client.diagnostics[-1].values} if client.diagnostics else {}

    rate = 22050
    try:
        assert wait_for(lambda: "speech ready" in log.read_text(), 60), log.read_text()
        client.stream(_pad(_clip22k(maker, "Please call the nurse for me"), rate), rate)
        assert wait_for(lambda: client.transcripts, 20), log.read_text()
        assert corpus.word_errors("Please call the nurse for me", client.transcripts[0].text)[0] <= 1
        assert wait_for(lambda: int(values().get("early_used", 0)) >= 1, 10), values()

        # A 0.35 s pause mid-sentence: recognised early, then the speaker goes on.
        first, second = _trimmed(_clip22k(maker, "I would like")), _trimmed(_clip22k(maker, "a cup of tea with milk"))
        client.stream(np.concatenate([np.zeros(rate // 2, np.float32), first,
                                      np.zeros(int(0.35 * rate), np.float32), second,
                                      np.zeros(2 * rate, np.float32)]), rate)
        assert wait_for(lambda: len(client.transcripts) > 1, 20), log.read_text()
        assert not wait_for(lambda: len(client.transcripts) > 2, 2), [m.text for m in client.transcripts]
        whole = client.transcripts[1].text.lower()
        assert "like" in whole and "tea" in whole, whole
        assert wait_for(lambda: int(values().get("early_wasted", 0)) >= 1, 10), log.read_text()
    finally:
        client.close()
        code = stop(proc)
    assert code in (0, -2), log.read_text()
