"""Social talk without an LLM (issue 13): how many utterances of company get a warm reply.

Each set goes through ``carebot ask --jsonl --backend none`` (the command a new user would
run; models loaded once per set), and every answer is judged by
``carebot.brain.evaluation.judge_social``: a reply in the speaker's language, from the
companionship layer (not a refusal, not the canned fallback, not a knowledge fact), no
staff alert, no motion. The held-out set is for measurement only (see its header): misses
are printed so they can be read, never to be fixed against it. The first held-out set
(``heldout``) was read after its first measurement and is a development set now;
``heldout2`` replaced it, and was itself read after its first measurement (13/16, three
false alerts of the safety net: two by its similarity check, one by a rule); ``heldout3`` replaced it.

    .venv/bin/python benchmarks/social_bench.py [--sets dev heldout]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from carebot.brain.evaluation import judge_social, load_social  # noqa: E402

# heldout: the first held-out set, read after its first measurement: a development set since.
# heldout2: written after that; read after its first measurement (13/16): a development set too.
# heldout3: written after that; read after its first measurement (15/16): a development set too.
# heldout4: written on 4 Dec evening with no change since heldout3's measurement; measured once
# (14/16) and read: a development set too.
# heldout5: written on 4 Dec night; measured once (14/16) and read: a development set too.
# heldout6: written on 5 Dec 01:20 before any run on it, no brain change since heldout5's fix;
#   measured once (14/16) and read: a development set too.
# heldout7: written on 5 Dec 08:50 before any run on it (brain changed since: greetings);
#   measured once (13/16) and read: a development set too.
# heldout8: written on 5 Dec 13:58 before any run on it (brain changed since set 7: mood-only
#   talk, greeting + unknown question, visiting); measured once (13/16) and read: a development
#   set too.
# heldout9: written on 5 Dec 16:00 before any run on it (brain changed since set 8: family
#   news, praise of the robot, more memories); measured once (12/16: two false medical alerts,
#   two fallbacks) and read: a development set too.
# heldout10: written on 5 Dec 17:52 before any run on it (brain changed since set 9: a death
#   long past is mood-only, a routine described is boredom); measured once (13/16: a false
#   medication alert from the similarity check, two fallbacks) and read: a development set too.
# heldout11: written on 5 Dec 20:50 before any run on it (brain changed since set 10: a medicine
#   named for a non-critical medication finding, the Chinese greeting, homesickness); measured
#   once (14/16: a fallback, a HELP_REQUEST alert for sleepless loneliness) and read: a
#   development set too.
SETS = {"dev": ROOT / "tests/data/brain/social_dev.yaml", "heldout": ROOT / "tests/data/brain/social_heldout.yaml",
        "heldout2": ROOT / "tests/data/brain/social_heldout2.yaml",
        "heldout3": ROOT / "tests/data/brain/social_heldout3.yaml",
        "heldout4": ROOT / "tests/data/brain/social_heldout4.yaml",
        "heldout5": ROOT / "tests/data/brain/social_heldout5.yaml",
        "heldout6": ROOT / "tests/data/brain/social_heldout6.yaml",
        "heldout7": ROOT / "tests/data/brain/social_heldout7.yaml",
        "heldout8": ROOT / "tests/data/brain/social_heldout8.yaml",
        "heldout9": ROOT / "tests/data/brain/social_heldout9.yaml",
        "heldout10": ROOT / "tests/data/brain/social_heldout10.yaml",
        "heldout11": ROOT / "tests/data/brain/social_heldout11.yaml"}


def ask_batch(rows: list[dict]) -> list[dict]:
    """The CLI's answer to each row, in order."""
    lines = "".join(json.dumps({"text": r["text"], "site": r.get("site", "care_home")},
                               ensure_ascii=False) + "\n" for r in rows)
    result = subprocess.run([sys.executable, "-m", "carebot.cli", "ask", "--backend", "none", "--jsonl", "-"],
                            input=lines, capture_output=True, text=True, timeout=900, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"carebot ask failed ({result.returncode}): {result.stderr[-2000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=sorted(SETS))
    args = parser.parse_args()
    for name in args.sets:
        rows = load_social(SETS[name])
        start = time.monotonic()
        answers = ask_batch(rows)
        took = time.monotonic() - start
        warm = {"en": [0, 0], "zh": [0, 0]}
        misses = []
        for row, answer in zip(rows, answers, strict=True):
            ok, why = judge_social(answer, row["lang"])
            warm[row["lang"]][0] += ok
            warm[row["lang"]][1] += 1
            if not ok:
                misses.append(f"  [{row['lang']} {row.get('topic', '')}] {row['text']!r} -> {why}: "
                              f"{answer.get('reply', '')[:90]!r}")
        total = sum(w for w, _ in warm.values()), sum(n for _, n in warm.values())
        print(f"{name:8s} warm {total[0]}/{total[1]}  (en {warm['en'][0]}/{warm['en'][1]}, "
              f"zh {warm['zh'][0]}/{warm['zh'][1]})  {took:.0f} s for the set incl. model loading")
        print("\n".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
