"""The recogniser encodes an utterance once: language detection and decoding share the
encoder's output. What it hears must be what faster-whisper's own detect_language and
transcribe (two encoder passes) hear, word for word and language for language."""
import pytest

from carebot.speech import corpus
from carebot.speech.recognizer import Recognizer, RecognizerConfig
from conftest import speak

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recognizer():
    # Whisper's own 30 s window: then one pass must be exactly what faster-whisper does with two.
    return Recognizer(RecognizerConfig(model="base", language="auto", languages=("en", "zh"),
                                       encoder_window_s=30.0)).load()


@pytest.mark.parametrize("text,voice", [("My chest hurts, please call the nurse.", "en-us"),
                                        ("请帮我叫护士，我胸口疼。", "cmn")])
def test_one_encoder_pass_hears_what_two_passes_hear(recognizer, text, voice):
    audio = speak(text, voice=voice, rate=130)
    mine = recognizer.transcribe(audio)
    assert mine.encodings == 1                 # one pass, shared by detection and decoding

    model = recognizer._model                  # faster-whisper's own path, two encoder passes
    _, _, probs = model.detect_language(audio=audio)
    language = max(((lang, p) for lang, p in probs if lang in ("en", "zh")), key=lambda lp: lp[1])[0]
    segments, _ = model.transcribe(audio, language=language, beam_size=recognizer.config.beam_size,
                                   temperature=list(recognizer.config.temperatures),
                                   condition_on_previous_text=False, without_timestamps=True,
                                   vad_filter=False, no_speech_threshold=None, log_prob_threshold=-1.0,
                                   initial_prompt=recognizer.config.prompt_for(language))
    theirs = "".join(s.text for s in segments).strip()
    assert mine.language == language
    assert mine.text.replace(" ", "") == theirs.replace(" ", ""), (mine.text, theirs)


def test_the_window_covers_the_utterance_and_stays_in_whisper_range():
    with pytest.raises(ValueError):
        RecognizerConfig(encoder_window_s=0.5).validate()
    with pytest.raises(ValueError):
        RecognizerConfig(encoder_window_s=31).validate()
    assert RecognizerConfig(encoder_window_s=30).window_frames(4.0) == 3000
    assert RecognizerConfig().window_frames(4.0) == 3000                      # the default: Whisper's own
    assert RecognizerConfig(encoder_window_s=15).window_frames(4.0) == 1500   # the care home's base
    assert RecognizerConfig(encoder_window_s=10).window_frames(12.3) == 1330  # utterance + 1 s
    assert RecognizerConfig(encoder_window_s=10).window_frames(29.5) == 3000  # never past Whisper's 30 s


def test_the_default_window_hears_a_short_request(recognizer):
    short = Recognizer(RecognizerConfig(model="base", language="auto", languages=("en", "zh"), encoder_window_s=15))
    short._model = recognizer._model           # the same loaded model, the care home's 15 s window
    heard = short.transcribe(speak("Please call the nurse, my chest hurts.", rate=130))
    assert heard.language == "en" and heard.encodings == 1
    assert corpus.word_errors("Please call the nurse, my chest hurts.", heard.text)[0] <= 1, heard.text
