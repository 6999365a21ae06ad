#!/usr/bin/env python3
"""Run the whole test suite, one pytest process per group, and add up the results.

Why separate processes: torch (perception, ultralytics), MuJoCo's OSMesa renderer
(simulation) and the CUDA-build torch's triton do not always coexist in one
interpreter (a segfault was seen when one test module's imports met another's).
Each integration and scenario file and each unit folder gets a fresh interpreter,
so no test depends on what an earlier one loaded.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
# pytest exit codes: 0 all passed, 1 some failed, 5 nothing collected.
NO_TESTS_COLLECTED = 5


def groups() -> list[Path]:
    unit = sorted(p for p in (TESTS / "unit").iterdir() if p.is_dir() and any(p.glob("test_*.py")))
    files = sorted((TESTS / "integration").glob("test_*.py")) + sorted((TESTS / "scenarios").glob("test_*.py"))
    return unit + files


def main(extra: list[str]) -> int:
    totals: dict[str, int] = {}
    failed_groups: list[str] = []
    started = time.monotonic()
    for group in groups():
        rel = group.relative_to(ROOT)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(rel), *extra],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = proc.stdout.rstrip().splitlines()
        summary = lines[-1] if lines else ""
        counts = {kind: int(n) for n, kind in COUNT.findall(summary)}
        for kind, n in counts.items():
            key = "errors" if kind.startswith("error") else kind
            totals[key] = totals.get(key, 0) + n
        ok = proc.returncode in (0, NO_TESTS_COLLECTED)
        print(f"[suite] {rel}: {summary.strip('= ')} ({time.monotonic() - t0:.0f} s)", flush=True)
        if not ok:
            failed_groups.append(str(rel))
            print(proc.stdout[-20000:], flush=True)   # the failures, in full
    minutes = (time.monotonic() - started) / 60
    print(f"[suite] {len(groups())} groups in {minutes:.1f} min; failed groups: {', '.join(failed_groups) or 'none'}")
    failed = totals.get("failed", 0) + totals.get("errors", 0)
    # The plain closing line CI reads: 'N passed, N failed, N skipped'.
    print(f"{totals.get('passed', 0)} passed, {failed} failed, {totals.get('skipped', 0)} skipped")
    return 1 if failed_groups or failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
