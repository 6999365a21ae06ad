"""Whisper's encoder window: accuracy and cost of encoding a shorter window than 30 s.

The encoder is most of Whisper base's cost on a CPU and always encodes 30 s, however short
the utterance. ``RecognizerConfig.encoder_window_s`` encodes max(window, utterance + 1 s)
instead. This prints, side by side in one run on the same clips, for each window: English
word error rate (room corpus sentences, clean and a reverberant lounge at 10 dB SNR),
Mandarin character error rate (the labelled Mandarin sentences), language-detection
mistakes, and the recogniser's compute time per utterance (p50/p95). No front end: the
window is the only difference between columns.

    .venv/bin/python benchmarks/encoder_window_bench.py [--windows 30,15,10] [--split dev|heldout] [--limit N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from carebot.speech import corpus
from carebot.speech.audio import SAMPLE_RATE, resample
from carebot.speech.recognizer import Recognizer, RecognizerConfig
from carebot.speech.room_corpus import CONDITION_BY_NAME, RoomCorpus


def _clips(split: str, limit: int, conditions: list[str]):
    """(language, reference text, 16 kHz audio, condition) for every clip of the run."""
    room = RoomCorpus()
    out = [("en", item.sentence.text, item.mic, item.condition.name)
           for item in room.items(split, [CONDITION_BY_NAME[c] for c in conditions], limit=limit)]
    maker = corpus.SpeechMaker()
    zh = [s for s in corpus.samples() if s.language == "zh"]
    for sample in zh[:limit or len(zh)]:
        clip = maker.make(sample.text, sample.voice)
        out.append(("zh", sample.text, resample(clip.samples, clip.sample_rate, SAMPLE_RATE), "clean"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", default="30,15,10")
    ap.add_argument("--split", default="dev", choices=("dev", "heldout"))
    ap.add_argument("--limit", type=int, default=12, help="first N sentences per set (0 = all)")
    ap.add_argument("--conditions", default="clean,lounge_10")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    windows = [float(w) for w in args.windows.split(",")]
    clips = _clips(args.split, args.limit, args.conditions.split(","))
    print(f"[window] {len(clips)} clips ({args.split}), model base, auto among en/zh, "
          f"{args.threads} threads, load {os.getloadavg()[0]:.1f}")
    recognizers = {w: Recognizer(RecognizerConfig(model="base", language="auto", languages=("en", "zh"),
                                                  cpu_threads=args.threads, encoder_window_s=w)).load()
                   for w in windows}
    errors: dict[tuple[float, str], list[tuple[int, int]]] = {}
    wrong_language = {w: 0 for w in windows}
    times: dict[float, list[float]] = {w: [] for w in windows}
    for w, rec in recognizers.items():            # one warm-up each
        rec.transcribe(clips[0][2])
    for language, text, audio, condition in clips:
        for w, rec in recognizers.items():         # each clip through every window in turn: same load
            start = time.perf_counter()
            result = rec.transcribe(audio)
            times[w].append(time.perf_counter() - start)
            wrong_language[w] += int(result.language != language)
            count = corpus.word_errors if language == "en" else corpus.char_errors
            errors.setdefault((w, f"{language}/{condition}"), []).append(count(text, result.text))
    sets = sorted({key for _, key in errors})
    print("| window | " + " | ".join(f"{s} {'WER' if s.startswith('en') else 'CER'}" for s in sets)
          + " | language wrong | compute p50 | p95 |")
    print("|---" * (len(sets) + 4) + "|")
    for w in windows:
        ordered = sorted(times[w])
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        cells = [f"{corpus.error_rate(errors[(w, s)]):.3f}" for s in sets]
        print(f"| {w:g} s | " + " | ".join(cells) + f" | {wrong_language[w]}/{len(clips)} | "
              f"{statistics.median(ordered):.2f} s | {p95:.2f} s |")
    base = statistics.median(times[windows[0]])
    print("[window] compute ratio vs " + f"{windows[0]:g} s: "
          + ", ".join(f"{w:g} s {statistics.median(times[w]) / base:.2f}x" for w in windows[1:]))
    print(f"[window] load at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
