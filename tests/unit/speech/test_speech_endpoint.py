"""Adaptive end of speech: the VAD's tentative/final utterances and the decision
whether a pause ends the sentence (no model: recognition is faked from timing)."""
from dataclasses import dataclass

import numpy as np
import pytest

from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.endpoint import EndOfSpeech, looks_complete
from carebot.speech.vad import UtteranceDetector, VadConfig
from carebot.speech.vocabulary import DISTRESS_WORDS, load_vocabulary

from conftest import room_noise, silence

ADAPTIVE = VadConfig(end_silence_ms=500, max_pause_ms=1300)


@pytest.mark.parametrize("text,complete", [
    ("Please call the nurse for me.", True),
    ("Stop!", True), ("help", True), ("Wait.", True), ("yes", True),
    ("Where are my glasses?", True), ("I need help.", True), ("Thank you.", True),
    ("What time?", False), ("Could you please.", False), ("Where are my", False),
    ("I would like to...", False), ("Could you bring me the", False), ("I want to go to", False),
    ("Can you help me find my", False), ("Please take me to the dining room and", False),
    ("I need help getting,", False), ("Could", False), ("", False),
    ("请帮我叫护士。", True), ("我想去", False), ("请帮我", False), ("停！", True),
    # Short distress is complete: it must not wait max_pause_ms (the brain's distress rules decide).
    ("My chest hurts.", True), ("I can't breathe", True), ("Fire!", True), ("胸口疼", True),
    ("My chest", False), ("The fire drill", False),
    # Set phrases are whole, however short (they used to wait the longest pause).
    ("Good morning.", True), ("Thank you very much.", True), ("I'm fine, thank you.", True), ("Goodbye!", True),
    ("See you later.", True), ("That's very kind.", True), ("早上好", True), ("谢谢你", True),
    ("Thank you for the", False), ("Thank you very", False), ("Good", False), ("Good morning to the", False),
])
def test_looks_complete(text, complete):
    assert looks_complete(text) == complete


def _run(detector, audio):
    tail = np.zeros(int(SAMPLE_RATE * (detector.end_wait_s + 0.2)), np.float32)
    return detector.process(np.concatenate([audio, tail])) + detector.flush()


def test_a_paused_sentence_gives_tentative_parts_then_one_final(speech_words):
    first, second = speech_words[0], np.concatenate([speech_words[1], silence(0.15), speech_words[2]])
    audio = np.concatenate([silence(0.5), first, silence(0.9), second])
    audio = audio + room_noise(len(audio) / SAMPLE_RATE, 0.001)[:len(audio)]
    utts = _run(UtteranceDetector(ADAPTIVE), audio)
    tentative = [u for u in utts if u.tentative]
    finals = [u for u in utts if not u.tentative]
    assert len(finals) == 1 and len(tentative) == 2, [(u.tentative, u.duration_s) for u in utts]
    assert len({u.segment for u in utts}) == 1
    assert tentative[0].duration_s < tentative[1].duration_s       # the second holds the whole sentence
    assert not finals[0].new_speech                                 # nothing after the last pause
    # Without the adaptive end, the same pause splits the sentence.
    plain = _run(UtteranceDetector(VadConfig(end_silence_ms=500)), audio)
    assert len(plain) == 2 and not any(u.tentative for u in plain)


def test_a_long_pause_ends_the_segment(speech_words):
    audio = np.concatenate([silence(0.5), speech_words[0], silence(2.0), speech_words[1]])
    utts = _run(UtteranceDetector(ADAPTIVE), audio)
    assert len({u.segment for u in utts}) == 2
    assert sum(1 for u in utts if not u.tentative) == 2


def test_tentative_utterance_comes_at_end_silence_and_final_at_max_pause(speech_words):
    audio = np.concatenate([silence(0.5), speech_words[2]])
    utts = _run(UtteranceDetector(ADAPTIVE), audio)
    tentative, final = utts
    assert tentative.tentative and not final.tentative
    wait = (tentative.detected_sample - tentative.end_sample) / SAMPLE_RATE
    assert 0.45 <= wait <= 0.6
    assert 1.25 <= (final.detected_sample - final.end_sample) / SAMPLE_RATE <= 1.4


@dataclass
class FakeResult:
    text: str
    language: str = "en"
    shout: bool = False
    accepted: bool = True

    @property
    def publishable(self):
        return self.accepted or self.shout


def _fake_recogniser(words_by_end_s):
    """Pretends to recognise: the text depends on how far into the stream the audio reaches."""
    def transcribe(utt):
        end = (utt.audio_start_sample + len(utt.audio)) / SAMPLE_RATE
        start = utt.audio_start_sample / SAMPLE_RATE
        text = " ".join(w for t0, t1, w in words_by_end_s if t0 >= start - 0.3 and t1 <= end + 0.3)
        return FakeResult(text, accepted=bool(text))
    return transcribe


def test_unfinished_sentence_waits_for_the_rest_and_is_published_once(speech_words):
    first, second, third = speech_words
    audio = np.concatenate([silence(0.5), first, silence(0.9), second, silence(0.1), third])
    t1 = 0.5 + len(first) / SAMPLE_RATE
    t2 = t1 + 0.9 + len(second) / SAMPLE_RATE + 0.1 + len(third) / SAMPLE_RATE
    ends = EndOfSpeech(_fake_recogniser([(0.5, t1, "I would like"), (t1 + 0.9, t2, "a cup of tea with some milk please")]))
    published = [r.text for u in _run(UtteranceDetector(ADAPTIVE), audio) for _, r in ends.feed(u)]
    assert published == ["I would like a cup of tea with some milk please"]
    assert ends.stats.held == 1 and ends.stats.early == 1 and ends.stats.released == 0


def test_complete_command_is_published_at_the_first_pause(speech_words):
    audio = np.concatenate([silence(0.5), speech_words[2]])
    ends = EndOfSpeech(_fake_recogniser([(0.5, len(audio) / SAMPLE_RATE, "with some milk please")]))
    out = []
    for u in _run(UtteranceDetector(ADAPTIVE), audio):
        for _, r in ends.feed(u):
            out.append((u.tentative, r.text))
    assert out == [(True, "with some milk please")]      # at end_silence, not after max_pause


def test_held_text_is_released_when_nobody_goes_on(speech_words):
    audio = np.concatenate([silence(0.5), speech_words[0]])
    ends = EndOfSpeech(_fake_recogniser([(0.5, len(audio) / SAMPLE_RATE, "I would like")]))
    out = [(u.tentative, r.text) for u in _run(UtteranceDetector(ADAPTIVE), audio) for _, r in ends.feed(u)]
    assert out == [(False, "I would like")]               # released by the final, not re-recognised
    assert ends.stats.decodes == 1 and ends.stats.released == 1


def test_speech_after_a_published_command_is_a_new_transcript(speech_words):
    first, second = speech_words[2], speech_words[1]
    audio = np.concatenate([silence(0.5), first, silence(0.8), second])
    t1 = 0.5 + len(first) / SAMPLE_RATE
    ends = EndOfSpeech(_fake_recogniser([(0.5, t1, "with some milk please"),
                                         (t1 + 0.8, len(audio) / SAMPLE_RATE, "a cup of tea")]))
    out = [r.text for u in _run(UtteranceDetector(ADAPTIVE), audio) for _, r in ends.feed(u)]
    assert out == ["with some milk please", "a cup of tea"]


def test_part_of_is_what_feed_would_recognise_and_changes_nothing(speech_words):
    # The speech node recognises an early utterance ahead with part_of; the tentative that
    # follows must ask for exactly the same part, also after a command was published.
    first, second = speech_words[2], speech_words[1]
    audio = np.concatenate([silence(0.5), first, silence(0.8), second])
    t1 = 0.5 + len(first) / SAMPLE_RATE
    asked = []
    recognise = _fake_recogniser([(0.5, t1, "with some milk please"), (t1 + 0.8, len(audio) / SAMPLE_RATE, "a cup of tea")])
    ends = EndOfSpeech(lambda u: asked.append(u) or recognise(u))
    ahead = []
    for u in _run(UtteranceDetector(VadConfig(end_silence_ms=500, max_pause_ms=1300, early_ms=250)), audio):
        if u.early:
            decodes = ends.stats.decodes
            ahead.append(ends.part_of(u))
            assert ends.stats.decodes == decodes
        else:
            ends.feed(u)
    tentative = [u for u in asked if u.tentative]
    assert len(ahead) == len(tentative) == 2
    for early, later in zip(ahead, tentative):
        assert (early.audio_start_sample, early.end_sample) == (later.audio_start_sample, later.end_sample)
        np.testing.assert_array_equal(early.audio, later.audio)


def test_site_vocabulary_names_places_people_and_always_the_distress_words():
    care = load_vocabulary("care_home")
    prompt = care.prompt("en")
    for word in ("Nurse Li", "Dr Wang", "Mrs Chen", "Lounge", "Dining Room", "Nurse Station"):
        assert word in prompt
    assert prompt.endswith(DISTRESS_WORDS["en"][-1])          # distress words last, always
    assert "Help!" in prompt and "Stop!" in prompt
    hall = load_vocabulary("public_hall").prompt("en")
    assert "Counter 3" in hall and "Help!" in hall and "Nurse Li" not in hall
    assert "护士站" in care.prompt("zh") and "救命" in care.prompt("zh")
    assert "Help!" in load_vocabulary("no_such_site").prompt("en")    # no files: distress words only
    assert len(prompt.split()) <= 70


def test_speech_right_after_a_closed_segment_keeps_its_onset(speech_words):
    # The second phrase starts 0.1 s after the longest pause closed the first segment:
    # its pre-roll must still be there (a lost onset turned "Stop!" into "Duh.").
    audio = np.concatenate([silence(0.5), speech_words[0], silence(1.45), speech_words[1]])
    utts = [u for u in _run(UtteranceDetector(ADAPTIVE), audio) if not u.tentative]
    assert len(utts) == 2
    second = utts[1]
    assert (second.start_sample - second.audio_start_sample) / SAMPLE_RATE >= 0.15
