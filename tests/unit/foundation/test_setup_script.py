"""scripts/setup.sh: refuses a wrong Python clearly; a second run does no work."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "scripts" / "setup.sh"


def _other_python() -> str | None:
    """A real interpreter that is not 3.11, if this machine has one."""
    for name in ("python3.12", "python3.13", "python3.10"):
        found = shutil.which(name)
        if found:
            return found
    for base in (Path.home() / ".pyenv" / "versions").glob("3.1[023]*/bin/python3"):
        return str(base)
    return None


def _fake_python(tmp_path: Path) -> str:
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\necho 3.12\n")
    fake.chmod(0o755)
    return str(fake)


@pytest.mark.parametrize("kind", ["real", "fake"])
def test_setup_refuses_wrong_python_with_clear_message(tmp_path, kind):
    python = _other_python() if kind == "real" else _fake_python(tmp_path)
    if python is None:
        pytest.skip("no real non-3.11 Python on this machine (the fake-interpreter case still runs)")
    venv = tmp_path / "venv"
    env = dict(os.environ, CAREBOT_PYTHON=python, CAREBOT_VENV=str(venv))
    proc = subprocess.run(["bash", str(SETUP)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "needs Python 3.11" in proc.stderr
    assert "3.12" in proc.stderr or "3.1" in proc.stderr
    assert "cp311" in proc.stderr and "CAREBOT_PYTHON" in proc.stderr
    assert not venv.exists(), "nothing may be created before the Python check passes"


def test_second_setup_run_does_no_work():
    """make test already ran setup: running it again must find every stamp fresh."""
    if not (ROOT / ".venv" / ".carebot-stamps").exists():
        pytest.skip("the project venv was not made by scripts/setup.sh")
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for work in ("installing Debian packages", "installing Python packages",
                 "building carebot_interfaces", "installing carebot", "creating venv"):
        assert work not in proc.stdout, proc.stdout
    assert "ready:" in proc.stdout
