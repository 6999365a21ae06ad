"""Choices of the speech node's string parameters, for ``carebot config-check``."""
from carebot.config_check import Rule
from carebot.paths import ROOT


def _site_exists(value) -> str | None:
    if value and not (ROOT / "config" / "sites" / str(value)).is_dir():
        return f"no site folder config/sites/{value} (its vocabulary biases recognition)"
    return None


RULES = {"speech": {
    "audio_source": Rule(choices=("device", "topic", "file")),
    "model": Rule(choices=("tiny.en", "base")),
    "tts_engine": Rule(choices=("auto", "piper", "espeak")),
    "playback": Rule(choices=("device", "none")),
    "noise_suppression": Rule(choices=("off", "webrtc", "deepfilter")),
    "vocabulary": Rule(choices=("off", "prompt", "hotwords")),
    "site": Rule(check=_site_exists),
}}
