"""Speech benchmark: real-time factor of each Whisper model, and latency from the
end of speech to a transcript (p50/p95), carebot's pipeline beside plain
faster-whisper on the same clips.

carebot = VAD endpointing (waits end_silence_ms of silence) + Whisper int8
greedy + guard. Plain = faster-whisper's defaults (beam 5, temperature fallback)
on the whole clip, started the moment the clip ends (it has no endpointing, so
a live system would have to add one). Both run on each clip in turn, so they
see the same machine load.

``--ros`` adds the end-to-end figure: the speech node (topic input, real DDS)
is fed each clip in real time, and the time from the last speech sample sent to
the Transcript received is measured.

    .venv/bin/python benchmarks/speech_bench.py [--clips 8] [--threads 2] [--ros]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from carebot import models
from carebot.speech import corpus
from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.recognizer import MODEL_NAMES, RecognizerConfig
from carebot.speech.transcriber import Transcriber
from carebot.speech.vad import UtteranceDetector

BLOCK = 480   # 30 ms blocks, as a device delivers them


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def carebot_run(transcriber, clip):
    """(latency s, compute s, text): VAD wait after the speech end + recognition."""
    detector = UtteranceDetector()
    padded = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), clip, np.zeros(SAMPLE_RATE, np.float32)])
    texts, wait, spent = [], 0.0, 0.0
    for i in range(0, len(padded), BLOCK):
        for utt in detector.process(padded[i:i + BLOCK]):
            started = time.perf_counter()
            result = transcriber.transcribe_utterance(utt)
            spent += time.perf_counter() - started
            wait = (utt.detected_sample - utt.end_sample) / SAMPLE_RATE
            if result.accepted:
                texts.append(result.text)
    return wait + spent, spent, " ".join(texts)


def plain_run(model, clip):
    started = time.perf_counter()
    segments, _ = model.transcribe(clip, language="en")
    text = " ".join(s.text for s in segments)
    spent = time.perf_counter() - started
    return spent, spent, text


def bench_models(clips, threads):
    from faster_whisper import WhisperModel

    audio_s = sum(len(c) for _, c in clips) / SAMPLE_RATE
    print(f"{'model':8s} {'pipeline':9s} {'RTF':>6s} {'latency p50':>12s} {'p95':>7s} {'WER':>6s}")
    for name in ("tiny.en", "base"):
        ours = Transcriber(RecognizerConfig(model=name, language="en", cpu_threads=threads)).load()
        plain = WhisperModel(str(models.locate(MODEL_NAMES[name])), device="cpu", compute_type="int8",
                             cpu_threads=threads)
        plain_run(plain, clips[0][1])   # warm-up, both
        carebot_run(ours, clips[0][1])
        stats = {"carebot": ([], 0.0, []), "plain": ([], 0.0, [])}
        for text, clip in clips:
            for label, run in (("carebot", lambda c: carebot_run(ours, c)), ("plain", lambda c: plain_run(plain, c))):
                latency, spent, hypothesis = run(clip)
                lat, total, errs = stats[label]
                lat.append(latency)
                errs.append(corpus.word_errors(text, hypothesis))
                stats[label] = (lat, total + spent, errs)
        rtf = {}
        for label, (lat, total, errs) in stats.items():
            rtf[label] = total / audio_s
            print(f"{name:8s} {label:9s} {rtf[label]:6.3f} {pct(lat, 50):11.2f}s {pct(lat, 95):6.2f}s "
                  f"{corpus.error_rate(errs):6.3f}")
        print(f"{name:8s} plain/carebot compute: {rtf['plain'] / rtf['carebot']:.2f}x")


def bench_ros(clips):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from speech_support import NODE, SpeechClient

    from carebot.testing.ros_env import isolated_env, start, stop, wait_for

    env = isolated_env()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"speech-bench-{os.getpid()}.log"
    proc = start(NODE + ["--ros-args", "-p", "audio_source:=topic", "-p", "playback:=none",
                         "-p", "model:=tiny.en"], env, log)
    client = SpeechClient(env)
    latencies = []
    try:
        if not wait_for(lambda: "speech ready" in log.read_text(), 90):
            print("speech node did not start:", log.read_text()[-2000:])
            return
        for _, clip in clips:
            before = len(client.transcripts)
            client.stream(np.zeros(SAMPLE_RATE // 2, np.float32), SAMPLE_RATE)
            client.stream(clip, SAMPLE_RATE)
            speech_end = time.monotonic()
            tail = np.zeros(int(1.5 * SAMPLE_RATE), np.float32)
            # keep the "microphone" running while waiting, like a real one
            client.stream(tail, SAMPLE_RATE)
            if wait_for(lambda: len(client.transcripts) > before, 10):
                latencies.append(client.arrivals[before] - speech_end)
        print(f"ROS node (tiny.en): end of speech -> Transcript received: p50 {pct(latencies, 50):.2f} s, "
              f"p95 {pct(latencies, 95):.2f} s over {len(latencies)} clips")
    finally:
        client.close()
        stop(proc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ros", action="store_true", help="also measure through the speech node over DDS")
    args = ap.parse_args()
    maker = corpus.SpeechMaker()
    samples = [s for s in corpus.samples() if s.language == "en"][: args.clips]
    clips = [(s.text, maker.make(s.text, s.voice).samples) for s in samples]
    audio_s = sum(len(c) for _, c in clips) / SAMPLE_RATE
    load = os.getloadavg()[0]
    print(f"{len(clips)} clips, {audio_s:.1f} s of speech, {args.threads} CPU threads, "
          f"{os.cpu_count()} cores, load average {load:.1f}")
    bench_models(clips, args.threads)
    if args.ros:
        bench_ros(clips)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
