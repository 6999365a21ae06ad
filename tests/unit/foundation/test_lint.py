"""The ROS 2 linters, as ament_python packages run them (test_flake8.py, test_pep257.py).

flake8 runs through ament_flake8 with the project's configuration (setup.cfg [flake8]:
the house's line length, and why); pep257 through ament_pep257 with the checks the house
follows. Both fail the suite with every finding named.
"""
from pathlib import Path

from ament_flake8.main import main_with_errors as flake8_main
from ament_pep257.main import main as pep257_main

ROOT = Path(__file__).resolve().parents[3]
PATHS = [str(ROOT / p) for p in ("carebot", "tests", "launch", "scripts", "setup.py")]
# ament's own ignore list, plus the house's docstring habits: the summary on the first line
# (D213), summaries that describe rather than command (D401) and need not end in a period
# (D400, D415), a blank line not forced after a multi-line summary (D205) nor before the
# closing quotes (D209), names kept as written (D402, D403).
PEP257_IGNORE = ["D100", "D101", "D102", "D103", "D104", "D105", "D106", "D107", "D203", "D212", "D404",
                 "D213", "D401", "D400", "D415", "D205", "D209", "D402", "D403"]


def test_flake8(capsys):
    rc, errors = flake8_main(argv=["--config", str(ROOT / "setup.cfg"), *PATHS])
    assert rc == 0, f"flake8 found {len(errors)} problem(s):\n" + "\n".join(errors)


def test_pep257(capsys):
    rc = pep257_main(argv=["--ignore", *PEP257_IGNORE, "--", *[p for p in PATHS if not p.endswith(".py")]])
    out = capsys.readouterr().out
    assert rc == 0, "\n".join(line for line in out.splitlines() if not line.startswith("checking "))
