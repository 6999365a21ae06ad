"""On a robot with a full ROS 2 install: `colcon build` at the repository root builds
both packages and `ros2 run carebot <executable>` finds every node.

There is no `ros2` CLI wheel; `ros2 run` resolves <prefix>/lib/<package>/<executable>
through the ament index, which is what this test does after sourcing the workspace.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from carebot import bringup

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"

pytestmark = pytest.mark.slow

RESOLVE = """
import os, sys
from ament_index_python.packages import get_package_prefix
prefix = get_package_prefix(sys.argv[1])
print(os.path.join(prefix, 'lib', sys.argv[1]))
"""


def _copy_sources(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())


def test_colcon_builds_both_packages_and_ros2_run_finds_every_node(tmp_path):
    repo = tmp_path / "carebot"
    _copy_sources(repo)
    env = dict(os.environ, PATH=f"{VENV / 'bin'}:{os.environ['PATH']}",
               AMENT_PREFIX_PATH=str(VENV), CMAKE_PREFIX_PATH=str(VENV))
    build = subprocess.run(["colcon", "build", "--cmake-args", "-DBUILD_TESTING=OFF"], cwd=repo,
                           env=env, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "2 packages finished" in build.stdout

    index = repo / "install" / "share" / "ament_index" / "resource_index" / "packages"
    assert (index / "carebot").exists() and (index / "carebot_interfaces").exists()

    # As on a robot: source the workspace, resolve the executables like `ros2 run`.
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "AMENT_PREFIX_PATH", "LD_LIBRARY_PATH")}
    script = (f"source {repo}/install/setup.bash && "
              f"libdir=$({sys.executable} -c \"{RESOLVE}\" carebot) && "
              f"ls \"$libdir\" && \"$libdir/carebot\" --help >/dev/null && "
              f"{sys.executable} -c 'import carebot, carebot_interfaces.msg as m; print(carebot.__file__); print(m.Alert)'")
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=clean, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    listed = set(run.stdout.split())
    for node in bringup.NODES:
        assert node.executable in listed, f"ros2 run carebot {node.executable} would not be found"
    assert "carebot" in listed
    # The sourced workspace's own copy is imported, not the developer's checkout.
    assert str(repo / "install") in run.stdout
