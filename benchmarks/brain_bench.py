"""Brain benchmark: time from transcript to the start of the spoken reply, and how
much is answered without the LLM. Prints figures side by side in one run.

    .venv/bin/python benchmarks/brain_bench.py            # full (starts the embedded LLM)
    .venv/bin/python benchmarks/brain_bench.py --no-llm   # rules + knowledge only

"Start of the spoken reply" is when the brain hands its first speak/answer action
to the speech node: ``Brain.decide`` returns the validated plan and the node sends
the Speak goal at once (the TTS time is the speech role's figure). The requests are
the labelled sets in tests/data/brain plus a set of small-talk requests that only
the LLM handles; the embedded backend is the bundled SmolLM2-135M on llama.cpp.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from carebot.brain.dialogue import Brain, Source  # noqa: E402
from carebot.brain.evaluation import accuracy, load_labelled, run, share_without_llm  # noqa: E402
from carebot.brain.llm_client import EmbeddedServer, LLMClient, LLMConfig  # noqa: E402
from carebot.brain.tools import DEFAULT_RATE_LIMITS  # noqa: E402

DATA = ROOT / "tests" / "data" / "brain"
SMALL_TALK = [("care_home", "I feel like a change of scenery"), ("care_home", "I am a bit bored today"),
              ("care_home", "我今天有点无聊"), ("care_home", "My grandson is visiting me tomorrow, I'm excited"),
              ("public_hall", "This place is very big"), ("public_hall", "我第一次来这里"),
              ("public_hall", "It's really hot outside today"), ("care_home", "I used to be a teacher")]
UNLIMITED = {tool: (10 ** 6, 1.0) for tool in DEFAULT_RATE_LIMITS}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def line(name: str, values: list[float]) -> str:
    if not values:
        return f"  {name:<28} n=0"
    return (f"  {name:<28} n={len(values):<3} p50 {pct(values, 50):8.1f} ms   p95 {pct(values, 95):8.1f} ms"
            f"   mean {statistics.mean(values):8.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-llm", action="store_true", help="rules and knowledge only")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads of the embedded server")
    args = parser.parse_args()

    t0 = time.perf_counter()
    server = None if args.no_llm else EmbeddedServer(n_threads=args.threads).__enter__()
    t_llm = time.perf_counter() - t0
    try:
        llm = None if server is None else LLMClient(LLMConfig(timeout_s=60, deadline_s=90), embedded=server)
        t0 = time.perf_counter()
        brains = {site: Brain(site, llm=llm, rate_limits=UNLIMITED) for site in ("care_home", "public_hall")}
        t_brain = time.perf_counter() - t0
        lexical = {site: Brain(site, llm=None, use_embeddings=False, rate_limits=UNLIMITED)
                   for site in ("care_home", "public_hall")}
        print(f"start-up: embedded LLM server {t_llm:.1f} s, two brains with MiniLM {t_brain:.1f} s")

        results = {}
        for name in ("requests", "requests_dev2", "requests_heldout"):
            items = load_labelled(DATA / f"{name}.yaml")
            outcomes = run(brains, items)
            lex_outcomes = run(lexical, items)
            results[name] = (outcomes, lex_outcomes)
            print(f"\n{name}: {len(items)} labelled requests")
            print(f"  routing accuracy            {accuracy(outcomes):.3f} (MiniLM + LLM {'off' if llm is None else 'on'})"
                  f"   vs {accuracy(lex_outcomes):.3f} (lexical only, no LLM)")
            print(f"  answered without the LLM    {share_without_llm(outcomes):.3f}")
            for o in outcomes:
                if not o.correct:
                    print(f"    miss: {o.item.text!r} -> {o.why} [{o.decision.source.value}]")

        all_outcomes = [o for outs, _ in results.values() for o in outs]
        all_lexical = [o for _, outs in results.values() for o in outs]
        print("\ntranscript -> start of spoken reply (all labelled requests)")
        print(line("all", [o.decision.latency_ms for o in all_outcomes]))
        for source in Source:
            print(line(f"source={source.value}", [o.decision.latency_ms for o in all_outcomes
                                                  if o.decision.source is source]))
        print(line("lexical retrieval, no LLM", [o.decision.latency_ms for o in all_lexical]))
        print(f"  share answered without the LLM: {share_without_llm(all_outcomes):.3f}"
              f" ({sum(o.decision.source is not Source.LLM for o in all_outcomes)}/{len(all_outcomes)})")

        if llm is not None:
            times, fallbacks = [], 0
            for site, text in SMALL_TALK:
                decision = brains[site].decide(text, session=f"bench-{len(times)}")
                times.append(decision.latency_ms)
                fallbacks += int(decision.fallback)
            rule_p50 = pct([o.decision.latency_ms for o in all_outcomes if o.decision.source is not Source.LLM], 50)
            print("\nsmall talk (always the embedded LLM, SmolLM2-135M Q4_1, llama.cpp, "
                  f"{args.threads} thread)")
            print(line("LLM path", times))
            print(f"  fallbacks {fallbacks}/{len(times)}; LLM p50 / rule+knowledge p50 = "
                  f"{pct(times, 50) / max(rule_p50, 1e-6):.0f}x")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
