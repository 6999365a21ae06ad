"""Whether the speech node is busy with a person's words (no ROS).

True from the moment the voice detector hears speech until the last utterance waiting for
Whisper has been recognised; published on ``speech/hearing`` so that other work on the same
two cores (vision) can step back while a resident waits for an answer (issue 18). Only the
edges are reported, from whichever thread made them.
"""
from __future__ import annotations

import threading
from typing import Callable


class HearingSignal:
    """Listening (the detector is inside an utterance) or recognising (Whisper is at work)."""

    def __init__(self, on_change: Callable[[bool], None]):
        self._on_change = on_change
        self._lock = threading.Lock()
        self._listening = False
        self._recognising = False
        self.hearing = False

    def listening(self, in_speech: bool) -> None:
        self._update(listening=in_speech)

    def recognising(self, busy: bool) -> None:
        self._update(recognising=busy)

    def _update(self, listening: bool | None = None, recognising: bool | None = None) -> None:
        with self._lock:
            if listening is not None:
                self._listening = listening
            if recognising is not None:
                self._recognising = recognising
            hearing = self._listening or self._recognising
            if hearing == self.hearing:
                return
            self.hearing = hearing
            # Called under the lock: two threads' edges reach the listener in the order they happened.
            self._on_change(hearing)
