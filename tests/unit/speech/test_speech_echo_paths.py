"""The two echo paths while the robot talks: AEC3 with the microphone held back so the echo
never comes before its reference (the echo guard), and the linear canceller whose output is
listened to for a stop said over the robot's voice. Real AEC3, real Speex MDF, real Whisper."""
import numpy as np
import pytest

from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.barge_in import not_own_words, over_own_voice
from carebot.speech.echo_delay import EchoDelay, gcc_phat_lag
from carebot.speech.frontend import FrontEnd, FrontEndConfig, NoiseSuppression
from carebot.speech.linear_echo import LinearEchoCanceller

from conftest import speak

ROBOT_TEXT = "Lunch today is chicken soup with fresh bread, a green salad and apple pie, and music after lunch."
AEC_ONLY = dict(echo_cancellation=True, noise_suppression=NoiseSuppression.OFF)


def _db(x):
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12)


def _shifted(x: np.ndarray, samples: int) -> np.ndarray:
    """x later by ``samples`` (earlier when negative), same length."""
    out = np.zeros_like(x)
    if samples >= 0:
        out[samples:] = x[:len(x) - samples]
    else:
        out[:samples] = x[-samples:]
    return out


@pytest.fixture(scope="module")
def robot():
    return 0.35 * speak(ROBOT_TEXT, rate=140)


def _through(fe: FrontEnd, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
    return np.concatenate([fe.process(mic[i:i + 800], far[i:i + 800]) for i in range(0, len(mic), 800)])


def test_an_echo_that_comes_before_its_reference_is_cancelled_only_behind_the_guard(robot):
    # The virtual room's null sink put the robot's voice 13 ms before its reference.
    echo = _shifted(robot, -int(0.013 * SAMPLE_RATE))
    half = len(robot) // 2
    unguarded = _through(FrontEnd(FrontEndConfig(**AEC_ONLY, echo_guard_ms=0.0)), echo, robot)
    guarded_fe = FrontEnd(FrontEndConfig(**AEC_ONLY))
    guarded = _through(guarded_fe, echo, robot)
    assert guarded_fe.delay_samples == int(0.040 * SAMPLE_RATE)
    assert _db(echo[half:]) - _db(unguarded[half:]) < 10.0      # AEC3 cannot cancel an echo that comes first
    assert _db(echo[half:]) - _db(guarded[half:]) > 25.0


def test_process_clip_is_aligned_with_its_input_despite_the_guard(robot):
    words = speak("Where are my glasses")
    lags = []
    for guard_ms in (0.0, 40.0, 100.0):
        fe = FrontEnd(FrontEndConfig(**AEC_ONLY, echo_guard_ms=guard_ms))
        out = fe.process_clip(words)                              # nothing played: the words pass
        assert len(out) == len(words) and fe.delay_samples == int(guard_ms * SAMPLE_RATE / 1000)
        lag, sharpness = gcc_phat_lag(out, words, SAMPLE_RATE // 10)
        assert sharpness > 20
        lags.append(lag)
    # The guard is taken back out; what is left is AEC3's own few ms (the same with any guard).
    assert lags[0] == lags[1] == lags[2] and abs(lags[0]) <= 0.01 * SAMPLE_RATE, lags


def test_the_linear_canceller_takes_off_the_echo_and_keeps_the_resident(robot):
    resident = speak("Stop, please stop!", voice="en-us+f3", rate=120)
    at = int(3.5 * SAMPLE_RATE)
    near = np.zeros_like(robot)
    near[at:at + len(resident)] = 0.9 * resident / np.max(np.abs(resident))
    echo = _shifted(robot, int(0.018 * SAMPLE_RATE))
    mic = np.clip(echo + near, -1.0, 1.0)                         # the sink's sum clips, as in the virtual room
    usable = len(mic) - len(mic) % 160
    out = LinearEchoCanceller().process(mic[:usable], robot[:usable])
    before = slice(at - SAMPLE_RATE, at)                          # the robot alone, after 2.5 s to adapt
    assert _db(mic[before]) - _db(out[before]) > 10.0
    during = slice(at, at + len(resident))
    assert abs(_db(out[during]) - _db(near[during])) < 1.5        # the resident, whole


def test_a_stop_said_over_the_robot_is_heard_in_the_linear_output(robot):
    from carebot.speech.recognizer import RecognizerConfig
    from carebot.speech.transcriber import Transcriber

    resident = speak("Stop, please stop!", voice="en-us+f3", rate=120)
    at = int(2.5 * SAMPLE_RATE)
    near = np.zeros_like(robot)
    near[at:at + len(resident)] = 0.9 * resident / np.max(np.abs(resident))
    mic = np.clip(_shifted(robot, int(0.018 * SAMPLE_RATE)) + near, -1.0, 1.0)
    usable = len(mic) - len(mic) % 160
    out = LinearEchoCanceller().process(mic[:usable], robot[:usable])
    clip = out[at - SAMPLE_RATE // 2: at + len(resident) + SAMPLE_RATE // 2]
    whisper = Transcriber(RecognizerConfig(model="tiny.en", language="en")).load()
    heard = whisper.transcribe_audio(clip, use_prompt=False)
    assert heard.accepted and over_own_voice(heard.text, ROBOT_TEXT), heard.text


def test_the_resident_s_words_are_what_the_robot_s_sentence_does_not_explain():
    spoken = "Lunch today is chicken soup with fresh bread, a green salad and apple pie."
    assert not_own_words("today is chicken soup with fresh. Stop, please stop!", spoken) == "Stop, please stop!"
    assert over_own_voice("Lunch today is chicken soup. Stop, please stop!", spoken) == "Stop, please stop!"
    assert over_own_voice("fresh bread help me", spoken) == "help me"
    assert over_own_voice("today is chicken soup with fresh.", spoken) == ""      # the robot alone
    assert over_own_voice("Please stop at the desk.", "Please stop at the desk.") == ""   # its own "stop"
    assert over_own_voice("今天午饭是鸡汤。停！", "今天午饭是鸡汤和面包。") == "停"
    assert over_own_voice("请停一下", "请停一下，我们到了。") == ""


def test_the_echo_delay_is_measured_early_or_late(robot):
    for ms in (18, -13, 120):
        shift = int(ms * SAMPLE_RATE / 1000)
        lag, sharpness = gcc_phat_lag(_shifted(robot, shift), robot, int(0.3 * SAMPLE_RATE))
        assert lag == shift and sharpness > 50, (ms, lag, sharpness)
    delay = EchoDelay()
    echo = 0.5 * _shifted(robot, -int(0.013 * SAMPLE_RATE)) + 0.01 * np.random.default_rng(0).normal(size=len(robot))
    for i in range(0, len(robot), 800):
        delay.push(echo[i:i + 800].astype(np.float32), robot[i:i + 800])
    assert delay.estimates >= 2 and abs(delay.lag_ms + 13.0) < 1.0
    unrelated = EchoDelay()
    noise = np.random.default_rng(1).normal(0, 0.1, len(robot)).astype(np.float32)
    for i in range(0, len(robot), 800):
        unrelated.push(noise[i:i + 800], robot[i:i + 800])
    assert unrelated.lag_samples is None                           # no echo in it: no estimate


def test_the_robot_never_stops_itself_from_its_own_voice_in_the_linear_output():
    """The linear output still holds the robot's words (14-19 dB down): what Whisper makes of
    them, less the sentence being spoken, must not read as stop or help, even for words that
    sound like them ("shop", "step", "helped")."""
    from carebot.speech.recognizer import RecognizerConfig
    from carebot.speech.transcriber import Transcriber

    whisper = Transcriber(RecognizerConfig(model="tiny.en", language="en")).load()
    for sentence in ("Let's pop into the shop on the way to the top floor, it's just a short step.",
                     "Your daughter phoned; she helped set up the garden party and will visit on Sunday.",
                     "Please hold the rail. We will go slowly, and I will wait for you at each stop sign."):
        robot = 0.35 * speak(sentence, rate=140)
        echo = _shifted(np.concatenate([robot, np.zeros(SAMPLE_RATE // 2, np.float32)]), int(0.03 * SAMPLE_RATE))
        far = np.concatenate([robot, np.zeros(SAMPLE_RATE // 2, np.float32)])
        usable = len(echo) - len(echo) % 160
        out = LinearEchoCanceller().process(echo[:usable], far[:usable])
        heard = whisper.transcribe_audio(out, use_prompt=False)
        assert heard.accepted, sentence                       # the robot's words are still there ...
        assert over_own_voice(heard.text, sentence) == "", (sentence, heard.text)   # ... and explained
