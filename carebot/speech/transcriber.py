"""Audio in, transcripts out: the VAD, the recogniser and the guard in one
place, shared by the node, the CLI and the benchmark.

Every utterance is measured (``loudness``): its level goes on the transcript,
and a loud, voice-like utterance is a *shout*. A shout is published even when
no intelligible words come out of it (text ""), so the brain can check in.

The room front end (``frontend``): ``transcribe_clip`` runs the stream stages
(echo canceller, noise suppressor) before the VAD, as the node's capture thread
does; every utterance is brought to a set level (gain) before Whisper.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.frontend import FrontEnd, FrontEndConfig, NoiseSuppression, foreground_span, normalise_level
from carebot.speech.hallucination_guard import GuardConfig, GuardResult, HallucinationGuard, Verdict
from carebot.speech.loudness import Loudness, ShoutConfig, is_shout, measure, tame
from carebot.speech.recognizer import Recognition, Recognizer, RecognizerConfig
from carebot.speech.vad import Utterance, UtteranceDetector, VadConfig


@dataclass
class Transcription:
    """One utterance's outcome: a transcript when ``accepted``, else why not."""

    text: str
    language: str
    confidence: float
    low_confidence: bool
    verdict: Verdict
    detail: str
    start_s: float              # stream time of speech start / end (s)
    end_s: float
    compute_s: float            # recogniser + guard time
    recognition: Recognition | None = None
    level_dbfs: float = -120.0  # active speech level (loudness.measure)
    shout: bool = False         # loud and voice-like: published even without words
    loudness: Loudness | None = None

    @property
    def accepted(self) -> bool:
        """Intelligible words that passed the guard."""
        return self.verdict == Verdict.ACCEPTED

    @property
    def publishable(self) -> bool:
        """Words, or a shout without words (then the text is "")."""
        return self.accepted or self.shout


class Transcriber:
    """Recognises utterances and guards the result."""

    def __init__(self, recognizer: Recognizer | RecognizerConfig | None = None,
                 guard: HallucinationGuard | GuardConfig | None = None, shout: ShoutConfig | None = None,
                 frontend: FrontEndConfig | None = None):
        self.recognizer = recognizer if isinstance(recognizer, Recognizer) else Recognizer(recognizer)
        self.guard = guard if isinstance(guard, HallucinationGuard) else HallucinationGuard(guard)
        self.shout_config = (shout or ShoutConfig()).validate()
        self.frontend_config = (frontend or FrontEndConfig()).validate()

    def make_frontend(self) -> FrontEnd | None:
        """The stream stages for one stream, or None when all are off."""
        cfg = self.frontend_config
        if not cfg.echo_cancellation and cfg.noise_suppression == NoiseSuppression.OFF:
            return None
        return FrontEnd(cfg)

    def load(self) -> "Transcriber":
        self.recognizer.load()
        return self

    def transcribe_audio(self, audio: np.ndarray, start_s: float = 0.0, language: str | None = None,
                         raw: np.ndarray | None = None, floor_dbfs: float | None = None,
                         use_prompt: bool = True) -> Transcription:
        """Recognise one utterance's audio (16 kHz mono float32) and guard it.

        ``raw``: the same stretch before any front-end filtering, for clipping;
        ``floor_dbfs``: the room's noise floor (for the foreground trim; None: assume noisy).
        """
        started = time.perf_counter()
        audio = np.asarray(audio, np.float32)
        if self.frontend_config.foreground:
            lo, hi = foreground_span(audio, floor_dbfs, self.frontend_config.foreground_range_db)
            if (lo, hi) != (0, len(audio)):
                audio = audio[lo:hi]
                raw = raw[lo:hi] if raw is not None and len(raw) >= hi else raw
        end_s = start_s + len(audio) / SAMPLE_RATE
        loud = measure(audio, raw)
        early = self.guard.check_audio(audio)
        if early is not None:
            return self._result(early, None, start_s, end_s, started, loud, False)
        cfg = self.frontend_config
        heard = (normalise_level(audio, cfg.target_dbfs, cfg.max_gain_db, loud.level_dbfs) if cfg.gain
                 else tame(audio, loud, self.shout_config))
        recognition = self.recognizer.transcribe(heard, language, use_prompt)
        verdict = self.guard.judge(recognition)
        return self._result(verdict, recognition, start_s, end_s, started, loud,
                            is_shout(loud, self.shout_config))

    def transcribe_utterance(self, utterance: Utterance, language: str | None = None,
                             use_prompt: bool = True) -> Transcription:
        result = self.transcribe_audio(utterance.audio, utterance.start_s, language,
                                       utterance.raw, utterance.floor_dbfs, use_prompt)
        result.end_s = utterance.end_s
        return result

    def transcribe_clip(self, samples: np.ndarray, vad: VadConfig | None = None,
                        language: str | None = None, far: np.ndarray | None = None) -> list[Transcription]:
        """A whole recording: front end, cut into utterances by the VAD, each recognised and
        guarded. ``far``: what a loudspeaker played meanwhile (the echo canceller's reference)."""
        raw = np.asarray(samples, np.float32)
        utterances = self.cut(raw, vad, far)
        if not any(u.tentative for u in utterances):
            return [self.transcribe_utterance(u, language) for u in utterances]
        # Adaptive end of speech: only what the node would publish comes back.
        from carebot.speech.endpoint import EndOfSpeech

        ends = EndOfSpeech(lambda u: self.transcribe_utterance(u, language))
        return [result for u in utterances for _, result in ends.feed(u)]

    def cut(self, samples: np.ndarray, vad: VadConfig | None = None,
            far: np.ndarray | None = None) -> list[Utterance]:
        """Front end + VAD over a whole recording; each utterance keeps its raw stretch."""
        raw = np.asarray(samples, np.float32)
        frontend = self.make_frontend()
        cleaned = frontend.process_clip(raw, far) if frontend is not None else raw
        detector = UtteranceDetector(vad)
        tail = np.zeros(int(SAMPLE_RATE * (detector.end_wait_s + 0.1)), np.float32)
        utterances = detector.process(np.concatenate([cleaned, tail]))
        utterances += detector.flush()
        for u in utterances:
            if u.audio_start_sample >= 0:
                u.raw = np.concatenate([raw, tail])[u.audio_start_sample:u.audio_start_sample + len(u.audio)]
        return utterances

    @staticmethod
    def _result(guarded: GuardResult, recognition: Recognition | None, start_s: float, end_s: float,
                started: float, loud: Loudness, shout: bool) -> Transcription:
        language = recognition.language if recognition else ""
        return Transcription(guarded.text, language, guarded.confidence, guarded.low_confidence,
                             guarded.verdict, guarded.detail, start_s, end_s,
                             time.perf_counter() - started, recognition, loud.level_dbfs, shout, loud)


def join_accepted(results: list[Transcription]) -> tuple[str, str, float]:
    """Text, language and length-weighted confidence of the accepted utterances of a clip."""
    kept = [r for r in results if r.accepted]
    if not kept:
        return "", (results[0].language if results else ""), 0.0
    language = kept[0].language
    sep = "" if language in ("zh", "ja", "yue") else " "
    weights = [max(1, len(r.text)) for r in kept]
    confidence = sum(w * r.confidence for w, r in zip(weights, kept)) / sum(weights)
    return sep.join(r.text for r in kept), language, float(confidence)
