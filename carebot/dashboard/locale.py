"""The staff page's language and clock: the site's defaults and the strings the page shows.

The site sets its language (``language``: zh-CN or en) and time zone (``time_zone``: an IANA
name such as Asia/Shanghai); each login may switch the page to the other language (the page
keeps that choice per account in the browser). ``GET /api/strings?lang=`` answers with the
catalogue in the asked language, or the site's when none is asked: no login needed, the
login form is translated too, and nothing in it is secret.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carebot import i18n


def time_zone_problem(value: str) -> str | None:
    """Why ``value`` is not a usable time zone name, or None ('' = each browser's own zone)."""
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not an IANA time zone name (e.g. Asia/Shanghai, Europe/London)"
    return None


@dataclass(frozen=True)
class SiteLocale:
    """The site's language and time zone, as the dashboard's parameters set them."""

    language: str = "en"
    time_zone: str = ""

    def __post_init__(self):
        object.__setattr__(self, "language", i18n.normalize_language(self.language))
        problem = time_zone_problem(self.time_zone)
        if problem:
            raise ValueError(problem)

    def strings(self, query: str = "") -> dict:
        """The /api/strings answer for a query string (``lang=en``); ValueError for a language
        the catalogue does not have."""
        asked = (parse_qs(query).get("lang") or [""])[0].strip()
        language = i18n.normalize_language(asked) if asked else self.language
        return {"language": language, "site_language": self.language, "time_zone": self.time_zone,
                "languages": list(i18n.LANGUAGES), "language_names": dict(i18n.LANGUAGE_NAMES),
                "strings": i18n.strings(language)}
