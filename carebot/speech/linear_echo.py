"""A linear echo canceller for hearing a resident over the robot's own voice.

AEC3 (``frontend``) removes the robot's voice thoroughly, but its non-linear suppressor
also takes the resident down when both talk at once, and what is left of the resident can
come out as other words: offline, with the robot at 0.35 and a resident's "Stop, please
stop!" at 0.9 of full scale (their sum clipped), Whisper heard "", "" and "Help, please
help." in AEC3's output at three echo delays, and "Stop! Please stop!" every time in the
output of this linear canceller, which only subtracts its estimate of the echo (14-19 dB
less echo, the resident untouched). Too much of the robot is left for ordinary
transcripts, so the speech node listens to it only for a stop or a call for help said
while the robot talks (``barge_in.over_own_voice``).

Speex's MDF canceller (``libspeexdsp``, the one PulseAudio's echo-cancel module can use),
through ctypes: the Debian package ``libspeexdsp1`` (scripts/setup.sh).
"""
from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

from carebot.speech.audio import SAMPLE_RATE, float_to_pcm16

FRAME = 160                     # 10 ms at 16 kHz
_SET_SAMPLING_RATE = 24         # SPEEX_ECHO_SET_SAMPLING_RATE (speex_echo.h)


class LinearEchoUnavailable(RuntimeError):
    """libspeexdsp is not installed."""


def _library():
    name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise LinearEchoUnavailable(f"libspeexdsp not found ({exc}): apt-get install libspeexdsp1") from None
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_cancellation.restype = None
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.speex_echo_ctl.restype = ctypes.c_int
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_state_destroy.restype = None
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    return lib


class LinearEchoCanceller:
    """Speex MDF on 10 ms frames (not thread-safe: one capture thread). ``tail_ms``: the
    longest echo path it models (delay plus reverberation)."""

    def __init__(self, tail_ms: float = 250.0):
        self._lib = _library()
        taps = int(tail_ms * SAMPLE_RATE / 1000)
        self._state = self._lib.speex_echo_state_init(FRAME, taps)
        if not self._state:
            raise LinearEchoUnavailable("speex_echo_state_init failed")
        rate = ctypes.c_int(SAMPLE_RATE)
        self._lib.speex_echo_ctl(self._state, _SET_SAMPLING_RATE, ctypes.byref(rate))
        self._out = np.zeros(FRAME, np.int16)

    def process(self, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
        """Whole 10 ms frames of microphone and reference (float, same length) -> the microphone
        less the echo estimate."""
        if len(mic) != len(far) or len(mic) % FRAME:
            raise ValueError(f"need equal whole frames of {FRAME} samples (got {len(mic)} and {len(far)})")
        near, ref = float_to_pcm16(mic), float_to_pcm16(far)     # fresh, contiguous arrays
        out = np.empty(len(near), np.int16)
        for i in range(0, len(near), FRAME):
            n, f = near[i:i + FRAME], ref[i:i + FRAME]
            self._lib.speex_echo_cancellation(self._state, n.ctypes.data, f.ctypes.data, self._out.ctypes.data)
            out[i:i + FRAME] = self._out
        return out.astype(np.float32) / 32768.0

    def close(self) -> None:
        if self._state:
            self._lib.speex_echo_state_destroy(self._state)
            self._state = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
