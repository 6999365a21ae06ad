"""The Chinese-speaking care home (config/care_home_gz.yaml) is the care home's building in
another language: its file may differ from config/care_home.yaml only in the language keys
below, so tuning the building in one file and not the other fails here."""
import yaml

from carebot.bringup import site_config

# (node, parameter): what a Chinese-speaking site sets differently (docs/languages.md).
LANGUAGE_KEYS = {("dashboard", "title"), ("dashboard", "language"), ("dashboard", "time_zone"),
                 ("perception", "alert_language"), ("speech", "languages"), ("speech", "tts_language"),
                 ("brain", "language"), ("brain", "daily_reminders")}


def _flat(site: str) -> dict:
    data = yaml.safe_load(site_config(site).read_text(encoding="utf-8"))
    return {(node, key): value for node, section in data.items()
            for key, value in (section or {}).get("ros__parameters", {}).items()}


def test_the_chinese_site_is_the_care_home_but_for_its_language():
    english, chinese = _flat("care_home"), _flat("care_home_gz")
    differ = {key for key in english.keys() | chinese.keys() if english.get(key) != chinese.get(key)}
    assert differ - LANGUAGE_KEYS == set(), (
        "config/care_home_gz.yaml and config/care_home.yaml differ beyond the language: make the same change in both "
        f"({sorted(differ - LANGUAGE_KEYS)})")
    assert chinese[("dashboard", "language")] == "zh-CN" and chinese[("brain", "language")] == "zh"
    assert chinese[("perception", "alert_language")] == "zh-CN" and chinese[("dashboard", "time_zone")] == "Asia/Shanghai"
