"""Audio in, transcripts out: the VAD, the recogniser and the guard in one
place, shared by the node, the CLI and the benchmark."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.hallucination_guard import GuardConfig, GuardResult, HallucinationGuard, Verdict
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

    @property
    def accepted(self) -> bool:
        return self.verdict == Verdict.ACCEPTED


class Transcriber:
    """Recognises utterances and guards the result."""

    def __init__(self, recognizer: Recognizer | RecognizerConfig | None = None,
                 guard: HallucinationGuard | GuardConfig | None = None):
        self.recognizer = recognizer if isinstance(recognizer, Recognizer) else Recognizer(recognizer)
        self.guard = guard if isinstance(guard, HallucinationGuard) else HallucinationGuard(guard)

    def load(self) -> "Transcriber":
        self.recognizer.load()
        return self

    def transcribe_audio(self, audio: np.ndarray, start_s: float = 0.0, language: str | None = None) -> Transcription:
        """Recognise one utterance's audio (16 kHz mono float32) and guard it."""
        started = time.perf_counter()
        end_s = start_s + len(audio) / SAMPLE_RATE
        early = self.guard.check_audio(audio)
        if early is not None:
            return self._result(early, None, start_s, end_s, started)
        recognition = self.recognizer.transcribe(audio, language)
        verdict = self.guard.judge(recognition)
        return self._result(verdict, recognition, start_s, end_s, started)

    def transcribe_utterance(self, utterance: Utterance, language: str | None = None) -> Transcription:
        result = self.transcribe_audio(utterance.audio, utterance.start_s, language)
        result.end_s = utterance.end_s
        return result

    def transcribe_clip(self, samples: np.ndarray, vad: VadConfig | None = None,
                        language: str | None = None) -> list[Transcription]:
        """A whole recording: cut into utterances by the VAD, each recognised and guarded."""
        detector = UtteranceDetector(vad)
        tail = np.zeros(int(SAMPLE_RATE * (detector.config.end_silence_ms / 1000 + 0.1)), np.float32)
        utterances = detector.process(np.concatenate([np.asarray(samples, np.float32), tail]))
        utterances += detector.flush()
        return [self.transcribe_utterance(u, language) for u in utterances]

    @staticmethod
    def _result(guarded: GuardResult, recognition: Recognition | None, start_s: float, end_s: float,
                started: float) -> Transcription:
        language = recognition.language if recognition else ""
        return Transcription(guarded.text, language, guarded.confidence, guarded.low_confidence,
                             guarded.verdict, guarded.detail, start_s, end_s,
                             time.perf_counter() - started, recognition)


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
