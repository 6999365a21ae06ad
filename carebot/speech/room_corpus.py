"""A noisy-room test corpus generated from the clean sentences (no recordings).

Each item is what a microphone in a care-home lounge would deliver: a resident's
sentence (synthetic voices, several speakers and speeds) in one of the
``CONDITIONS``: pink noise, other people's babble (eight voices), a television
(one clear presenter over music), reverberation, a lounge (babble and pink noise in
a reverberant room; with the television on too), or the robot's own voice
playing over the loudspeaker (then ``far`` holds what the loudspeaker was given,
the echo canceller's reference). Paused, slow versions of the sentences test the
end-of-speech decision for elderly speakers.

Sentences: ``dev`` = the English sentences of ``tests/data/speech/sentences.yaml``
plus ``room_sentences.yaml: dev``; ``heldout`` = ``room_sentences.yaml: heldout``,
which is reported and never tuned on. Everything is seeded: the same corpus on
every machine. Used by ``benchmarks/speech_bench.py`` and the speech tests.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from carebot.paths import ROOT
from carebot.speech import acoustics
from carebot.speech.audio import SAMPLE_RATE, Clip, resample
from carebot.speech.corpus import SENTENCES, SpeechMaker, Voice, load_sentences
from carebot.speech.tts import espeak_synthesize

ROOM_SENTENCES = ROOT / "tests" / "data" / "speech" / "room_sentences.yaml"
SPEECH_LEVEL_DBFS = -26.0      # active level of a resident's speech at the microphone (about 1 m)
LEAD_S = 1.5                   # s of room sound before the sentence (noise estimates settle)
TAIL_S = 1.2                   # s after it (the VAD must see the end)
ECHO_LEAD_S = 4.0              # s the robot has been talking before the resident starts (AEC converged)
ECHO_DIRECT_TO_REVERB_DB = 15.0  # the loudspeaker a few cm from the microphone: its direct sound dominates
ECHO_DRIVE = 0.5               # loudspeaker saturation (tanh drive): ~4 % compression at full scale


@dataclass(frozen=True)
class Condition:
    """A room: ``noise`` kind at ``snr_db`` (speech active level over noise RMS), reverberation
    time ``rt60_s`` (0: none), or the robot's voice at ``ser_db`` (speech over echo) when ``echo``."""

    name: str
    noise: str = ""            # "", pink, babble, tv, lounge
    snr_db: float = 0.0
    rt60_s: float = 0.0
    echo: bool = False
    ser_db: float = 0.0

    @property
    def label(self) -> str:
        return self.name


CONDITIONS: tuple[Condition, ...] = (
    Condition("clean"),
    Condition("pink_10", "pink", 10.0),
    Condition("pink_5", "pink", 5.0),
    Condition("babble_10", "babble", 10.0),
    Condition("babble_5", "babble", 5.0),
    Condition("tv_10", "tv", 10.0),
    Condition("tv_5", "tv", 5.0),
    Condition("reverb", rt60_s=0.7),
    Condition("lounge_10", "lounge", 10.0, rt60_s=0.5),     # babble + pink, reverberant
    Condition("lounge_5", "lounge", 5.0, rt60_s=0.5),
    Condition("lounge_tv_10", "lounge_tv", 10.0, rt60_s=0.5),   # ... and the television on
    Condition("echo", echo=True, ser_db=-3.0, rt60_s=0.4),   # the robot's voice louder than the resident
)
CONDITION_BY_NAME = {c.name: c for c in CONDITIONS}


@dataclass(frozen=True)
class RoomVoice:
    """A synthetic speaker: a TTS voice, then resampled by ``tract`` (> 1: a higher, faster
    voice; < 1: a lower, slower one, like a longer vocal tract)."""

    voice: Voice
    tract: float = 1.0

    @property
    def label(self) -> str:
        return self.voice.label + (f"x{self.tract:g}" if self.tract != 1.0 else "")


# Residents and visitors: the neural voice at several speeds and vocal-tract lengths, and two
# espeak-ng voices (a woman's, a British man's). Slow rates: elderly speakers.
ROOM_VOICES: tuple[RoomVoice, ...] = (
    RoomVoice(Voice("piper", "joe", 125)),
    RoomVoice(Voice("piper", "joe", 115), 0.92),
    RoomVoice(Voice("espeak", "en-us+f3", 125)),
    RoomVoice(Voice("piper", "joe", 105), 1.08),
    RoomVoice(Voice("piper", "joe", 135), 0.96),
    RoomVoice(Voice("espeak", "en-gb", 130)),
)
# Other people in the room (babble) and the television presenter: espeak-ng voices that
# are not among the residents'.
# Babble: eight people talking at once (a diffuse crowd, as in speech-in-noise tests), so
# no single voice stands out; a single clear voice is the television condition.
_BABBLE_VOICES = ("en-us+m3", "en-gb-x-rp+f4", "en-us+m7", "en-gb+f2",
                  "en-us+f4", "en-gb-scotland+m2", "en-us+m1", "en-gb-x-rp+f1")
_BABBLE_LINES = (
    "Did you see the match on Saturday, it was a very close game until the end.",
    "My granddaughter is starting school next week and she is so excited about it.",
    "The soup was a bit salty today but the bread was lovely and fresh.",
    "I think it is going to rain this afternoon so we should stay inside.",
    "We used to live by the sea when the children were small, in a little white house.",
    "Have you finished the crossword yet, I am stuck on seven across.",
    "The doctor said my blood pressure is much better than last month.",
    "They are showing an old film on Sunday evening in the big room.",
)
_PRESENTER_LINES = ("Good evening and welcome to the news at six. Tonight, heavy rain is expected across "
                    "the north, and the council has announced new opening hours for the library. In sport, "
                    "the local team won again on Saturday, their third win in a row.")
_ROBOT_LINES = ("Good afternoon. Lunch today is vegetable soup with fresh bread, and after lunch there is "
                "music in the lounge. Would you like me to take you there when it starts?")


@dataclass(frozen=True)
class Sentence:
    text: str
    site: str = "care_home"
    kind: str = "request"          # request | vocabulary | distress
    split: str = "dev"


@dataclass
class Item:
    """One corpus item: the microphone signal, the loudspeaker reference, and the truth."""

    sentence: Sentence
    voice: RoomVoice
    condition: Condition
    mic: np.ndarray                # 16 kHz float32
    far: np.ndarray | None         # what the loudspeaker played (echo condition), same length
    speech_start_s: float
    speech_end_s: float


def sentences(split: str = "dev", path: Path = ROOM_SENTENCES) -> list[Sentence]:
    """``dev``: sentences.yaml English + room_sentences dev; ``heldout``: room_sentences heldout."""
    with open(path, encoding="utf-8") as handle:
        room = yaml.safe_load(handle)
    if split == "heldout":
        return [Sentence(s["text"], s.get("site", "care_home"), s.get("kind", "request"), "heldout")
                for s in room["heldout"]]
    if split != "dev":
        raise ValueError(f"split must be dev or heldout (got {split!r})")
    base = [Sentence(s["text"], "public_hall" if s.get("place") == "service_hall" else "care_home",
                     "request", "dev") for s in load_sentences(SENTENCES).get("english", [])]
    return base + [Sentence(s["text"], s.get("site", "care_home"), s.get("kind", "request"), "dev")
                   for s in room["dev"]]


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode()) & 0x7FFFFFFF


def _scale_to(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    return (x * (10 ** (level_dbfs / 20.0) / (acoustics.active_rms(x) + 1e-12))).astype(np.float32)


class RoomCorpus:
    """Makes items; the synthesised voices and noises are cached per instance."""

    def __init__(self, maker: SpeechMaker | None = None):
        self._maker = maker or SpeechMaker()
        self._speech_cache: dict[tuple[str, str], np.ndarray] = {}

    # -- speech
    def speech(self, text: str, voice: RoomVoice) -> np.ndarray:
        key = (text, voice.label)
        if key not in self._speech_cache:
            clip = self._maker.make(text, voice.voice).samples
            if voice.tract != 1.0:
                # Played back faster/slower: pitch, formants and tempo move together.
                clip = resample(clip, int(round(SAMPLE_RATE * voice.tract)), SAMPLE_RATE)
            self._speech_cache[key] = _trim(clip)
        return self._speech_cache[key]

    def paused(self, text: str, voice: RoomVoice, pause_s: float, after_word: int) -> np.ndarray:
        """The sentence with a silent pause of pause_s after word ``after_word`` (1-based):
        each part synthesised separately, as a slow speaker would start again."""
        words = text.split()
        first, second = " ".join(words[:after_word]), " ".join(words[after_word:])
        gap = np.zeros(int(pause_s * SAMPLE_RATE), np.float32)
        return np.concatenate([self.speech(first, voice), gap, self.speech(second, voice)])

    # -- noise
    @lru_cache(maxsize=None)
    def _babble(self) -> np.ndarray:
        talkers = [_to16k(espeak_synthesize(line, voice, 150))
                   for voice, line in zip(_BABBLE_VOICES, _BABBLE_LINES)]
        return acoustics.babble(talkers, 20.0, seed=1)

    @lru_cache(maxsize=None)
    def _television(self) -> np.ndarray:
        presenter = _to16k(espeak_synthesize(_PRESENTER_LINES, "en-gb-x-rp", 165))
        return acoustics.television(presenter, 20.0, seed=2)

    def noise(self, kind: str, seconds: float, seed: int) -> np.ndarray:
        """Unit-RMS noise of a kind; babble and TV start at a seeded offset of their loop."""
        rng = np.random.default_rng(seed)
        n = int(seconds * SAMPLE_RATE)
        if kind == "pink":
            return acoustics.pink_noise(seconds, seed)
        if kind in ("babble", "tv"):
            loop = self._babble() if kind == "babble" else self._television()
            return acoustics.fit(np.roll(loop, -int(rng.integers(0, len(loop)))), n)
        if kind == "lounge":
            # Other residents talking and the room's hum and air (pink), as issue 19 describes a lounge.
            mix = self.noise("babble", seconds, seed + 1) + 0.6 * acoustics.pink_noise(seconds, seed + 2)
            return mix / (np.sqrt(np.mean(mix ** 2)) + 1e-12)
        if kind == "lounge_tv":
            # The same lounge with the television on (a clear presenter: Whisper transcribes it too).
            mix = (self.noise("lounge", seconds, seed) + 0.8 * self.noise("tv", seconds, seed + 3))
            return mix / (np.sqrt(np.mean(mix ** 2)) + 1e-12)
        raise ValueError(f"unknown noise {kind!r}")

    @lru_cache(maxsize=None)
    def _robot_voice(self) -> np.ndarray:
        return self.speech(_ROBOT_LINES, RoomVoice(Voice("piper", "joe", 130)))

    # -- items
    def item(self, sentence: Sentence, voice: RoomVoice, condition: Condition,
             speech: np.ndarray | None = None) -> Item:
        """The microphone signal for one sentence in one room (``speech``: audio to use instead
        of the plain sentence, e.g. a paused version)."""
        seed = _seed(sentence.text, voice.label, condition.name)
        clean = self.speech(sentence.text, voice) if speech is None else np.asarray(speech, np.float32)
        lead = ECHO_LEAD_S if condition.echo else LEAD_S
        if condition.rt60_s > 0:
            clean = acoustics.reverberate(clean, acoustics.room_impulse_response(condition.rt60_s, 3.0, seed=seed))
        clean = _scale_to(clean, SPEECH_LEVEL_DBFS)
        total = lead + len(clean) / SAMPLE_RATE + TAIL_S
        n = int(total * SAMPLE_RATE)
        mic = np.zeros(n, np.float32)
        start = int(lead * SAMPLE_RATE)
        mic[start:start + len(clean)] = clean
        far = None
        if condition.noise:
            noise = self.noise(condition.noise, total, seed)
            if condition.rt60_s > 0:   # the noise is in the same room: diffuse, more reverberant
                noise = acoustics.reverberate(noise, acoustics.room_impulse_response(
                    condition.rt60_s, -3.0, seed=seed + 7))
            # SNR against the speech's active level; the noise runs through the whole item.
            scale = acoustics.active_rms(clean) / 10 ** (condition.snr_db / 20.0)
            mic += (scale * noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)
        else:
            mic += np.random.default_rng(seed).normal(0, 10 ** (-65 / 20.0), n).astype(np.float32)  # quiet room
        if condition.echo:
            robot = acoustics.fit(self._robot_voice(), n)
            robot = robot * (0.9 / (np.max(np.abs(robot)) + 1e-12))    # the TTS plays near full scale
            echo = acoustics.loudspeaker_echo(robot, acoustics.room_impulse_response(
                condition.rt60_s or 0.4, ECHO_DIRECT_TO_REVERB_DB, seed=seed + 11), drive=ECHO_DRIVE)
            echo_level = SPEECH_LEVEL_DBFS - condition.ser_db
            mic += echo * (10 ** (echo_level / 20.0) / (acoustics.active_rms(echo) + 1e-12))
            far = robot.astype(np.float32)
        return Item(sentence, voice, condition, np.clip(mic, -1.0, 1.0).astype(np.float32), far,
                    lead, lead + len(clean) / SAMPLE_RATE)

    def items(self, split: str, conditions: tuple[Condition, ...] | list[Condition], limit: int = 0,
              kinds: tuple[str, ...] = ()):
        """Every sentence of a split (first ``limit``, of ``kinds``) in every condition; voices
        round robin over the split's sentences (a sentence always gets the same voice)."""
        every = sentences(split)
        chosen = [(i, s) for i, s in enumerate(every) if not kinds or s.kind in kinds]
        if limit:
            chosen = chosen[:limit]
        for i, sentence in chosen:
            voice = ROOM_VOICES[(i + (0 if split == "dev" else 3)) % len(ROOM_VOICES)]
            for condition in conditions:
                yield self.item(sentence, voice, condition)


def _to16k(clip: Clip) -> np.ndarray:
    return resample(clip.samples, clip.sample_rate, SAMPLE_RATE)


def _trim(x: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Cut the synthesiser's leading/trailing silence (pauses are then exact)."""
    loud = np.flatnonzero(np.abs(x) > threshold * max(1e-6, float(np.max(np.abs(x)))))
    return x[max(0, loud[0] - 160):loud[-1] + 160] if loud.size else x
