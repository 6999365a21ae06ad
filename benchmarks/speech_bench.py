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

``--room`` measures hearing in a room instead (carebot.speech.room_corpus): word
error rate per condition (clean, pink/babble/TV noise at 10 and 5 dB SNR,
reverberation, a whole lounge, the robot's own voice playing) for each front-end
variant (``VARIANTS``: every stage on and off), the CPU each stage costs, and end
of speech -> transcript latency. ``--split heldout`` reports the held-out sentences
(never used for tuning). ``--paused`` measures slow speech with mid-sentence pauses
(split rate, WER, latency) for fixed and adaptive end of speech. Results are cached
per item and variant (``--cache``), so a second run only computes what changed.

    .venv/bin/python benchmarks/speech_bench.py --room --split dev --limit 16 \
        --variants old,gain,webrtc,deepfilter --conditions clean,lounge_10
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

    from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

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


# --------------------------------------------------------------------------- room
# Noise kinds whose synthesis changed: their items get a new cache key.
NOISE_VERSION = {"babble": 2, "lounge": 2}
CACHE_VERSION = 4    # bump when the pipeline changes in a way that changes results


def variants():
    """Front-end variants: name -> (FrontEndConfig, recogniser overrides, vad overrides)."""
    from carebot.speech.frontend import FrontEndConfig, NoiseSuppression as NS

    off = dict(echo_cancellation=False, noise_suppression=NS.OFF, gain=False, foreground=False)
    return {
        "old": (FrontEndConfig(**off), {}, {}),                                   # carebot before the front end
        "gain": (FrontEndConfig(**{**off, "gain": True}), {}, {}),
        "fg": (FrontEndConfig(**{**off, "foreground": True}), {}, {}),
        "gain+fg": (FrontEndConfig(**{**off, "gain": True, "foreground": True}), {}, {}),
        "gain+fg+webrtc": (FrontEndConfig(**{**off, "gain": True, "foreground": True,
                                            "noise_suppression": NS.WEBRTC}), {}, {}),
        "webrtc": (FrontEndConfig(**{**off, "gain": True, "noise_suppression": NS.WEBRTC}), {}, {}),
        "webrtc2": (FrontEndConfig(**{**off, "gain": True, "noise_suppression": NS.WEBRTC,
                                      "webrtc_ns_level": 2}), {}, {}),
        "deepfilter": (FrontEndConfig(**{**off, "gain": True, "noise_suppression": NS.DEEPFILTER}), {}, {}),
        "deepfilter12": (FrontEndConfig(**{**off, "gain": True, "noise_suppression": NS.DEEPFILTER,
                                           "deepfilter_atten_lim_db": 12.0}), {}, {}),
        "aec": (FrontEndConfig(**{**off, "gain": True, "echo_cancellation": True}), {}, {}),
        "aec+fg": (FrontEndConfig(**{**off, "gain": True, "foreground": True, "echo_cancellation": True}), {}, {}),
        "aec+webrtc": (FrontEndConfig(**{**off, "gain": True, "echo_cancellation": True,
                                         "noise_suppression": NS.WEBRTC}), {}, {}),
        "aec+deepfilter": (FrontEndConfig(**{**off, "gain": True, "echo_cancellation": True,
                                             "noise_suppression": NS.DEEPFILTER}), {}, {}),
    }


class Cache:
    def __init__(self, path: Path):
        import json

        self.path = path
        self.data = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        import json

        self.data[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)


def _site_prompts(site: str):
    from carebot.speech.vocabulary import load_vocabulary

    vocab = load_vocabulary(site)
    return (("en", vocab.prompt("en")), ("zh", vocab.prompt("zh")))


def room_run(args) -> None:
    from carebot.speech import room_corpus
    from carebot.speech.transcriber import join_accepted
    from carebot.speech.vad import VadConfig

    table = variants()
    names = [v for v in args.variants.split(",") if v]
    conditions = [room_corpus.CONDITION_BY_NAME[c] for c in args.conditions.split(",")] \
        if args.conditions != "all" else list(room_corpus.CONDITIONS)
    cache = Cache(Path(args.cache))
    rc = room_corpus.RoomCorpus()
    items = list(rc.items(args.split, conditions, args.limit, kinds=tuple(k for k in args.kinds.split(",") if k)))
    model_tag = f"{args.model}/b{args.beam}/{args.vocabulary}"
    print(f"{args.split}: {len(items) // len(conditions)} sentences x {len(conditions)} conditions, "
          f"model {args.model}, beam {args.beam}, vocabulary {args.vocabulary}, "
          f"load average {os.getloadavg()[0]:.1f}")
    transcribers = {}
    results = {}      # (variant, condition) -> list of (errors, words, latency, compute)
    cpu = {}          # variant -> {stage: cpu_s}, audio_s
    for name in names:
        fe, rec_over, vad_over = table[name]
        for item in items:
            cond_key = item.condition.name + (f"@{NOISE_VERSION[item.condition.noise]}"
                                              if item.condition.noise in NOISE_VERSION else "")
            key = "|".join([str(CACHE_VERSION), name, model_tag, args.split, cond_key,
                            item.voice.label, item.sentence.text])
            hit = cache.get(key)
            if hit is None:
                if name not in transcribers:
                    prompts = ()
                    if args.vocabulary != "off":
                        prompts = _site_prompts(item.sentence.site)
                    transcribers[name] = Transcriber(RecognizerConfig(
                        model=args.model, language="en", cpu_threads=args.threads, beam_size=args.beam,
                        prompt_mode=args.vocabulary if args.vocabulary != "off" else "prompt", **rec_over),
                        frontend=fe).load()
                tr = transcribers[name]
                if args.vocabulary != "off":   # the prompt of the sentence's site
                    from dataclasses import replace
                    tr.recognizer.config = replace(tr.recognizer.config, prompts=_site_prompts(item.sentence.site))
                vad = VadConfig(**vad_over)
                frontend = tr.make_frontend()
                t0 = time.process_time()
                cleaned = frontend.process_clip(item.mic, item.far) if frontend else item.mic
                fe_cpu = time.process_time() - t0
                detector = UtteranceDetector(vad)
                tail = np.zeros(int(SAMPLE_RATE * (detector.end_wait_s + 0.1)), np.float32)
                utterances = detector.process(np.concatenate([cleaned, tail])) + detector.flush()
                utterances = [u for u in utterances if not u.tentative]    # fixed end of speech here
                texts, waits, spent, background = [], [], 0.0, []
                lo, hi = (item.speech_start_s - 0.3) * SAMPLE_RATE, (item.speech_end_s + 0.3) * SAMPLE_RATE
                for u in utterances:
                    u.raw = np.concatenate([item.mic, tail])[u.audio_start_sample:u.audio_start_sample + len(u.audio)]
                    started = time.perf_counter()
                    r = tr.transcribe_utterance(u)
                    spent += time.perf_counter() - started
                    overlaps = u.end_sample > lo and u.start_sample < hi
                    if overlaps:
                        waits.append((u.detected_sample - u.end_sample) / SAMPLE_RATE + (time.perf_counter() - started))
                    if r.accepted:
                        (texts if overlaps else background).append(r.text)
                hyp = " ".join(texts)
                errors, words = corpus.word_errors(item.sentence.text, hyp)
                hit = {"hyp": hyp, "errors": errors, "words": words, "latency": waits[-1] if waits else None,
                       "compute": spent, "fe_cpu": fe_cpu, "audio_s": len(item.mic) / SAMPLE_RATE,
                       "stages": frontend.stages if frontend else [], "kind": item.sentence.kind,
                       "background": background}
                cache.put(key, hit)
                if args.verbose:
                    print(f"  {name:12s} {item.condition.name:10s} {errors}/{words} {item.sentence.text!r} -> {hyp!r}")
            results.setdefault((name, item.condition.name), []).append(hit)
            c = cpu.setdefault(name, [0.0, 0.0, 0.0])
            c[0] += hit["fe_cpu"]
            c[1] += hit["audio_s"]
            c[2] += hit["compute"]
    header = f"{'variant':14s}" + "".join(f"{c.name:>10s}" for c in conditions) + f"{'all':>8s}{'FE cpu':>8s}{'lat p50':>8s}{'p95':>6s}"
    print("WER per condition")
    print(header)
    for name in names:
        row, every, lats = f"{name:14s}", [], []
        for c in conditions:
            hits = results.get((name, c.name), [])
            pairs = [(h["errors"], h["words"]) for h in hits]
            every += pairs
            lats += [h["latency"] for h in hits if h["latency"] is not None]
            row += f"{corpus.error_rate(pairs):10.3f}"
        fe_cpu, audio_s, _ = cpu[name]
        row += f"{corpus.error_rate(every):8.3f}{fe_cpu / audio_s:8.3f}{pct(lats, 50):8.2f}{pct(lats, 95):6.2f}" if lats \
            else f"{corpus.error_rate(every):8.3f}{fe_cpu / audio_s:8.3f}"
        print(row)
    kinds = sorted({h["kind"] for hits in results.values() for h in hits})
    if len(kinds) > 1:
        print("WER by kind of sentence (all conditions)")
        for name in names:
            parts = []
            for kind in kinds:
                pairs = [(h["errors"], h["words"]) for (n, _), hits in results.items() if n == name
                         for h in hits if h["kind"] == kind]
                parts.append(f"{kind} {corpus.error_rate(pairs):.3f}")
            print(f"  {name:14s} " + ", ".join(parts))
    print("Transcripts from the background alone (TV, other people, the robot), per minute of audio")
    for name in names:
        row = f"{name:14s}"
        for c in conditions:
            hits = results.get((name, c.name), [])
            minutes = sum(h["audio_s"] for h in hits) / 60.0
            row += f"{sum(len(h.get('background', [])) for h in hits) / max(minutes, 1e-9):10.2f}"
        print(row)
    print("WER: the resident's sentence against the transcripts of the utterances that overlap it; "
          "FE cpu: front-end CPU seconds per second of audio (1.0 = one core); latency: end of speech -> "
          "transcript (VAD wait + Whisper), s")


def paused_run(args) -> None:
    """Slow speech with a pause in the middle of each sentence: how often the sentence is split,
    its word error rate, and end of speech -> last transcript, per end-of-speech setting."""
    from carebot.speech import room_corpus
    from carebot.speech.endpoint import EndOfSpeech
    from carebot.speech.vad import VadConfig

    rc = room_corpus.RoomCorpus()
    chosen = [s for s in room_corpus.sentences(args.split) if len(s.text.split()) >= 5]
    if args.limit:
        chosen = chosen[:args.limit]
    slow = [room_corpus.RoomVoice(corpus.Voice("piper", "joe", 100), 0.94),
            room_corpus.RoomVoice(corpus.Voice("espeak", "en-us+f3", 100)),
            room_corpus.RoomVoice(corpus.Voice("piper", "joe", 95), 1.05)]
    settings = {"fixed 500 ms (old)": VadConfig(end_silence_ms=500),
                "fixed 1300 ms": VadConfig(end_silence_ms=1300),
                "adaptive 500/1300 ms": VadConfig(end_silence_ms=500, max_pause_ms=1300)}
    if args.settings:
        settings = {k: v for k, v in settings.items() if k.split()[0] in args.settings.split(",")}
    tr = Transcriber(RecognizerConfig(model=args.model, language="en", cpu_threads=args.threads)).load()
    print(f"{args.split}: {len(chosen)} sentences, slow voices, pauses {args.pauses} s after the middle word; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'end of speech':22s} {'pause':>6s} {'split':>8s} {'WER':>6s} {'latency p50':>12s} {'p95':>6s} {'decodes':>8s}")
    for label, vad in settings.items():
        for pause in [float(p) for p in args.pauses.split(",")]:
            splits, pairs, lats, decodes = 0, [], [], 0
            for i, sentence in enumerate(chosen):
                voice = slow[i % len(slow)]
                words = sentence.text.split()
                speech = rc.paused(sentence.text, voice, pause, len(words) // 2) if pause > 0 else \
                    rc.speech(sentence.text, voice)
                item = rc.item(sentence, voice, room_corpus.CONDITION_BY_NAME["clean"], speech=speech)
                end_sample = int(item.speech_end_s * SAMPLE_RATE)
                ends = EndOfSpeech(lambda u: tr.transcribe_utterance(u))
                published = []
                for u in tr.cut(item.mic, vad):
                    for part, result in ends.feed(u):
                        published.append((part, result))
                decodes += ends.stats.decodes
                texts = [r.text for _, r in published if r.accepted]
                splits += len(texts) > 1
                pairs.append(corpus.word_errors(sentence.text, " ".join(texts)))
                if published:
                    part, result = published[-1]
                    lats.append((part.detected_sample - end_sample) / SAMPLE_RATE + result.compute_s)
            print(f"{label:22s} {pause:6.1f} {splits:3d}/{len(chosen):<4d} {corpus.error_rate(pairs):6.3f} "
                  f"{pct(lats, 50):11.2f}s {pct(lats, 95):5.2f}s {decodes / len(chosen):8.2f}")
    print("latency: end of the last speech sample -> the last transcript of the sentence (VAD wait + Whisper); "
          "decodes: Whisper calls per sentence")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ros", action="store_true", help="also measure through the speech node over DDS")
    ap.add_argument("--room", action="store_true", help="word error rate in noisy rooms per front-end variant")
    ap.add_argument("--split", default="dev", choices=("dev", "heldout"))
    ap.add_argument("--limit", type=int, default=0, help="first N sentences of the split (0 = all)")
    ap.add_argument("--variants", default="old,gain,webrtc,deepfilter")
    ap.add_argument("--conditions", default="all")
    ap.add_argument("--model", default="tiny.en", choices=tuple(MODEL_NAMES))
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--vocabulary", default="off", choices=("off", "prompt", "hotwords"))
    ap.add_argument("--cache", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "carebot-speech-bench.json"))
    ap.add_argument("--kinds", default="", help="only sentences of these kinds (request,vocabulary,distress)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--paused", action="store_true", help="slow speech with a mid-sentence pause: end of speech")
    ap.add_argument("--pauses", default="0,0.6,0.9,1.1", help="pause lengths, s (0: no pause)")
    ap.add_argument("--settings", default="", help="paused: only these end-of-speech settings (fixed,adaptive)")
    args = ap.parse_args()
    if args.paused:
        paused_run(args)
        return 0
    if args.room:
        room_run(args)
        return 0
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
