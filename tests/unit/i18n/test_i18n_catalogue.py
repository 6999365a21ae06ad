"""The message catalogue: both languages complete, the same placeholders in each, and every key
the staff page and the alert-writing code use is in it (read from their source)."""
import re
from pathlib import Path

import pytest

from carebot import i18n
from carebot.alert_enums import AlertKind, AlertState
from carebot.brain.distress import DistressKind
from carebot.i18n import alert_text

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "carebot" / "dashboard" / "static"
# Latin words a Chinese text may hold: the product name and the coordinate axes.
LATIN_ALLOWED_IN_ZH = {"carebot", "x", "y", "dBFS"}


def _js_array(source: str, name: str) -> list[str]:
    found = re.search(rf"const {name} = \[([^\]]*)\]", source)
    assert found, f"app.js has no const {name} = [...]"
    return re.findall(r'"([^"]+)"', found.group(1))


def page_keys() -> set[str]:
    """Every catalogue key index.html and app.js can show, literal or built from a list."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    keys = set(re.findall(r'data-i18n="([^"]+)"', html))
    for attrs in re.findall(r'data-i18n-attr="([^"]+)"', html):
        keys |= {pair.split(":", 1)[1] for pair in attrs.split(";") if ":" in pair and pair != "attribute:key"}
    keys.discard("key")
    keys |= set(re.findall(r'\bt\("([a-z][\w.]+)"', js))
    keys |= set(re.findall(r'i18n: \["([a-z][\w.]+)"', js))
    keys |= set(re.findall(r'fill\([^,()]+(?:\([^)]*\))?, "([a-z][\w.]+)"', js))
    keys |= set(re.findall(r'"((?:error|page|alert|task)\.[\w.]+)"', js))
    for prefix, array in (("kind", "KINDS"), ("state", "STATES"), ("mode", "MODES"), ("gesture", "GESTURES"),
                          ("tool", "TOOLS"), ("level", "LEVELS"), ("page.role", "ROLES")):
        keys |= {f"{prefix}.{name}" for name in _js_array(js, array)}
    return {k for k in keys if not k.endswith(".")}      # t("gesture." + name): the lists above give those


def test_both_languages_are_complete_with_the_same_placeholders():
    catalogue = i18n.catalogue()
    assert len(catalogue) > 100
    for key, texts in catalogue.items():
        assert set(texts) == set(i18n.LANGUAGES), key
        assert len({frozenset(i18n.placeholders(t)) for t in texts.values()}) == 1, key


def test_every_key_the_page_uses_is_in_the_catalogue():
    keys = page_keys()
    assert len(keys) > 80, sorted(keys)          # the reading of the page found its keys
    missing = sorted(k for k in keys if k not in i18n.catalogue())
    assert missing == []


def test_every_page_string_of_the_catalogue_is_used_by_the_page():
    unused = sorted(k for k in i18n.catalogue() if k.startswith("page.") and k not in page_keys())
    assert unused == []


def test_the_kinds_states_and_distress_headlines_are_all_there():
    for kind in AlertKind:
        assert i18n.text(f"kind.{kind.name}", "zh-CN") and i18n.text(f"kind.{kind.name}", "en")
    for state in AlertState:
        assert i18n.text(f"state.{state.name}", "zh")
    for found in DistressKind:
        assert i18n.text(f"help.{found.name}", "zh-CN")
    for reason in alert_text.ESCALATION_REASONS:
        assert i18n.text(f"reason.{reason}", "en", s=20)


def test_chinese_texts_are_translated_and_english_texts_have_no_chinese():
    cjk = re.compile(r"[\u3400-\u9fff]")
    chinese_form = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")   # characters, or full-width punctuation
    for key, texts in i18n.catalogue().items():
        zh = re.sub(r"\{\w+\}", "", texts["zh-CN"])
        latin = set(re.findall(r"[A-Za-z]+", zh)) - LATIN_ALLOWED_IN_ZH
        assert not latin, f"{key}: zh-CN text has untranslated words {latin}"
        assert not cjk.search(texts["en"]), key
        if key != "page.alerts.kind_only":       # "{kind}": nothing but its placeholder
            assert chinese_form.search(zh), f"{key}: zh-CN text without Chinese characters or punctuation"


def test_language_codes():
    assert i18n.normalize_language("zh") == i18n.normalize_language("zh_CN") == "zh-CN"
    assert i18n.normalize_language("zh-Hans") == "zh-CN" and i18n.normalize_language("en-GB") == "en"
    assert i18n.short_language("zh-CN") == "zh"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        i18n.normalize_language("fr")
    assert i18n.text("page.alerts.open", "zh", n=3) == "3 条未解决"
    assert i18n.strings("en", "kind.")["kind.FALL"] == "Fall"
    assert i18n.number(2.6) == "3" and i18n.number(-0.01, 1) == "0.0"


@pytest.mark.parametrize("data, message", [
    ({"page.x": {"en": "a"}}, "needs exactly"),
    ({"page.x": {"en": "a {n}", "zh-CN": "甲"}}, "placeholders differ"),
    ({"page.x": {"en": "", "zh-CN": "甲"}}, "empty"),
    ({"Bad Key": {"en": "a", "zh-CN": "甲"}}, "dotted"),
    (["not", "a", "mapping"], "top level"),
])
def test_a_bad_catalogue_is_refused_naming_the_key(data, message):
    with pytest.raises(i18n.CatalogueError, match=message):
        i18n.parse_catalogue(data)
