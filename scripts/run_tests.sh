#!/usr/bin/env bash
# Run the whole test suite in the venv made by scripts/setup.sh.
# Extra arguments go to pytest (e.g. scripts/run_tests.sh tests/unit -k safety).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export MUJOCO_GL="${MUJOCO_GL:-osmesa}"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-$MUJOCO_GL}"
export HF_HUB_OFFLINE=1
exec "$ROOT/.venv/bin/python" -m pytest "${@:-tests}"
