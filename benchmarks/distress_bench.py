"""Safety-net benchmark: distress recall, stop recall and false alerts, per language and
class, with and without the similarity check, and the time from transcript to decision.

    .venv/bin/python benchmarks/distress_bench.py                  # dev + held-out sets
    .venv/bin/python benchmarks/distress_bench.py --set FILE.yaml  # any set of the same form

No LLM is involved: this is the layer that must work when the LLM is down. The sets
are tests/data/brain/distress_dev.yaml (used while writing the rules and choosing the
margins) and distress_heldout*.yaml (written independently, measured only). The
similarity check's bank is carebot/brain/data/distress_examples.yaml, a third set.
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

from carebot.brain.distress import DistressKind  # noqa: E402
from carebot.brain.evaluation import judge_safety, load_safety_set, rate  # noqa: E402
from carebot.brain.safety_rules import SafetyNet  # noqa: E402

DATA = ROOT / "tests" / "data" / "brain"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def fmt(pair: tuple[int, int]) -> str:
    good, total = pair
    return f"{good:>3}/{total:<3} {good / total:5.3f}" if total else "   -/-          "


def report(name: str, nets: dict[str, SafetyNet], rows: list[dict]) -> None:
    results = {label: judge_safety(net, rows) for label, net in nets.items()}
    print(f"\n== {name}: {len(rows)} utterances ==")
    print(f"  {'':34}" + "".join(f"{label:>22}" for label in results))
    lines = [("distress recall", dict(label="distress")), ("stop recall", dict(label="stop")),
             ("ordinary kept quiet", dict(label="ordinary")),
             ("  plain requests kept quiet", dict(label="ordinary", lookalike=False)),
             ("  look-alikes kept quiet", dict(label="ordinary", lookalike=True))]
    for language in ("en", "zh"):
        for title, where in lines:
            print(f"  {language} {title:<31}" + "".join(f"{fmt(rate(o, language=language, **where)):>22}"
                                                      for o in results.values()))
    print("  distress recall per kind (both languages)")
    for kind in DistressKind:
        print(f"    {kind.value:<30}" + "".join(f"{fmt(rate(o, label='distress', kind=kind.value)):>22}"
                                              for o in results.values()))
    print("  transcript -> decision latency, ms (p50 / p95 / max)")
    for label, outcomes in results.items():
        for path in ("rule", "similarity", ""):
            times = [o.latency_ms for o in outcomes if o.via == path]
            if times:
                print(f"    {label:<14} decided by {path or 'nothing (passed on)':<22} n={len(times):<4} "
                      f"{pct(times, 50):7.2f} / {pct(times, 95):7.2f} / {max(times):7.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], help="labelled YAML set (default: dev and held-out)")
    parser.add_argument("--embedder", default="e5", help="embedding model of the similarity check")
    args = parser.parse_args()
    sets = [Path(p) for p in args.set] or sorted(DATA.glob("distress_*.yaml"))

    from carebot.brain import embeddings
    from carebot.brain.distress_similarity import DistressSimilarity

    start = time.perf_counter()
    similarity = DistressSimilarity(embeddings.load(args.embedder))
    print(f"similarity bank: {len(similarity.examples)} examples, {args.embedder}, ready in "
          f"{time.perf_counter() - start:.1f} s (vectors cached on disk after the first run)")
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.2f} on {os.cpu_count()} cores")
    nets = {"rules only": SafetyNet(), f"rules + {args.embedder}": SafetyNet(similarity)}
    for path in sets:
        rows = load_safety_set(path)
        unseen = load_safety_set(path, unseen_by=similarity.examples)
        report(f"{path.name} ({len(rows) - len(unseen)} rows also in the example bank left out)", nets, unseen)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
