"""Site vocabulary that biases Whisper: places, counters, staff roles, residents' names.

Whisper knows "lounge" but not that "Nurse Li", "Mrs Chen" or "counter 3" are likely
here. The words come from the site files (``models/worlds/<site>.yaml``: places and
their aliases; ``config/sites/<site>/knowledge.yaml``: entry titles, staff and
residents named in the texts) and go to faster-whisper as a prompt (the text Whisper
believes came just before). The model is local: residents' names (``private`` entries)
never leave the robot.

The distress and stop words (``DISTRESS_WORDS``) are always in the prompt, last
(nearest to what is decoded), so that biasing towards names can never pull "help"
towards "Helen": measured in docs/speech.md. The prompt is not used while the robot
itself speaks (the node then listens only for stop and help, and a prompt full of
them would pull the robot's own residual echo towards them).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from carebot.paths import ROOT

SITES_DIR = ROOT / "config" / "sites"
WORLDS_DIR = ROOT / "models" / "worlds"
MAX_PROMPT_WORDS = 60          # Whisper keeps at most 223 prompt tokens; stay far below
# Always in the prompt, whatever the site: what must never be recognised as something else.
# Single words, not sentences: a whole phrase in the prompt ("I can't breathe.") is what
# Whisper reads back from a garbled sound (measured: the robot's own residual echo came
# out as "We can't breathe.").
DISTRESS_WORDS = {
    "en": ("Help!", "Stop!", "Wait!", "Nurse!", "Doctor!", "Ambulance!", "Fallen.", "Fire!", "Pain."),
    "zh": ("救命！", "停！", "等一下！", "护士！", "医生！", "救护车！", "摔倒。", "着火！", "疼。"),
}
_NAMED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Doctor|Nurse)\.?\s+[A-Z][a-z]+")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Vocabulary:
    """Words of one site, by language."""

    site: str
    terms: dict[str, tuple[str, ...]]      # language -> places, roles, names (no duplicates)

    def prompt(self, language: str = "en") -> str:
        """The prompt for one language: site terms, then the distress words."""
        lang = "zh" if language.startswith("zh") else "en"
        distress = DISTRESS_WORDS[lang]
        budget = MAX_PROMPT_WORDS - sum(_words(d) for d in distress)
        terms: list[str] = []
        for term in self.terms.get(lang, ()):
            if sum(_words(t) for t in terms) + _words(term) > budget:
                break
            terms.append(term)
        sep = "，" if lang == "zh" else ", "
        head = sep.join(terms) + ("。" if lang == "zh" else ".") if terms else ""
        return (head + " " + " ".join(distress)).strip()


def _words(term: str) -> int:
    """Prompt cost in words: a CJK character is about half a word of tokens."""
    cjk = len(_CJK.findall(term))
    return len(_CJK.sub(" ", term).split()) + (cjk + 1) // 2


def _title(name: str) -> str:
    words = name.replace("_", " ").split()
    return " ".join(w if any(c.isdigit() for c in w) else w.capitalize() if w.islower() else w for w in words)


def _add(out: dict[str, list[str]], term: str) -> None:
    term = term.strip()
    if not term:
        return
    lang = "zh" if _CJK.search(term) else "en"
    bucket = out.setdefault(lang, [])
    if term.lower() not in (t.lower() for t in bucket):
        bucket.append(term)


def load_vocabulary(site: str, sites_dir: Path = SITES_DIR, worlds_dir: Path = WORLDS_DIR) -> Vocabulary:
    """A site's vocabulary from its world and knowledge files (missing files: fewer terms)."""
    out: dict[str, list[str]] = {}
    names: list[str] = []
    knowledge = sites_dir / site / "knowledge.yaml"
    if knowledge.is_file():
        data = yaml.safe_load(knowledge.read_text(encoding="utf-8")) or {}
        for entry in data.get("entries", []):
            text = (entry.get("text") or {}).get("en", "")
            names += [m.replace(".", "") for m in _NAMED.findall(text)]
    for name in names:               # people first: Whisper knows rooms, not names
        _add(out, name)
    world = worlds_dir / f"{site}.yaml"
    if world.is_file():
        data = yaml.safe_load(world.read_text(encoding="utf-8")) or {}
        for name, place in (data.get("places") or {}).items():
            if name in ("charging_dock",):
                continue
            _add(out, _title(name))
            for alias in (place or {}).get("aliases", []):
                if _CJK.search(str(alias)):
                    _add(out, str(alias))
    if knowledge.is_file():
        data = yaml.safe_load(knowledge.read_text(encoding="utf-8")) or {}
        for entry in data.get("entries", []):
            title = entry.get("title") or {}
            for value in title.values():
                _add(out, str(value))
    return Vocabulary(site, {lang: tuple(terms) for lang, terms in out.items()})
