"""Who is speaking (issue 13's resident memory): voice prints of enrolled speakers, told apart?

SYNTHETIC VOICES ONLY: the neural Piper voice at three vocal-tract lengths (the same prosody,
pitch and formants moved together: the hardest case here) and espeak-ng voices. Real residents
differ more in some ways (age, accent) and less in others (several elderly men of one region);
these figures say whether the pipeline works, not how it does in a care home.

Each enrolled speaker says ``--enrol`` sentences in a quiet room (staff enrol a resident with
consent, as the docs describe); then every speaker, enrolled or not (impostors: visitors, other
residents not enrolled), says other sentences in each room condition. The book names a resident
only above its threshold and ahead of the next by its margin. Printed per condition: enrolled
speakers named right / named wrong / not named; impostors named (false accepts); the cosine of
same-speaker and different-speaker pairs (to read the threshold's room); ms per utterance.

    .venv/bin/python benchmarks/voice_id_bench.py [--tests 6] [--conditions clean lounge_10]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from carebot import models  # noqa: E402
from carebot.speech.corpus import Voice  # noqa: E402
from carebot.speech.frontend import FrontEnd, FrontEndConfig, NoiseSuppression  # noqa: E402
from carebot.speech.room_corpus import CONDITION_BY_NAME, RoomCorpus, RoomVoice, sentences  # noqa: E402
from carebot.speech.voice_id import SAMPLE_RATE, VoiceEncoder  # noqa: E402
from carebot.voice_book import VoiceBook  # noqa: E402

ENROLLED = (
    RoomVoice(Voice("piper", "joe", 125)),
    RoomVoice(Voice("piper", "joe", 125), 0.88),
    RoomVoice(Voice("piper", "joe", 125), 1.12),
    RoomVoice(Voice("espeak", "en-us+f3", 125)),
    RoomVoice(Voice("espeak", "en-gb", 130)),
    RoomVoice(Voice("espeak", "en-us+m3", 130)),
)
IMPOSTORS = (
    RoomVoice(Voice("piper", "joe", 110), 0.94),      # near an enrolled one on purpose
    RoomVoice(Voice("espeak", "en-us+f4", 125)),
    RoomVoice(Voice("espeak", "en-gb-scotland", 135)),
)


def spoken(item, suppression: str = "off") -> np.ndarray:
    """The utterance as the VAD would cut it (the sentence and a little either side), after the
    node's noise suppression for a live microphone when asked."""
    mic = item.mic
    if suppression != "off":
        config = FrontEndConfig(echo_cancellation=False, noise_suppression=NoiseSuppression(suppression))
        mic = FrontEnd(config).process_clip(mic)
    start = max(0, int((item.speech_start_s - 0.1) * SAMPLE_RATE))
    return mic[start:int((item.speech_end_s + 0.2) * SAMPLE_RATE)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enrol", type=int, default=3, help="enrolment sentences per speaker")
    parser.add_argument("--tests", type=int, default=6, help="test sentences per speaker and condition")
    parser.add_argument("--conditions", nargs="+", default=["clean", "lounge_10", "lounge_5"])
    parser.add_argument("--suppression", nargs="+", default=["off", "webrtc"],
                        help="noise suppression before the encoder (the node's live microphone: webrtc)")
    args = parser.parse_args()
    encoder = VoiceEncoder(models.voice_encoder_onnx())
    corpus = RoomCorpus()
    lines = sentences("dev") + sentences("heldout")
    if len(lines) < args.enrol + args.tests:
        raise SystemExit(f"{len(lines)} sentences: fewer than --enrol + --tests")
    print(f"[voice-id] {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {len(ENROLLED)} enrolled, "
          f"{len(IMPOSTORS)} impostors; enrolment {args.enrol} clean sentences, tests {args.tests} per condition")
    clean = CONDITION_BY_NAME["clean"]
    book = VoiceBook()
    for voice in ENROLLED:
        for sentence in lines[:args.enrol]:
            book.enrol(voice.label, encoder.embed(spoken(corpus.item(sentence, voice, clean))))
    print(f"\n{'condition, NS':<20}{'named right':>13}{'named wrong':>13}{'not named':>11}{'impostor named':>16}"
          f"{'same cos p10':>14}{'other cos p90':>15}{'ms/utt':>8}")
    for name, suppression in [(n, ns) for n in args.conditions for ns in args.suppression]:
        condition = CONDITION_BY_NAME[name]
        right = wrong = unnamed = false_accepts = 0
        same, other, took = [], [], []
        accepted: dict[str, int] = {}
        for voice in ENROLLED + IMPOSTORS:
            for sentence in lines[args.enrol:args.enrol + args.tests]:
                audio = spoken(corpus.item(sentence, voice, condition), suppression)
                start = time.perf_counter()
                voice_print = encoder.embed(audio)
                took.append(time.perf_counter() - start)
                match = book.identify(voice_print)
                for who, enrolled in book.prints.items():
                    (same if who == voice.label else other).append(float(np.dot(enrolled, voice_print)))
                if voice in ENROLLED:
                    right += match.resident == voice.label
                    wrong += match.resident not in (None, voice.label)
                    unnamed += match.resident is None
                else:
                    false_accepts += match.resident is not None
                    if match.resident is not None:
                        key = f"{voice.label} as {match.resident}"
                        accepted[key] = accepted.get(key, 0) + 1
        tests = len(ENROLLED) * args.tests
        print(f"{name + ', ' + suppression:<20}{right:>9}/{tests:<3}{wrong:>9}/{tests:<3}{unnamed:>7}/{tests:<3}"
              f"{false_accepts:>12}/{len(IMPOSTORS) * args.tests:<3}{np.percentile(same, 10):>14.3f}"
              f"{np.percentile(other, 90):>15.3f}{1000 * float(np.median(took)):>8.0f}")
        if accepted:
            print("    impostors named: " + ", ".join(f"{k} x{n}" for k, n in sorted(accepted.items())))
    print(f"\nthreshold {book.threshold}, margin {book.margin}; load at the end {os.getloadavg()[0]:.1f}. "
          "Synthetic voices: see the docstring.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
