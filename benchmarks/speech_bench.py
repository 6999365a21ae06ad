"""Speech benchmark: real-time factor of each Whisper model, and latency from the
end of speech to a transcript (p50/p95), carebot's pipeline beside plain
faster-whisper on the same clips.

carebot = VAD endpointing (waits end_silence_ms of silence) + Whisper int8
greedy + guard. Plain = faster-whisper's defaults (beam 5, temperature fallback)
on the whole clip, started the moment the clip ends (it has no endpointing, so
in a live system it would also need one).

    .venv/bin/python benchmarks/speech_bench.py [--clips 8] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from carebot import models
from carebot.speech import corpus
from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.recognizer import MODEL_NAMES, RecognizerConfig
from carebot.speech.transcriber import Transcriber
from carebot.speech.vad import UtteranceDetector


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    maker = corpus.SpeechMaker()
    samples = [s for s in corpus.samples() if s.language == "en"][: args.clips]
    clips = [(s.text, maker.make(s.text, s.voice).samples) for s in samples]
    audio_s = sum(len(c) for _, c in clips) / SAMPLE_RATE
    print(f"{len(clips)} clips, {audio_s:.1f} s of speech, {args.threads} CPU threads")
    print(f"{'model':8s} {'pipeline':10s} {'RTF':>6s} {'lat p50':>8s} {'lat p95':>8s} {'WER':>6s}")
    from faster_whisper import WhisperModel

    for model in ("tiny.en", "base"):
        ours = Transcriber(RecognizerConfig(model=model, language="en", cpu_threads=args.threads)).load()
        plain = WhisperModel(str(models.locate(MODEL_NAMES[model])), device="cpu", compute_type="int8",
                             cpu_threads=args.threads)
        plain.transcribe(clips[0][1], language="en")  # warm-up, both
        ours.transcribe_audio(clips[0][1])
        rows = {}
        for name in ("carebot", "plain"):
            lat, compute, errs = [], 0.0, []
            for text, clip in clips:
                if name == "carebot":
                    detector = UtteranceDetector()
                    padded = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), clip,
                                             np.zeros(SAMPLE_RATE, np.float32)])
                    utts = []
                    for i in range(0, len(padded), 480):
                        utts += detector.process(padded[i:i + 480])
                    hyp, wait = [], 0.0
                    t0 = time.perf_counter()
                    for u in utts:
                        r = ours.transcribe_utterance(u)
                        if r.accepted:
                            hyp.append(r.text)
                        wait = (u.detected_sample - u.end_sample) / SAMPLE_RATE
                    spent = time.perf_counter() - t0
                    lat.append(wait + spent)
                    hypothesis = " ".join(hyp)
                else:
                    t0 = time.perf_counter()
                    segs, _ = plain.transcribe(clip, language="en")
                    hypothesis = " ".join(s.text for s in segs)
                    spent = time.perf_counter() - t0
                    lat.append(spent)
                compute += spent
                errs.append(corpus.word_errors(text, hypothesis))
            rows[name] = (compute / audio_s, pct(lat, 50), pct(lat, 95), corpus.error_rate(errs))
            print(f"{model:8s} {name:10s} {rows[name][0]:6.3f} {rows[name][1]:7.2f}s {rows[name][2]:7.2f}s "
                  f"{rows[name][3]:6.3f}")
        print(f"{model:8s} ratio      RTF plain/carebot {rows['plain'][0] / rows['carebot'][0]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
