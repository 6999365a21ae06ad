"""Choices of the speech node's string parameters, for ``carebot config-check``."""
from carebot.config_check import Rule

RULES = {"speech": {
    "audio_source": Rule(choices=("device", "topic", "file")),
    "model": Rule(choices=("tiny.en", "base")),
    "tts_engine": Rule(choices=("auto", "piper", "espeak")),
    "playback": Rule(choices=("device", "none")),
}}
