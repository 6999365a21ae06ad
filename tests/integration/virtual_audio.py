"""A virtual microphone for tests and the simulation: a PulseAudio daemon with
a null sink ``virtspk`` whose monitor is the default source (and which is the
default sink, so a program playing on the device ``pulse`` is heard too).

Whatever is played into ``virtspk`` (``play_clip``/``play_wav``) is what a
program recording from the pyaudio/ALSA device named ``pulse`` hears; with
nothing playing it hears silence. Idempotent: ``start()`` reuses a running
daemon and an existing sink. Works as root (CI): PulseAudio then only warns.
module-pipe-source is avoided on purpose: its reads block when its FIFO is empty.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SINK = "virtspk"
SOURCE = f"{SINK}.monitor"
PYAUDIO_DEVICE = "pulse"      # the ALSA pulse plugin's device name as pyaudio lists it
_START_TIMEOUT_S = 10.0


class VirtualAudioError(RuntimeError):
    """PulseAudio is missing or would not start; the message says how to fix it."""


def _run(*args: str, timeout: float = 10.0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


def available() -> bool:
    """True when the PulseAudio daemon and tools are installed."""
    return all(shutil.which(tool) for tool in ("pulseaudio", "pactl", "pacat"))


def server_running(env: dict[str, str] | None = None) -> bool:
    return _run("pactl", "info", timeout=5.0, env=env).returncode == 0


def _sink_present(env: dict[str, str] | None = None) -> bool:
    listing = _run("pactl", "list", "short", "sinks", env=env).stdout
    return any(line.split("\t")[1:2] == [SINK] for line in listing.splitlines())


@dataclass
class VirtualAudio:
    """Handle of the virtual microphone.

    ``env`` is what a client process needs to reach this daemon (empty for the
    user's shared daemon; PULSE_SERVER for a private one). ``started_daemon``
    says whether this handle owns the daemon.
    """

    env: dict[str, str] = field(default_factory=dict)
    started_daemon: bool = False
    runtime_dir: str = ""

    def running(self) -> bool:
        return server_running(self.env)

    def stop(self) -> None:
        """Stop the daemon only when this handle started it (others may be using a shared one)."""
        if self.started_daemon and self.running():
            _run("pulseaudio", "--kill", env=self._daemon_env())
            deadline = time.monotonic() + 5.0
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.1)
        self.started_daemon = False

    def _daemon_env(self) -> dict[str, str]:
        if not self.runtime_dir:
            return {}
        return {"PULSE_RUNTIME_PATH": self.runtime_dir, "PULSE_STATE_PATH": self.runtime_dir}

    def play_clip(self, samples: np.ndarray, sample_rate: int, wait: bool = True) -> subprocess.Popen:
        """Play mono float32 samples into the virtual speaker (streamed, nothing on disk)."""
        pcm = np.clip(np.round(np.asarray(samples, np.float32) * 32767.0), -32768, 32767).astype("<i2").tobytes()
        proc = subprocess.Popen(["pacat", "--playback", f"--device={SINK}", "--format=s16le", "--channels=1",
                                 f"--rate={int(sample_rate)}", "--latency-msec=50"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, **self.env})
        assert proc.stdin is not None
        try:
            proc.stdin.write(pcm)
        finally:
            proc.stdin.close()
        if wait:
            proc.wait(timeout=len(samples) / sample_rate + 10.0)
        return proc

    def play_wav(self, path: str | os.PathLike, wait: bool = True) -> subprocess.Popen:
        """Play a WAV file into the virtual speaker with paplay."""
        proc = subprocess.Popen(["paplay", f"--device={SINK}", str(path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env={**os.environ, **self.env})
        if wait:
            proc.wait(timeout=120.0)
        return proc


def start(runtime_dir: str | os.PathLike | None = None) -> VirtualAudio:
    """Make sure a daemon, the null sink and the default source exist.

    Without ``runtime_dir``: the user's (shared, reused) daemon. With it: a
    private daemon whose socket lives there, for a test that must stop or kill
    its "device" without disturbing anyone else.
    """
    if not available():
        raise VirtualAudioError("PulseAudio is not installed: apt-get install pulseaudio pulseaudio-utils "
                                "libasound2-plugins (scripts/setup.sh does it)")
    handle = VirtualAudio()
    if runtime_dir is not None:
        handle.runtime_dir = str(runtime_dir)
        Path(runtime_dir).mkdir(parents=True, exist_ok=True)
        handle.env = {"PULSE_SERVER": f"unix:{Path(runtime_dir) / 'native'}"}
    if not handle.running():
        # --exit-idle-time=-1: the daemon must not leave between two tests.
        result = _run("pulseaudio", "-D", "--exit-idle-time=-1", env=handle._daemon_env())
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not handle.running():
            if time.monotonic() > deadline:
                raise VirtualAudioError(f"PulseAudio did not start: {result.stderr.strip()[-500:]}")
            time.sleep(0.1)
        handle.started_daemon = True
    if not _sink_present(handle.env):
        result = _run("pactl", "load-module", "module-null-sink", f"sink_name={SINK}",
                      f"sink_properties=device.description={SINK}", env=handle.env)
        if result.returncode != 0 and not _sink_present(handle.env):
            raise VirtualAudioError(f"cannot load the null sink: {result.stderr.strip()}")
    _run("pactl", "set-default-source", SOURCE, env=handle.env)
    # The robot's own loudspeaker (pyaudio device "pulse", the default sink) plays into the same
    # sink: the microphone then hears the robot, as a real one does (echo cancellation tests).
    _run("pactl", "set-default-sink", SINK, env=handle.env)
    return handle


def play_clip(samples: np.ndarray, sample_rate: int, wait: bool = True) -> subprocess.Popen:
    """Play into the shared daemon's virtual speaker (see VirtualAudio.play_clip)."""
    return VirtualAudio().play_clip(samples, sample_rate, wait)


def play_wav(path: str | os.PathLike, wait: bool = True) -> subprocess.Popen:
    """Play a WAV file into the shared daemon's virtual speaker."""
    return VirtualAudio().play_wav(path, wait)


def main(argv: list[str] | None = None) -> int:
    """``python tests/integration/virtual_audio.py start|stop``."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["start"]:
        start()
        print(f"virtual microphone ready: play into {SINK}, record from pyaudio device {PYAUDIO_DEVICE!r}")
        return 0
    if argv[:1] == ["stop"]:
        VirtualAudio(started_daemon=True).stop()   # the shared daemon
        return 0
    print("usage: python tests/integration/virtual_audio.py start|stop")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
