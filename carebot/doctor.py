"""``carebot doctor``: check the environment and say how to fix what is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

from carebot import models

SETUP_HINT = "run `make setup` (scripts/setup.sh) from the repository root"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_python() -> CheckResult:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if sys.version_info[:2] == (3, 11):
        return CheckResult("python", True, f"Python {sys.version.split()[0]}")
    return CheckResult("python", False, f"Python {version}: the ROS 2 Jazzy wheels are cp311",
                       "use the venv made by `make setup` (.venv/bin/carebot)")


def check_rclpy() -> CheckResult:
    try:
        import rclpy
        from rclpy.context import Context

        context = Context()
        rclpy.init(context=context)
        try:
            rmw = rclpy.get_rmw_implementation_identifier()
            node = rclpy.create_node("carebot_doctor", context=context)
            node.destroy_node()
        finally:
            rclpy.shutdown(context=context)
    except Exception as exc:  # report any failure of the middleware, never crash
        return CheckResult("rclpy", False, f"{type(exc).__name__}: {exc}",
                           f"install the ROS 2 wheels: {SETUP_HINT}")
    return CheckResult("rclpy", True, f"rclpy loads, rmw {rmw}")


def check_interfaces() -> CheckResult:
    try:
        from carebot_interfaces.action import Gesture, NavigateTo, Speak  # noqa: F401
        from carebot_interfaces.msg import Alert, PersonArray, RobotStatus, Transcript  # noqa: F401
        from carebot_interfaces.srv import Ask  # noqa: F401
    except Exception as exc:
        return CheckResult("interfaces", False, f"{type(exc).__name__}: {exc}",
                           f"build robot_ws (colcon) and link it into the venv: {SETUP_HINT}")
    return CheckResult("interfaces", True, "carebot_interfaces msg/srv/action import")


def check_model(name: str) -> Callable[[], CheckResult]:
    def check() -> CheckResult:
        try:
            path = models.locate(name)
        except models.ModelNotFound as exc:
            return CheckResult(f"model {name}", False, str(exc), exc.fix)
        return CheckResult(f"model {name}", True, str(path))
    return check


def check_audio() -> CheckResult:
    try:
        import pyaudio
    except Exception as exc:
        return CheckResult("audio", False, f"pyaudio: {exc}",
                           f"apt-get install portaudio19-dev, then {SETUP_HINT}")
    if shutil.which("espeak-ng") is None:
        return CheckResult("audio", False, "espeak-ng not found", "apt-get install espeak-ng")
    stderr_fd = os.dup(2)
    try:  # PortAudio prints ALSA probing noise on stderr; keep the report readable
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            pa = pyaudio.PyAudio()
    finally:
        os.dup2(stderr_fd, 2)
        os.close(stderr_fd)
    try:
        inputs = [pa.get_device_info_by_index(i)["name"] for i in range(pa.get_device_count())
                  if pa.get_device_info_by_index(i).get("maxInputChannels", 0) > 0]
    finally:
        pa.terminate()
    if not inputs:
        return CheckResult("audio", False, "no audio input device",
                           "connect a microphone, or start a virtual one: "
                           "`pulseaudio -D --exit-idle-time=-1` then "
                           "`pactl load-module module-null-sink sink_name=virtspk` and "
                           "`pactl set-default-source virtspk.monitor`")
    return CheckResult("audio", True, f"input devices: {', '.join(inputs[:4])}")


_GL_PROBE = """
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos="0 0 3"/><geom type="sphere" size=".1"/></worldbody></mujoco>')
r = mujoco.Renderer(m, 32, 32)
d = mujoco.MjData(m); mujoco.mj_forward(m, d); r.update_scene(d); img = r.render()
print(img.shape)
"""


def check_offscreen_gl() -> CheckResult:
    env = dict(os.environ)
    env.setdefault("MUJOCO_GL", "osmesa")
    env.setdefault("PYOPENGL_PLATFORM", env["MUJOCO_GL"])
    try:  # a separate process: a GL failure can abort the interpreter
        proc = subprocess.run([sys.executable, "-c", _GL_PROBE], env=env, capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return CheckResult("offscreen GL", False, "render probe timed out", "")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return CheckResult("offscreen GL", False, f"MuJoCo {env['MUJOCO_GL']} render failed: {last}",
                           "apt-get install libosmesa6 (MUJOCO_GL=osmesa), or use MUJOCO_GL=egl on a GPU")
    return CheckResult("offscreen GL", True, f"MuJoCo renders with MUJOCO_GL={env['MUJOCO_GL']}")


def all_checks() -> list[Callable[[], CheckResult]]:
    checks: list[Callable[[], CheckResult]] = [check_python, check_rclpy, check_interfaces]
    checks += [check_model(name) for name in models.MODELS]
    checks += [check_audio, check_offscreen_gl]
    return checks


def run(args) -> int:
    failures = 0
    for check in all_checks():
        result = check()
        mark = "ok  " if result.ok else "FAIL"
        print(f"[{mark}] {result.name}: {result.detail}")
        if not result.ok:
            failures += 1
            if result.fix:
                print(f"       fix: {result.fix}")
    print(f"{failures} problem(s)" if failures else "all checks passed")
    return 1 if failures else 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("doctor", help="check the environment and print fixes")
    parser.set_defaults(func=run)
