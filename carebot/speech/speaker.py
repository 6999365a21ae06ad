"""The robot's voice as a queue of requests, played sentence by sentence (no ROS).

A request's text is cut into pieces (``speech_text.split_for_speech``). One thread
synthesises pieces in order, request after request, as far ahead as there is text;
another plays them as soon as they exist. So the first sound waits only for the first
piece, later pieces are synthesised while earlier ones play, and a request queued
behind another follows it without a gap beyond the sentence pause.

How requests queue:
- ``queue=False`` (a new reply, or anything urgent): everything said or waiting ends
  (PREEMPTED) and this request speaks at once.
- ``queue=True`` (the next sentence of a reply sent sentence by sentence): after the
  requests already accepted, in the order they were submitted.
- ``interrupt()`` (the listener said stop): everything ends (INTERRUPTED), and queued
  requests that still arrive for the interrupted reply are DROPPED until a new reply
  (``queue=False``) or HOLD_AFTER_INTERRUPT_S.
- ``cancel(job)``: that request only; the next one plays.
- ``repeat()``: the last reply again (the requests since the last ``queue=False``),
  slower, as a new reply; a repeat is not itself remembered as the last reply.

Progress of a request is the share of its characters spoken (monotonic, 0..1), so it
can be reported before the later pieces exist.
"""
from __future__ import annotations

import enum
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from carebot.speech.audio import Clip
from carebot.speech.speech_text import Piece, has_cjk, split_for_speech
from carebot.speech.tts import Voiced

HOLD_AFTER_INTERRUPT_S = 30.0     # queued sentences of a reply the listener stopped are dropped this long
REPEAT_RATE_FACTOR = 0.8          # "pardon?": the last reply at this share of its rate


class Outcome(enum.Enum):
    DONE = "done"
    CANCELED = "canceled"
    PREEMPTED = "preempted by a newer Speak goal"
    INTERRUPTED = "interrupted: the listener said stop"
    DROPPED = "dropped: the listener said stop during this reply"
    FAILED = "failed"
    CLOSED = "the speech node is shutting down"


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    language: str = ""
    rate_wpm: float = 0.0        # 0 = the site's default
    volume: float = 0.0          # 0 = the site's default
    queue: bool = False
    repeat: bool = False


class SpeechJob:
    """One request in the queue; its fields are read by the node (feedback, result)."""

    def __init__(self, request: SpeechRequest, pieces: list[Piece], job_id: int,
                 on_start: Callable[["SpeechJob"], None] | None = None,
                 on_end: Callable[["SpeechJob"], None] | None = None):
        self.id = job_id
        self.request = request
        self.pieces = pieces
        self.voiced: list[Voiced | None] = [None] * len(pieces)
        self.errors: list[str] = [""] * len(pieces)
        self._weights = np.array([max(1, len(p.text)) for p in pieces], np.float64)
        self._done_weight = 0.0
        self.progress = 0.0
        self.outcome: Outcome | None = None
        self.message = ""
        self.submitted_at = time.monotonic()
        self.first_audio_at: float | None = None     # the first sample handed to the player
        self.synthesis_s = 0.0                        # all pieces synthesised so far
        self.audio_s = 0.0                            # audio played
        self.engines: list[str] = []
        self.started = threading.Event()
        self.done = threading.Event()
        self.stop_reason: Outcome | None = None      # why a playing job is being stopped
        self._on_start, self._on_end = on_start, on_end

    @property
    def ended(self) -> bool:
        return self.outcome is not None

    @property
    def cancel_requested(self) -> bool:
        return self.stop_reason is not None

    def _advance(self, index: int, fraction: float) -> None:
        total = float(self._weights.sum()) or 1.0
        value = (float(self._weights[:index].sum()) + fraction * float(self._weights[index])) / total
        self.progress = max(self.progress, min(1.0, value))     # never goes back


class Speaker:
    """Synthesis and playback threads around a queue of SpeechJobs."""

    def __init__(self, synthesize: Callable[[str, str, float, float], Voiced], player,
                 on_speaking: Callable[[bool, str], None] | None = None,
                 on_block: Callable[[np.ndarray, int], None] | None = None,
                 default_language: str = "en", default_rate_wpm: float = 130.0,
                 repeat_rate_factor: float = REPEAT_RATE_FACTOR, clock=time.monotonic, short_first: bool = False):
        self._synthesize = synthesize
        self._player = player
        self._on_speaking = on_speaking
        self._on_block = on_block
        self.default_language = default_language
        self.default_rate_wpm = default_rate_wpm
        self.repeat_rate_factor = repeat_rate_factor
        self.short_first = short_first          # a new reply's first piece cut short (split_for_speech)
        self._clock = clock
        self._jobs: deque[SpeechJob] = deque()
        self._cond = threading.Condition()
        self._next_id = 1
        self._held_since: float | None = None         # set by interrupt(): queued goals dropped
        self._last_reply: list[SpeechRequest] = []
        self._playing: SpeechJob | None = None
        self._speaking = False
        self._running = True
        self.counts = {"requests": 0, "done": 0, "canceled": 0, "preempted": 0, "interrupted": 0, "dropped": 0,
                       "failed": 0, "pieces": 0}
        self.last_first_audio_s = 0.0                   # submit -> first sample, the last request
        self._threads = [threading.Thread(target=self._synthesis_loop, name="speech-synthesis", daemon=True),
                         threading.Thread(target=self._playback_loop, name="speech-playback", daemon=True)]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------------ requests
    def submit(self, request: SpeechRequest, on_start=None, on_end=None) -> SpeechJob:
        """Queue a request (see the module docstring); returns its job at once."""
        language = request.language or ("zh" if has_cjk(request.text) else self.default_language)
        pieces = split_for_speech(request.text, language, short_first=self.short_first and not request.queue)
        with self._cond:
            job = SpeechJob(request, pieces, self._next_id, on_start, on_end)
            self._next_id += 1
            self.counts["requests"] += 1
            ended: list[SpeechJob] = []
            if not pieces:
                self._end(job, Outcome.FAILED, "nothing to say: empty text", ended)
            elif request.queue and self._held_since is not None \
                    and self._clock() - self._held_since < HOLD_AFTER_INTERRUPT_S:
                self._end(job, Outcome.DROPPED, Outcome.DROPPED.value, ended)
            else:
                if not request.queue:
                    self._held_since = None
                    for other in list(self._jobs):
                        self._end(other, Outcome.PREEMPTED, Outcome.PREEMPTED.value, ended)
                if not request.repeat:
                    self._last_reply = ([] if not request.queue else self._last_reply) + [request]
                self._jobs.append(job)
            self._cond.notify_all()
        self._finish(ended)
        return job

    def cancel(self, job: SpeechJob) -> None:
        """End one request (a goal's cancel); playing, it stops within one block."""
        ended: list[SpeechJob] = []
        with self._cond:
            job.stop_reason = job.stop_reason or Outcome.CANCELED
            if job is not self._playing and not job.ended:
                self._end(job, Outcome.CANCELED, "canceled", ended)
            self._cond.notify_all()
        self._finish(ended)

    def interrupt(self) -> None:
        """The listener said stop: the reply ends now, its queued sentences with it."""
        ended: list[SpeechJob] = []
        with self._cond:
            if self._jobs:
                self._held_since = self._clock()
            for job in list(self._jobs):
                if job is not self._playing:
                    self._end(job, Outcome.INTERRUPTED, Outcome.INTERRUPTED.value, ended)
                else:
                    job.stop_reason = Outcome.INTERRUPTED
            self._cond.notify_all()
        self._finish(ended)

    def repeat(self, rate_factor: float = 0.0, on_start=None, on_end=None) -> SpeechJob | None:
        """The last reply again, slower; None when nothing has been said yet."""
        with self._cond:
            reply = list(self._last_reply)
        if not reply:
            return None
        first = reply[0]
        joiner = "" if has_cjk(first.text) else " "
        rate = (first.rate_wpm or self.default_rate_wpm) * (rate_factor or self.repeat_rate_factor)
        request = SpeechRequest(joiner.join(r.text.strip() for r in reply), first.language, rate, first.volume,
                                queue=False, repeat=True)
        return self.submit(request, on_start, on_end)

    @property
    def last_reply_text(self) -> str:
        with self._cond:
            reply = list(self._last_reply)
        joiner = "" if reply and has_cjk(reply[0].text) else " "
        return joiner.join(r.text.strip() for r in reply)

    @property
    def speaking(self) -> bool:
        return self._speaking

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def close(self) -> None:
        ended: list[SpeechJob] = []
        with self._cond:
            self._running = False
            for job in list(self._jobs):
                if job is not self._playing:
                    self._end(job, Outcome.CLOSED, Outcome.CLOSED.value, ended)
                else:
                    job.stop_reason = Outcome.CLOSED
            self._cond.notify_all()
        self._finish(ended)
        for thread in self._threads:
            thread.join(timeout=3.0)

    # ------------------------------------------------------------------ internals
    def _end(self, job: SpeechJob, outcome: Outcome, message: str, ended: list) -> None:
        """Under the lock: mark the job ended and take it off the queue; hooks run after."""
        if job.ended:
            return
        job.outcome, job.message = outcome, message
        key = {Outcome.CLOSED: "canceled"}.get(outcome, outcome.name.lower())
        self.counts[key] = self.counts.get(key, 0) + 1
        try:
            self._jobs.remove(job)
        except ValueError:
            pass
        ended.append(job)

    @staticmethod
    def _finish(ended: list[SpeechJob]) -> None:
        for job in ended:
            job.done.set()
            if job._on_end is not None:
                job._on_end(job)

    def _synthesis_loop(self) -> None:
        while True:
            with self._cond:
                task = None
                while self._running and task is None:
                    for job in self._jobs:
                        missing = [i for i, v in enumerate(job.voiced) if v is None and not job.errors[i]]
                        if missing and not job.cancel_requested:
                            task = (job, missing[0])
                            break
                    if task is None:
                        self._cond.wait()
                if not self._running:
                    return
            job, index = task
            request = job.request
            started = time.monotonic()
            try:
                voiced = self._synthesize(job.pieces[index].text, request.language, request.rate_wpm, request.volume)
                voiced.synthesis_s = time.monotonic() - started
            except Exception as exc:  # a TtsError, or anything else a synthesiser raises: that piece fails
                voiced, error = None, f"{type(exc).__name__}: {exc}"
            with self._cond:
                if voiced is None:
                    job.errors[index] = error or "no audio"
                else:
                    job.voiced[index] = voiced
                    job.synthesis_s += voiced.synthesis_s
                    job.engines.append(voiced.engine)
                self._cond.notify_all()

    def _head(self) -> SpeechJob | None:
        """Under the lock: the request to play next."""
        return self._jobs[0] if self._jobs else None

    def _set_speaking(self, value: bool, text: str = "") -> None:
        if value != self._speaking or value:
            self._speaking = value
            if self._on_speaking is not None:
                self._on_speaking(value, text)

    def _playback_loop(self) -> None:
        pause_before = 0.0
        while True:
            with self._cond:
                while self._running and self._head() is None:
                    if self._speaking:
                        break
                    self._cond.wait()
                if not self._running:
                    break
                job = self._head()
            if job is None:          # the queue ran empty: speaking ends, the device is let go
                self._set_speaking(False)
                self._release()
                pause_before = 0.0
                continue
            pause_before = self._play_job(job, pause_before)
        self._set_speaking(False)
        self._release()

    def _release(self) -> None:
        release = getattr(self._player, "release", None)
        if release is not None:
            try:
                release()
            except OSError:
                pass

    def _wait_piece(self, job: SpeechJob, index: int) -> Voiced | None:
        with self._cond:
            while job.voiced[index] is None and not job.errors[index] and not job.cancel_requested \
                    and not job.ended and self._running:
                self._cond.wait(0.05)
            return job.voiced[index]

    def _play_job(self, job: SpeechJob, pause_before: float) -> float:
        """Play one request's pieces; returns the pause owed before whatever comes next."""
        ended: list[SpeechJob] = []
        outcome, message = Outcome.DONE, ""
        with self._cond:
            self._playing = job

        def should_stop() -> bool:
            return job.cancel_requested or job.ended or not self._running

        try:
            for index, piece in enumerate(job.pieces):
                voiced = self._wait_piece(job, index)
                if should_stop():
                    break
                if voiced is None:
                    outcome, message = Outcome.FAILED, job.errors[index]
                    break
                clip = voiced.clip
                if pause_before > 0 and self._speaking:
                    gap = Clip(np.zeros(int(pause_before * clip.sample_rate), np.float32), clip.sample_rate)
                    if not self._player.play(gap, should_stop, None, self._on_block):
                        break
                if not job.started.is_set():
                    job.first_audio_at = time.monotonic()
                    self.last_first_audio_s = job.first_audio_at - job.submitted_at
                    job.started.set()
                    self._set_speaking(True, job.request.text)
                    if job._on_start is not None:
                        job._on_start(job)

                def progress(fraction: float, i=index) -> None:
                    job._advance(i, fraction)

                finished = self._player.play(clip, should_stop, progress, self._on_block)
                if finished:
                    job._advance(index, 1.0)
                    job.audio_s += clip.duration_s
                    self.counts["pieces"] += 1
                pause_before = piece.pause_after_s
                if not finished:
                    break
        except OSError as exc:
            outcome, message = Outcome.FAILED, f"loudspeaker failed: {exc}"
        with self._cond:
            self._playing = None
            if not job.ended:
                if outcome == Outcome.DONE and job.stop_reason is not None:
                    outcome = job.stop_reason
                    message = "canceled" if outcome == Outcome.CANCELED else outcome.value
                elif outcome == Outcome.DONE:
                    message = f"spoke {job.audio_s:.1f} s in {len(job.pieces)} pieces"
                self._end(job, outcome, message, ended)
            self._cond.notify_all()
        self._finish(ended)
        return pause_before
