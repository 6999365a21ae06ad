"""Dark frames are contrast-equalised before the detector; frames at ordinary light are not touched."""
from __future__ import annotations

import numpy as np
import pytest

from carebot.perception import scenes
from carebot.perception.low_light import equalise_if_dark, mean_luma
from carebot.perception.scene_sets import dim


def luma_spread(bgr: np.ndarray) -> float:
    import cv2

    return float(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).std())


@pytest.fixture(scope="module")
def bus():
    return scenes.photo("bus.jpg")


@pytest.fixture(scope="module")
def dim_bus(bus):
    return dim(bus, np.random.default_rng(3))


def test_a_frame_at_ordinary_light_is_passed_on_untouched(bus):
    assert mean_luma(bus) > 70
    assert equalise_if_dark(bus, 70.0) is bus


def test_a_dark_frame_gets_back_its_contrast(dim_bus):
    assert mean_luma(dim_bus) < 70
    out = equalise_if_dark(dim_bus, 70.0)
    assert out.shape == dim_bus.shape and out.dtype == np.uint8
    assert mean_luma(out) > mean_luma(dim_bus) + 15
    assert luma_spread(out) > 1.5 * luma_spread(dim_bus)


def test_dark_luma_zero_turns_it_off(dim_bus):
    assert equalise_if_dark(dim_bus, 0.0) is dim_bus


def test_a_grey_or_odd_frame_is_left_alone():
    grey = np.full((48, 64), 10, np.uint8)
    assert equalise_if_dark(grey, 70.0) is grey


@pytest.mark.slow
def test_the_detector_looks_at_the_equalised_frame(dim_bus):
    """The wiring: a detector with dark_luma sees what one without it sees on the equalised frame."""
    from carebot.perception.detector import Detector, DetectorConfig

    on = Detector(DetectorConfig(imgsz=320, second_look_imgsz=0, dark_luma=70.0))
    off = Detector(DetectorConfig(imgsz=320, second_look_imgsz=0, dark_luma=0.0))
    boxes_on = [(d.label, round(d.score, 4), d.box) for d in on.detect(dim_bus)]
    assert boxes_on == [(d.label, round(d.score, 4), d.box) for d in off.detect(equalise_if_dark(dim_bus, 70.0))]
    assert boxes_on, "the people of bus.jpg are found in the dimmed photo once it is equalised"


def test_the_setting_is_checked():
    from carebot.perception.detector import DetectorConfig

    with pytest.raises(ValueError, match="dark_luma"):
        DetectorConfig(dark_luma=-1.0).validate()
