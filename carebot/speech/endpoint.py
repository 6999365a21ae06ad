"""Adaptive end of speech: a complete command is published at the first pause, an
unfinished sentence waits for the rest (elderly speakers pause mid-sentence).

The VAD (``vad.UtteranceDetector`` with ``max_pause_ms``) hands out a *tentative*
utterance at each pause of ``end_silence_ms`` and a *final* one after ``max_pause_ms``
of silence. ``EndOfSpeech.feed`` recognises each tentative utterance and decides
from its words (``looks_complete``):

* complete ("Please call the nurse.", "Stop!", a shout) -> published now; what is
  said after it (if the speaker goes on) becomes a new transcript;
* unfinished ("I would like to...", "Could you bring me the") -> held; if the speaker
  goes on, the whole sentence is recognised again at the next pause; if not, the held
  text is published when the final utterance says nothing new came (no second
  Whisper call).

Pure logic: the recogniser is passed in as a function.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from carebot.speech.audio import SAMPLE_RATE
from carebot.speech.vad import Utterance

# English words after which a sentence cannot end: articles, prepositions, conjunctions,
# possessives, auxiliaries, verbs that need an object, question words, fillers.
_EN_UNFINISHED = frozenset("""
a an the to of for with and or but nor so because if than as at in on into onto from by about
my your his her our their its this that these those some any another every each
is are was were am be been being do does did can could would will shall should may might must
i we they he she
want wanna need like get go take bring put give tell show find fetch call ask help find let make
when where what which who whom whose how why
um uh er erm hmm very really more most much many just also too
""".split())
# ...that may still end a sentence when they are its last word
_EN_STANDALONE = frozenset("""
stop help wait yes no yeah ok okay thanks thank you hello hi bye nurse please sorry pardon
""".split())
_ZH_UNFINISHED_TAIL = ("的", "和", "跟", "在", "我", "给", "把", "去", "要", "想", "请", "到", "还有", "然后",
                       "那个", "就是", "帮", "帮我", "让", "叫", "被", "对", "从", "往", "向", "如果", "因为", "但是")
COMPLETE_MIN_WORDS = 4          # shorter texts wait for more, unless stop/help/yes/no and the like
# Set phrases that are whole sentences however short ("Good morning.", "Thank you very much."):
# without this they waited the longest pause (1.3 s) as "fewer than four words" or "ends in much".
_EN_FORMULA = re.compile(
    r"^(?:(?:well |oh |and )?(?:a )?(?:very )?good (?:morning|afternoon|evening|night|day)(?: to you| everyone| all)?"
    r"|(?:thank you|thanks)(?: (?:very|so) much| a lot| ever so much| kindly| dear| love)?(?: indeed)?"
    r"|(?:good ?bye|bye(?: bye)?|see you(?: later| soon| tomorrow)?|night night|take care)"
    r"|(?:hello|hi|hey)(?: there| everyone| again)?|how are you(?: today| doing)?|how do you do"
    r"|(?:i m |i am )?(?:fine|very well|not bad)(?:,? thank you| thanks)?|you re welcome|no problem|never mind"
    r"|excuse me|all right|that s (?:fine|lovely|good|great|nice|kind of you)|how lovely|that s very kind)$")
_TRAILING_OFF = re.compile(r"(\.\.\.|…|,|，|、|-|—)\s*$")
_WORD = re.compile(r"[a-z']+")


def looks_complete(text: str, language: str = "en") -> bool:
    """Whether a transcript reads like a whole request (not "I would like to ...").

    Whisper marks trailing speech with "..." or a comma; otherwise the last word
    decides, and a text of fewer than ``COMPLETE_MIN_WORDS`` words ("What time?",
    "Could you please.") waits for more. Stop and help phrases and distress ("My chest
    hurts.", "我胸口疼") are always complete.
    """
    text = text.strip()
    if not text:
        return False
    if _TRAILING_OFF.search(text):
        return False
    if _is_safety_phrase(text):
        return True
    if language.startswith("zh") or re.search(r"[\u3400-\u9fff]", text):
        core = re.sub(r"[\s\W_]+$", "", text)
        return bool(core) and not core.endswith(_ZH_UNFINISHED_TAIL)
    words = _WORD.findall(text.lower().replace("’", "'"))
    if not words:
        return False
    if _EN_FORMULA.match(" ".join(w.replace("'", " ") for w in words).replace("  ", " ")):
        return True
    last = words[-1].strip("'")
    if len(words) < COMPLETE_MIN_WORDS:
        return all(w.strip("'") in _EN_STANDALONE for w in words)
    return last not in _EN_UNFINISHED


def _is_safety_phrase(text: str) -> bool:
    """Stop, help, and whatever the brain's distress rules flag ("My chest hurts."): a short
    call for help must not wait max_pause_ms for words that may never come."""
    from carebot.brain.distress import is_distress
    from carebot.brain.phrases import is_emergency_phrase, is_stop_phrase

    return is_stop_phrase(text) or is_emergency_phrase(text) or is_distress(text)


@dataclass
class _Segment:
    published_until: int = -1      # stream sample up to which the segment was published
    held: object | None = None     # the last unfinished transcription, not published yet


@dataclass
class EndpointStats:
    tentative: int = 0             # tentative utterances recognised
    early: int = 0                 # ... published at the first pause (complete)
    held: int = 0                  # ... held as unfinished
    released: int = 0              # held text published after the longest pause
    redecoded: int = 0             # finals recognised again (the speaker went on)
    decodes: int = 0               # Whisper calls in all


@dataclass
class EndOfSpeech:
    """Turns the VAD's tentative/final utterances into transcripts to publish.

    ``transcribe(utterance) -> Transcription`` (``transcriber.Transcription``: ``text``,
    ``language``, ``publishable``, ``shout``); ``feed`` returns what to publish now,
    each with the utterance it came from.
    """

    transcribe: Callable[[Utterance], object]
    complete: Callable[[str, str], bool] = looks_complete
    stats: EndpointStats = field(default_factory=EndpointStats)
    _segments: dict[int, _Segment] = field(default_factory=dict)

    def feed(self, utt: Utterance) -> list[tuple[Utterance, object]]:
        seg = self._segments.setdefault(utt.segment, _Segment())
        if utt.tentative:
            return self._tentative(utt, seg)
        self._segments.pop(utt.segment, None)
        if not utt.new_speech:
            # Nothing was said after the last pause: the held text (if any) is the sentence.
            if seg.held is not None:
                self.stats.released += 1
                return [seg.held]
            return []
        part = self._since(utt, seg.published_until)
        if part is None:
            return []
        result = self._decode(part)
        if seg.published_until >= 0 or seg.held is not None:
            self.stats.redecoded += 1
        return [(part, result)] if result.publishable else []

    def _tentative(self, utt: Utterance, seg: _Segment) -> list[tuple[Utterance, object]]:
        part = self._since(utt, seg.published_until)
        if part is None:
            return []
        self.stats.tentative += 1
        result = self._decode(part)
        if not result.publishable:
            seg.held = None
            return []
        text = result.text if getattr(result, "accepted", True) else ""
        if result.shout or self.complete(text, result.language or "en"):
            self.stats.early += 1
            seg.published_until = utt.end_sample
            seg.held = None
            return [(part, result)]
        self.stats.held += 1
        seg.held = (part, result)
        return []

    def part_of(self, utt: Utterance) -> Utterance | None:
        """What ``feed`` would recognise of this utterance now (the part after what the segment
        already published), without changing anything: the speech node recognises an early
        utterance ahead with it."""
        seg = self._segments.get(utt.segment)
        return self._since(utt, seg.published_until if seg is not None else -1)

    def _decode(self, utt: Utterance):
        self.stats.decodes += 1
        return self.transcribe(utt)

    @staticmethod
    def _since(utt: Utterance, published_until: int) -> Utterance | None:
        """The part of a segment after what was already published (all of it when nothing was)."""
        if published_until < 0 or utt.audio_start_sample < 0:
            return utt
        # Keep 100 ms before the cut: the next word's onset may start in the pause's last frames.
        cut = max(0, published_until - utt.audio_start_sample + int(0.1 * SAMPLE_RATE))
        if cut >= len(utt.audio) - int(0.2 * SAMPLE_RATE):
            return None
        start = utt.audio_start_sample + cut
        return Utterance(utt.audio[cut:], max(start, published_until), utt.end_sample, utt.detected_sample,
                         utt.voiced_ms, utt.truncated, tentative=utt.tentative, segment=utt.segment,
                         new_speech=utt.new_speech, raw=utt.raw[cut:] if utt.raw is not None else None,
                         audio_start_sample=start)
