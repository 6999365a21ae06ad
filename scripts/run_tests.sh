#!/usr/bin/env bash
# Run the test suite in the venv made by scripts/setup.sh.
#   scripts/run_tests.sh                   the whole suite, one pytest process per group
#   scripts/run_tests.sh tests/unit/brain  plain pytest on what you name (extra pytest args welcome)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export MUJOCO_GL="${MUJOCO_GL:-osmesa}"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-$MUJOCO_GL}"
export HF_HUB_OFFLINE=1
if [[ $# -eq 0 ]]; then
  exec "$ROOT/.venv/bin/python" "$ROOT/scripts/run_suite.py"
fi
exec "$ROOT/.venv/bin/python" -m pytest "$@"
