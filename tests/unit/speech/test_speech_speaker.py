"""The voice as a queue played sentence by sentence (carebot.speech.speaker), with a
synthesiser that takes a known time per piece and the paced player (real time, no sound):
playback starts after the first piece, queued requests follow in order, a cancel or a
stop ends at once, progress only grows, "pardon?" repeats the last reply slower."""
import threading
import time

import numpy as np
import pytest

from carebot.speech.audio import Clip
from carebot.speech.playback import PacedPlayer
from carebot.speech.speaker import Outcome, Speaker, SpeechRequest
from carebot.speech.tts import Voiced

RATE = 8000
WPM = 130.0


class SlowSynth:
    """0.2 s of audio per word at 130 wpm, ``delay_s`` of synthesis per piece; records calls."""

    def __init__(self, delay_s: float = 0.15):
        self.delay_s = delay_s
        self.calls: list[tuple[str, float, float]] = []     # (text, rate, time)
        self.lock = threading.Lock()

    def __call__(self, text, language, rate, volume) -> Voiced:
        time.sleep(self.delay_s)
        with self.lock:
            self.calls.append((text, rate or WPM, time.monotonic()))
        seconds = 0.2 * len(text.split()) * WPM / (rate or WPM)
        return Voiced(Clip(np.full(int(seconds * RATE), 0.1, np.float32), RATE), "fake")


class Recorder(PacedPlayer):
    """The paced player, remembering when each non-silent clip started."""

    def __init__(self):
        self.starts: list[tuple[float, float]] = []          # (time, duration)

    def play(self, clip, should_stop, on_progress=None, on_block=None):
        if np.any(clip.samples):
            self.starts.append((time.monotonic(), clip.duration_s))
        return super().play(clip, should_stop, on_progress, on_block)


@pytest.fixture
def rig():
    synth, player, speaking = SlowSynth(), Recorder(), []
    speaker = Speaker(synth, player, on_speaking=lambda on, text: speaking.append(on), default_rate_wpm=WPM)
    yield speaker, synth, player, speaking
    speaker.close()


LONG = ("Good morning. The weather is fine today. Lunch is at noon in the dining room. "
        "After lunch there is music in the lounge. Your daughter visits at four.")


def test_playback_starts_after_the_first_sentence_not_the_whole_text(rig):
    speaker, synth, player, speaking = rig
    job = speaker.submit(SpeechRequest(LONG))
    assert job.done.wait(15)
    assert job.outcome == Outcome.DONE and len(job.pieces) == 5
    first_audio = job.first_audio_at - job.submitted_at
    all_synthesised = synth.calls[-1][2] - job.submitted_at
    assert first_audio < 0.5 * all_synthesised, (first_audio, all_synthesised)
    assert first_audio < synth.delay_s + 0.2
    # The pieces play back to back, one sentence pause apart, no longer.
    for (t0, d0), (t1, _) in zip(player.starts, player.starts[1:]):
        assert t1 - (t0 + d0) < 0.35 + 0.15
    assert speaking == [True, False]


def test_progress_only_grows_over_the_whole_text_and_ends_at_one(rig):
    speaker, *_ = rig
    job = speaker.submit(SpeechRequest(LONG))
    seen = []
    while not job.done.is_set():
        seen.append(job.progress)
        time.sleep(0.02)
    seen.append(job.progress)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert any(0.2 < p < 0.8 for p in seen)          # reported along the way, not only at the end


def test_cancel_stops_within_a_block_and_the_next_request_plays(rig):
    speaker, _, player, speaking = rig
    first = speaker.submit(SpeechRequest(LONG))
    second = speaker.submit(SpeechRequest("Then we can play a game.", queue=True))
    assert first.started.wait(5)
    time.sleep(0.3)
    asked = time.monotonic()
    speaker.cancel(first)
    assert first.done.wait(1)
    assert time.monotonic() - asked < 0.15
    assert first.outcome == Outcome.CANCELED and first.progress < 0.5
    assert second.done.wait(10) and second.outcome == Outcome.DONE


def test_queued_requests_play_in_order_without_a_gap(rig):
    speaker, synth, player, _ = rig
    texts = ["Good morning Mrs Chen.", "It is time for your tablets.", "I will bring some water."]
    jobs = [speaker.submit(SpeechRequest(t, queue=i > 0)) for i, t in enumerate(texts)]
    assert jobs[-1].done.wait(15)
    assert [j.outcome for j in jobs] == [Outcome.DONE] * 3
    assert [c[0] for c in synth.calls] == texts
    starts = [j.first_audio_at for j in jobs]
    assert starts == sorted(starts)
    for (t0, d0), (t1, _) in zip(player.starts, player.starts[1:]):
        assert t1 - (t0 + d0) < 0.35 + 0.15          # the next sentence was synthesised during this one


def test_a_new_reply_preempts_everything_said_or_waiting(rig):
    speaker, *_ = rig
    old = speaker.submit(SpeechRequest(LONG))
    waiting = speaker.submit(SpeechRequest("And one more thing.", queue=True))
    assert old.started.wait(5)
    new = speaker.submit(SpeechRequest("Please sit down, I am calling the nurse."))
    assert old.done.wait(1) and waiting.done.wait(1)
    assert old.outcome == waiting.outcome == Outcome.PREEMPTED
    assert new.done.wait(10) and new.outcome == Outcome.DONE


def test_stop_ends_the_reply_and_its_late_sentences_are_dropped(rig):
    speaker, *_ = rig
    playing = speaker.submit(SpeechRequest(LONG))
    queued = speaker.submit(SpeechRequest("Shall we go?", queue=True))
    assert playing.started.wait(5)
    speaker.interrupt()
    assert playing.done.wait(1) and queued.done.wait(1)
    assert playing.outcome == queued.outcome == Outcome.INTERRUPTED
    late = speaker.submit(SpeechRequest("The rest of that reply.", queue=True))
    assert late.done.wait(1) and late.outcome == Outcome.DROPPED
    fresh = speaker.submit(SpeechRequest("All right, I have stopped."))
    assert fresh.done.wait(10) and fresh.outcome == Outcome.DONE


def test_repeat_says_the_last_reply_again_more_slowly(rig):
    speaker, synth, *_ = rig
    assert speaker.repeat() is None                    # nothing said yet
    parts = ["Lunch is at noon.", "It is fish today."]
    jobs = [speaker.submit(SpeechRequest(t, queue=i > 0)) for i, t in enumerate(parts)]
    assert jobs[-1].done.wait(10)
    assert speaker.last_reply_text == "Lunch is at noon. It is fish today."
    again = speaker.repeat()
    assert again.done.wait(10) and again.outcome == Outcome.DONE
    repeated = synth.calls[len(parts):]
    assert [c[0] for c in repeated] == parts
    assert all(c[1] == pytest.approx(0.8 * WPM) for c in repeated)
    assert again.audio_s > 1.2 * sum(j.audio_s for j in jobs)
    assert speaker.repeat().done.wait(10)              # a repeat is not the new "last reply"
    assert speaker.last_reply_text == "Lunch is at noon. It is fish today."


def test_a_piece_that_cannot_be_synthesised_fails_the_request_not_the_voice(rig):
    speaker, synth, *_ = rig

    def broken(text, language, rate, volume):
        if "broken" in text:
            raise RuntimeError("synthesiser failed")
        return SlowSynth(0.0)(text, language, rate, volume)

    speaker._synthesize = broken
    bad = speaker.submit(SpeechRequest("This is broken."))
    assert bad.done.wait(5) and bad.outcome == Outcome.FAILED and "synthesiser failed" in bad.message
    good = speaker.submit(SpeechRequest("This works."))
    assert good.done.wait(5) and good.outcome == Outcome.DONE


def test_a_new_replys_first_piece_is_cut_short_a_queued_one_is_not():
    """Synthesis takes time with the text's length: a new reply's long first sentence is said
    in two pieces (before a phrase, a short pause), so its first sound comes sooner; the
    whole text is still said, and a queued sentence keeps its piece whole."""
    class TimedSynth(SlowSynth):          # synthesis time grows with the text, as Piper's does
        def __call__(self, text, language, rate, volume):
            time.sleep(0.01 * len(text))
            return super().__call__(text, language, rate, volume)

    answer = "Visitors are welcome every day from 9:30 to 11:30 and from 14:30 to 19:30."
    firsts = {}
    for short in (False, True):
        synth = TimedSynth(delay_s=0.0)
        speaker = Speaker(synth, PacedPlayer(), default_rate_wpm=WPM, short_first=short)
        try:
            job = speaker.submit(SpeechRequest(answer))
            queued = speaker.submit(SpeechRequest(answer, queue=True))
            assert job.done.wait(20) and queued.done.wait(20)
        finally:
            speaker.close()
        assert job.outcome == Outcome.DONE and queued.outcome == Outcome.DONE
        assert " ".join(p.text for p in job.pieces) == answer
        assert [p.text for p in queued.pieces] == [answer]
        firsts[short] = (job.first_audio_at - job.submitted_at, [p.text for p in job.pieces])
    assert firsts[False][1] == [answer]
    assert firsts[True][1] == ["Visitors are welcome every day", "from 9:30 to 11:30 and from 14:30 to 19:30."]
    assert firsts[True][0] < 0.6 * firsts[False][0], firsts
