"""Whisper on real synthetic speech: WER over the labelled sentences, and no
transcript from silence, noise, music, coughs, clipped or empty audio.

Levels asserted were measured (docs/speech.md) with a small margin.
"""
import numpy as np
import pytest

from carebot.speech import corpus
from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.recognizer import RecognizerConfig
from carebot.speech.transcriber import Transcriber, join_accepted

pytestmark = pytest.mark.slow

# Measured on this machine (docs/speech.md); asserted with a margin.
MAX_WER_ALL = 0.20          # measured 0.15 (espeak voices are the hard ones)
MAX_WER_PIPER = 0.08        # measured 0.03
MAX_CER_MANDARIN = 0.85     # measured 0.67: espeak-ng's Mandarin is barely intelligible to Whisper base


@pytest.fixture(scope="module")
def tiny():
    return Transcriber(RecognizerConfig(model="tiny.en", language="en")).load()


@pytest.fixture(scope="module")
def base():
    return Transcriber(RecognizerConfig(model="base", language="auto", languages=("en", "zh"))).load()


@pytest.fixture(scope="module")
def maker():
    return corpus.SpeechMaker()


def test_english_word_error_rate(tiny, maker):
    samples = [s for s in corpus.samples() if s.language == "en"]
    assert len(samples) >= 30
    assert len({s.voice.label for s in samples}) >= 5       # several voices and speeds
    by_engine = {"espeak": [], "piper": []}
    lines = []
    for s in samples:
        clip = maker.make(s.text, s.voice)
        text, language, confidence = join_accepted(tiny.transcribe_clip(clip.samples))
        errors = corpus.word_errors(s.text, text)
        by_engine[s.voice.engine].append(errors)
        lines.append(f"{s.voice.label:28s} {errors[0]}/{errors[1]} {confidence:.2f} {s.text!r} -> {text!r}")
    wer_all = corpus.error_rate(by_engine["espeak"] + by_engine["piper"])
    wer_piper = corpus.error_rate(by_engine["piper"])
    print("\n".join(lines) + f"\nWER all {wer_all:.3f}, piper {wer_piper:.3f}, "
          f"espeak {corpus.error_rate(by_engine['espeak']):.3f}")
    assert wer_all <= MAX_WER_ALL
    assert wer_piper <= MAX_WER_PIPER


def test_mandarin_with_the_multilingual_model(maker, base):
    pairs = []
    for s in [s for s in corpus.samples() if s.language == "zh"]:
        clip = maker.make(s.text, s.voice)
        text, language, _ = join_accepted(base.transcribe_clip(clip.samples, language="zh"))
        pairs.append(corpus.char_errors(s.text, text))
        print(f"{s.text} -> {text!r} {pairs[-1]}")
        assert language in ("zh", "")
    cer = corpus.error_rate(pairs)
    print(f"CER {cer:.3f}")
    assert cer <= MAX_CER_MANDARIN


def _noise_cases():
    rng = np.random.default_rng(7)
    n = 3 * SAMPLE_RATE
    t = np.arange(n) / SAMPLE_RATE
    white = rng.normal(0, 0.1, n)
    pink = np.cumsum(rng.normal(0, 0.02, n))
    pink = 0.2 * (pink - np.convolve(pink, np.ones(400) / 400, "same"))
    notes = [220, 277, 330, 440, 330, 277]
    music = np.concatenate([0.2 * np.sin(2 * np.pi * f * t[: n // 6]) * np.hanning(n // 6)
                            + 0.1 * np.sin(2 * np.pi * 2 * f * t[: n // 6]) for f in notes])
    cough = np.zeros(n)
    for start in (0.5, 1.2, 2.1):   # bursts of shaped noise with a low voiced onset
        i = int(start * SAMPLE_RATE)
        m = int(0.25 * SAMPLE_RATE)
        env = np.exp(-np.linspace(0, 6, m))
        cough[i:i + m] = env * (0.5 * rng.normal(0, 1, m) + 0.4 * np.sin(2 * np.pi * 140 * t[:m]))
    clipped = np.clip(rng.normal(0, 3.0, n), -1, 1)
    return {"silence": np.zeros(n), "room": rng.normal(0, 0.002, n), "white": white, "pink": pink,
            "music": music, "cough": np.clip(cough, -1, 1), "clipped": clipped,
            "empty": np.zeros(0), "blip": rng.normal(0, 0.3, 800)}


@pytest.mark.parametrize("name", list(_noise_cases()))
def test_no_transcript_from_non_speech(tiny, name):
    audio = _noise_cases()[name].astype(np.float32)
    # Straight into Whisper (the guard alone must hold) and through the VAD as the node does.
    direct = tiny.transcribe_audio(audio)
    assert not direct.accepted, (direct.text, direct.verdict, direct.detail)
    assert not direct.shout, (name, direct.loudness)        # noise is never a shout, even clipped
    assert not any(r.publishable for r in tiny.transcribe_clip(audio))


def test_a_clipped_shout_is_still_recognised_and_marked(tiny, maker):
    # "Help me!" shouted into a microphone set for talk: 8x too hot, hard-clipped.
    clip = maker.make("Help me", corpus.Voice("piper", "joe", 130)).samples
    shouted = np.clip(clip * 8.0, -1.0, 1.0)
    assert np.mean(np.abs(shouted) >= 0.99) > 0.01
    results = tiny.transcribe_clip(shouted)
    assert any(r.shout for r in results)
    text, _, _ = join_accepted(results)
    assert "help" in text.lower(), [(r.text, r.verdict, r.detail) for r in results]
    assert max(r.level_dbfs for r in results) > -10.0


def test_a_wordless_scream_is_a_shout_without_text(tiny):
    from carebot.speech.acoustics import scream

    audio = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), scream(1.5),
                            np.zeros(SAMPLE_RATE, np.float32)])
    results = tiny.transcribe_clip(audio)
    shouts = [r for r in results if r.shout]
    assert shouts and all(r.publishable for r in shouts)
    # Whatever Whisper makes of a scream, it is not a request: at most a sound ("Ah!").
    assert all(len(r.text.split()) <= 2 for r in shouts), [r.text for r in shouts]


def test_base_model_rejects_silence_and_noise_too(base):
    cases = _noise_cases()
    for name in ("silence", "white", "music"):
        result = base.transcribe_audio(cases[name].astype(np.float32))
        assert not result.accepted, (name, result.text, result.detail)


@pytest.fixture(scope="module")
def tiny_prompted():
    from carebot.speech.vocabulary import load_vocabulary

    vocab = load_vocabulary("care_home")
    return Transcriber(RecognizerConfig(model="tiny.en", language="en",
                                        prompts=(("en", vocab.prompt("en")),))).load()


@pytest.mark.parametrize("name", ["silence", "room", "white", "pink", "music", "cough", "clipped"])
def test_the_vocabulary_prompt_invents_nothing_from_noise(tiny_prompted, name):
    # A prompt full of names, places and "Help! Stop!" must not be read back from noise.
    audio = _noise_cases()[name].astype(np.float32)
    direct = tiny_prompted.transcribe_audio(audio)
    assert not direct.accepted, (direct.text, direct.verdict, direct.detail)
    assert not any(r.publishable for r in tiny_prompted.transcribe_clip(audio))


def test_site_names_are_recognised_with_the_vocabulary(tiny, tiny_prompted, maker):
    # Measured in docs/speech.md over the corpus; here one name Whisper cannot know.
    clip = maker.make("Please tell Nurse Li that Mrs Chen is waiting", corpus.Voice("piper", "joe", 130)).samples
    prompted = join_accepted(tiny_prompted.transcribe_clip(clip))[0]
    assert "li" in corpus.normalise_words(prompted) and "chen" in corpus.normalise_words(prompted), prompted


def test_a_half_written_character_is_not_part_of_the_transcript():
    """Whisper sometimes stops a multi-byte character after its first bytes (U+FFFD in its text)."""
    from carebot.speech.recognizer import clean_text

    assert clean_text(" 护士站\ufffd在哪里\ufffd") == "护士站在哪里"
    assert clean_text("Where is the garden?") == "Where is the garden?"
