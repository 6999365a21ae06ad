"""The stack's message catalogue: every text staff read, in Simplified Chinese and English.

One catalogue (``catalogue.yaml`` beside this file) serves both the staff page (the dashboard
hands it to the browser at ``/api/strings``) and the nodes that write alert texts
(perception, the brain), so a word such as the alert kind 跌倒 / Fall is the same on the
page and in a message. Keys are dotted names (``kind.FALL``, ``page.alerts.title``);
values use ``{name}`` placeholders, filled by ``str.format`` here and by the page's own
``t()`` in the browser. Pure module: no ROS, no I/O after the first load.

Language codes are BCP 47 as the browser uses them: ``zh-CN`` and ``en``. The brain's
older two-letter ``zh`` is accepted everywhere and means ``zh-CN``.
"""
from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import yaml

CATALOGUE_FILE = Path(__file__).resolve().parent / "catalogue.yaml"
LANGUAGES = ("zh-CN", "en")        # every catalogue entry has both
FALLBACK = "en"                    # a key missing in one language (a catalogue bug) falls back to this
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}   # each in its own language, for the language switch
_ALIASES = {"zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "zh-hans-cn": "zh-CN", "cmn": "zh-CN",
            "en": "en", "en-us": "en", "en-gb": "en"}
_KEY = re.compile(r"^[a-z][a-z0-9_]*(?:\.[A-Za-z0-9_]+)+$")


class CatalogueError(ValueError):
    """The catalogue file is unusable; the message names the key and what is wrong."""


def normalize_language(code: str) -> str:
    """``zh``, ``zh-cn``, ``zh-Hans`` ... -> ``zh-CN``; ``en-GB`` -> ``en``; ValueError otherwise."""
    key = str(code or "").strip().lower().replace("_", "-")
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown language {code!r}: use one of {', '.join(LANGUAGES)}")


def short_language(code: str) -> str:
    """The brain's and speech's two-letter form: ``zh-CN`` -> ``zh``, ``en`` -> ``en``."""
    return normalize_language(code).split("-")[0]


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a catalogue text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def parse_catalogue(data: object, where: str = "catalogue") -> dict[str, dict[str, str]]:
    """Validate the YAML mapping: each key has a text in every language, with the same
    placeholders in each; raises CatalogueError naming the first bad key."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{where}: top level must be a mapping of keys to {{en, zh-CN}}")
    out: dict[str, dict[str, str]] = {}
    for key, texts in data.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise CatalogueError(f"{where}: key {key!r} is not a dotted lower-case name")
        if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
            got = sorted(texts) if isinstance(texts, dict) else texts
            raise CatalogueError(f"{where}: {key}: needs exactly {', '.join(LANGUAGES)}, got {got!r}")
        values = {}
        for lang, text in texts.items():
            if not isinstance(text, str) or not text.strip():
                raise CatalogueError(f"{where}: {key}.{lang}: empty or not text")
            values[lang] = text
        fields = {lang: placeholders(text) for lang, text in values.items()}
        if len({frozenset(f) for f in fields.values()}) != 1:
            raise CatalogueError(f"{where}: {key}: placeholders differ between languages: {fields}")
        out[key] = values
    return out


@lru_cache(maxsize=1)
def catalogue() -> Mapping[str, Mapping[str, str]]:
    """The shipped catalogue (read once)."""
    with open(CATALOGUE_FILE, encoding="utf-8") as handle:
        return parse_catalogue(yaml.safe_load(handle), str(CATALOGUE_FILE))


def text(key: str, language: str, **values: object) -> str:
    """The catalogue text of ``key`` in ``language``, placeholders filled; KeyError for an
    unknown key (a programming error: tests walk every key used)."""
    entry = catalogue()[key]
    template = entry.get(normalize_language(language)) or entry[FALLBACK]
    return template.format(**values) if values else template


def strings(language: str, prefix: str = "") -> dict[str, str]:
    """Every text of one language (optionally only keys under ``prefix``), for the page."""
    lang = normalize_language(language)
    return {key: texts[lang] for key, texts in catalogue().items() if key.startswith(prefix)}


def number(value: float, digits: int = 0) -> str:
    """A number as staff read it: no ``-0``, no trailing ``.0`` for whole values at 0 digits."""
    rounded = round(float(value), digits)
    if rounded == 0:
        rounded = 0.0
    return f"{rounded:.{digits}f}"
