"""Who is speaking: a voice print per enrolled resident, matched by cosine similarity.

The encoder is Resemblyzer's GE2E speaker encoder (Apache-2.0, its weights ship in the
``Resemblyzer`` wheel), exported once to ONNX at setup (``python -m carebot.speech.voice_id
export``, the venv's torch) so the speech process runs it on onnxruntime without torch. Its
input is a 40-channel mel power spectrogram (25 ms windows, 10 ms steps, 16 kHz) computed here
in numpy; an utterance is cut into 1.6 s partial windows (50 % overlap), each embedded, and the
L2-normed mean is the utterance's voice print (256 values, unit length).

Only voice prints are kept (never audio), in a ``carebot.voice_book.VoiceBook`` (a resident id ->
the mean print of the utterances they enrolled with); ``VoiceRegister`` is the node's side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from carebot.voice_book import VoiceBook, forget_in_file, unit

SAMPLE_RATE = 16000
N_FFT = 400                 # 25 ms
HOP = 160                   # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160        # 1.6 s per partial window
PARTIAL_STEP = 80           # 50 % overlap
MIN_SPEECH_S = 1.0          # shorter utterances say too little about a voice
TARGET_DBFS = -30.0         # the encoder's training level (raised to it, never lowered)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (the encoder was trained on it)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    log = 1000.0 * np.exp((math.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log, linear)


def mel_filterbank() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangular filters from 0 Hz to Nyquist, area-normalised (Slaney)."""
    bins = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_FILTERS = mel_filterbank()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)   # periodic Hann


def mel_frames(audio: np.ndarray) -> np.ndarray:
    """(frames, N_MELS) mel power spectrogram of 16 kHz float audio, frames centred on every HOP."""
    audio = np.asarray(audio, dtype=np.float32)
    padded = np.pad(audio, N_FFT // 2, mode="reflect") if len(audio) > N_FFT // 2 else \
        np.pad(audio, N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    power = np.abs(np.fft.rfft(padded[index] * _WINDOW, axis=1)) ** 2
    return (power @ _FILTERS.T).astype(np.float32)


def raise_level(audio: np.ndarray) -> np.ndarray:
    """Quiet speech raised to TARGET_DBFS (the encoder's training level); loud speech kept."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    if rms <= 1e-9:
        return audio
    gain_db = TARGET_DBFS - 20 * math.log10(rms)
    return audio * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else audio


def partial_windows(mels: np.ndarray) -> np.ndarray:
    """(n, PARTIAL_FRAMES, N_MELS): 1.6 s windows every 0.8 s while frames are left; a last window
    that would be mostly padding (under 3/4 filled) is left out, but there is always one (an
    utterance shorter than 1.6 s is zero-padded)."""
    count = len(mels)
    starts = [0]
    while starts[-1] + PARTIAL_FRAMES < count and count - (starts[-1] + PARTIAL_STEP) >= 0.75 * PARTIAL_FRAMES:
        starts.append(starts[-1] + PARTIAL_STEP)
    out = np.zeros((len(starts), PARTIAL_FRAMES, N_MELS), dtype=np.float32)
    for i, start in enumerate(starts):
        piece = mels[start:start + PARTIAL_FRAMES]
        out[i, :len(piece)] = piece
    return out


class VoiceEncoder:
    """The exported GE2E encoder on onnxruntime: 16 kHz float audio -> unit voice print (256)."""

    def __init__(self, onnx_path: str | Path, threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads      # a short job beside Whisper: one core
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """The utterance's voice print; ValueError for less than MIN_SPEECH_S of audio."""
        if len(audio) < MIN_SPEECH_S * SAMPLE_RATE:
            raise ValueError(f"{len(audio) / SAMPLE_RATE:.2f} s of speech: a voice print needs {MIN_SPEECH_S} s")
        windows = partial_windows(mel_frames(raise_level(np.asarray(audio, dtype=np.float32))))
        prints = self.session.run(None, {self.input_name: windows})[0]
        return unit(prints.mean(axis=0)).astype(np.float32)


class VoiceIdUnavailable(RuntimeError):
    """The encoder cannot run (model not prepared, onnxruntime error): nobody is named."""


@dataclass
class _Enrolment:
    resident: str
    wanted: int
    deadline: float                       # time.monotonic()
    prints: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class Heard:
    speaker: str = ""                     # the resident recognised ("" = nobody)
    similarity: float = -1.0
    note: str = ""                        # an enrolment's progress or end, for the log


class VoiceRegister:
    """The speech node's side of voice prints, without ROS: the book file (re-read when staff
    change it on disk, e.g. ``carebot residents forget``), the encoder (loaded on first need,
    so a robot with nobody enrolled never loads it) and at most one enrolment at a time.
    Thread-safe (the enrolment service and the transcription thread)."""

    def __init__(self, path: str | Path, threshold: float, margin: float, encoder_factory) -> None:
        import threading

        self.path = Path(path)
        self.threshold, self.margin = threshold, margin
        self._encoder_factory = encoder_factory
        self._encoder: VoiceEncoder | None = None
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self.book = VoiceBook(threshold, margin)
        self._enrolment: _Enrolment | None = None
        self.load_error = ""
        self._reload()

    # --- the book on disk ------------------------------------------------------------------
    def _reload(self) -> None:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self.book = VoiceBook.load(self.path, self.threshold, self.margin)
            self.load_error = ""
        except (ValueError, OSError) as error:
            # Fail safe: a damaged book names nobody (a wrong name is worse than none).
            self.book = VoiceBook(self.threshold, self.margin)
            self.load_error = str(error)

    def _save(self, book: VoiceBook) -> None:
        book.save(self.path)
        stat = self.path.stat()
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        self.book = book

    def _encoder_ready(self) -> VoiceEncoder:
        if self._encoder is None:
            try:
                self._encoder = self._encoder_factory()
            except Exception as error:      # a missing model or a broken runtime: named, not fatal
                raise VoiceIdUnavailable(f"the voice encoder cannot run: {type(error).__name__}: {error}") from error
        return self._encoder

    # --- staff: enrol and forget ------------------------------------------------------------
    def start_enrolment(self, resident: str, consent: bool, utterances: int, timeout_s: float, now: float) -> str:
        """Arms an enrolment; ValueError (refused) or VoiceIdUnavailable. Returns what to tell staff."""
        resident = resident.strip()
        if not resident:
            raise ValueError("name the resident (their id in the resident memory)")
        if not consent:
            raise ValueError("refused: the resident's consent to be recognised by voice is needed")
        if not 1 <= utterances <= 10 or not 5.0 <= timeout_s <= 600.0:
            raise ValueError("utterances must be 1..10 and timeout_s 5..600")
        with self._lock:
            self._encoder_ready()
            if self._enrolment is not None and now < self._enrolment.deadline:
                raise ValueError(f"already enrolling {self._enrolment.resident}")
            self._enrolment = _Enrolment(resident, utterances, now + timeout_s)
        return (f"listening for {utterances} utterance(s) of at least {MIN_SPEECH_S:g} s from {resident} "
                f"for {timeout_s:.0f} s; only their voice print is kept")

    def forget(self, resident: str) -> bool:
        """Removes the resident's print from the book file; False when there was none."""
        with self._lock:
            gone = forget_in_file(self.path, resident)
            self._reload()
            return gone

    # --- every utterance -------------------------------------------------------------------
    def hear(self, audio: np.ndarray, now: float) -> Heard:
        """Who said this utterance (or its part in an enrolment). Raises VoiceIdUnavailable."""
        with self._lock:
            self._reload()
            enrolment = self._enrolment
            if enrolment is not None and now >= enrolment.deadline:
                self._enrolment = None
                return Heard(note=f"enrolment of {enrolment.resident} timed out with {len(enrolment.prints)} of "
                                  f"{enrolment.wanted} utterance(s): nothing kept")
            if len(audio) < MIN_SPEECH_S * SAMPLE_RATE or (enrolment is None and not self.book.prints):
                return Heard()
            voice_print = self._encoder_ready().embed(audio)
            if enrolment is None:
                match = self.book.identify(voice_print)
                return Heard(match.resident or "", match.similarity)
            enrolment.prints.append(voice_print)
            if len(enrolment.prints) < enrolment.wanted:
                return Heard(note=f"enrolment of {enrolment.resident}: {len(enrolment.prints)} of {enrolment.wanted}")
            self._enrolment = None
            book = self.book.copy()
            book.forget(enrolment.resident)          # a new enrolment replaces the old print
            for p in enrolment.prints:
                book.enrol(enrolment.resident, p)
            try:
                self._save(book)
            except OSError as error:
                return Heard(note=f"enrolment of {enrolment.resident} could not be saved ({error}): nothing kept")
            return Heard(note=f"enrolled {enrolment.resident}'s voice ({enrolment.wanted} utterances)")

    @property
    def enrolling(self) -> str:
        with self._lock:
            return self._enrolment.resident if self._enrolment is not None else ""
