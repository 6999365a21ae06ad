"""Checks of the perception node's parameters that their descriptors cannot say, for ``carebot config-check``.

Kept in step with carebot/perception/settings.py, which the node itself runs (and which
tests/unit/perception/test_perception_settings.py checks against both site files)."""
from carebot.config_check import Rule
from carebot.world import WorldError, load_world

BACKENDS = ("auto", "openvino", "torch", "onnx")   # carebot.perception.detector.BACKENDS (no numpy import here)


def _size(value) -> str | None:
    return None if isinstance(value, int) and value >= 32 and value % 32 == 0 else \
        f"{value!r} must be a positive multiple of 32"


def _second_look(value) -> str | None:
    return None if value == 0 else _size(value)


def _world(value) -> str | None:
    if value == "":
        return None
    try:
        load_world(value)
    except (WorldError, OSError) as exc:
        return str(exc)
    return None


RULES = {
    "perception": {
        "backend": Rule(choices=BACKENDS),
        "imgsz": Rule(check=_size),
        "second_look_imgsz": Rule(check=_second_look),
        "furniture_world": Rule(check=_world),
    },
}
