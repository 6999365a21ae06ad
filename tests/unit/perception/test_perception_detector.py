"""The real fall model on real photographs and on fallen people made from them.

Fallen-person images are made at test time from ultralytics' own photos (see
carebot/perception/scenes.py: a person cut out of bus.jpg, rotated about the feet,
foreshortened and blended onto a floor). The rates asserted here sit below the
rates measured on larger sets (docs/perception.md), so a regression fails while
the model's known misses do not.
"""
from __future__ import annotations

import pytest

from carebot.perception import scenes
from carebot.perception.detection import DetectionClass, PersonState
from carebot.perception.detector import Detector, DetectorConfig, ModelLoadError, classify_names
from carebot.perception.evaluate import evaluate_images, run_sequence
from carebot.perception.fall_logic import FallConfig, single_image_state

pytestmark = pytest.mark.slow

# Measured on labelled_set(30, seed=2024) at imgsz 320: fall recall 0.77, precision 1.00, upright
# found 31/32 (docs/perception.md). This test runs the first 10 of each kind of that set.
MIN_FALLEN_RECALL_320 = 0.6
MIN_UPRIGHT_FOUND = 0.8


@pytest.fixture(scope="module")
def detector():
    return Detector(DetectorConfig(imgsz=640))


@pytest.fixture(scope="module")
def detector_320():
    return Detector(DetectorConfig(imgsz=320))


def states(detector, image):
    h, w = image.shape[:2]
    return [single_image_state(d, (w, h), FallConfig())[0] for d in detector.detect(image)]


def test_upright_people_in_real_photos_are_normal(detector):
    bus = states(detector, scenes.photo("bus.jpg"))
    assert len(bus) >= 3 and set(bus) == {PersonState.NORMAL}
    zidane = states(detector, scenes.photo("zidane.jpg"))
    assert len(zidane) >= 1 and set(zidane) == {PersonState.NORMAL}


@pytest.mark.parametrize("floor", list(scenes.Floor))
def test_a_scene_with_nobody_yields_no_person(detector, floor):
    assert detector.detect(scenes.background(floor, seed=5)) == []


def test_fallen_people_made_from_real_photos_are_found_fallen(detector_320):
    ev = evaluate_images(detector_320, scenes.labelled_set(10, seed=2024))
    assert ev.fall.recall >= MIN_FALLEN_RECALL_320, [o for o in ev.outcomes if o.truth is scenes.Truth.FALLEN]
    assert ev.fall.fp == 0, [o for o in ev.outcomes if o.truth is not scenes.Truth.FALLEN]
    assert ev.upright_found / ev.upright_total >= MIN_UPRIGHT_FOUND
    assert ev.empty_clean == ev.empty_total


def test_fall_class_is_recognised_in_the_shipped_model(detector):
    assert detector.has_fall_class
    assert classify_names(detector.names) == {0: DetectionClass.PERSON, 1: DetectionClass.FALL}
    assert classify_names({0: "person", 1: "bicycle", 2: "car"}) == {0: DetectionClass.PERSON}


def test_tracking_keeps_one_id_for_a_walking_person(detector_320):
    out = run_sequence(detector_320, scenes.sequence(scenes.Motion.WALK, fps=4.0, source=1, seed=3))
    assert out.ids_seen == 1 and out.raised == 0


def test_fall_sequence_raises_one_alert_and_resolves_it(detector_320):
    seq = scenes.sequence(scenes.Motion.FALL, fps=4.0, source=0, seed=8, lie_s=5.0)
    out = run_sequence(detector_320, seq)
    assert out.raised == 1 and out.resolved == 1, out
    assert 0 <= out.alert_delay_s <= FallConfig().persistence_s + 2.0
    assert 0 <= out.resolve_delay_s <= FallConfig().clear_s + 2.0


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Detector(DetectorConfig(model_path=str(tmp_path / "nope.pt")))


@pytest.mark.parametrize("name, content", [("empty.pt", b""), ("garbage.pt", b"not a model" * 100),
                                           ("garbage.onnx", b"\x00\x01junk" * 50)])
def test_broken_model_file_is_a_clear_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=str(path)):
        Detector(DetectorConfig(model_path=str(path)))


# The shipped defaults (imgsz 640 + a second look at 320, fusion weights of FallConfig, the
# scene's furniture) on 3 images of each condition of the dev part of scene_sets. The rates
# asserted sit below those measured on the larger dev and held-out sets (docs/perception.md).
MIN_FALLEN_RECALL_DEFAULTS = 0.7


def test_shipped_defaults_find_fallen_people_in_every_condition_and_no_upright_falls():
    from carebot.perception import scene_sets as ss
    from carebot.perception.evaluate import detect_all, evaluate_conditions, fused_decision

    images = ss.image_set(ss.Part.DEV, 3)
    det = Detector(DetectorConfig())
    ev = evaluate_conditions(images, detect_all(det, images), fused_decision())
    assert ev.overall.recall >= MIN_FALLEN_RECALL_DEFAULTS, ev.rows()
    assert ev.per_condition[ss.Condition.UPRIGHT].fp == 0, ev.rows()
    assert ev.per_condition[ss.Condition.EMPTY].fp == 0, ev.rows()
    assert ev.per_condition[ss.Condition.ACROSS].recall == 1.0, ev.rows()
    assert det.second_looks >= 12   # every fallen image had a lying or Fall box looked at twice


def test_fall_boxes_are_kept_from_fall_conf_and_person_boxes_from_conf(detector):
    """A weak Fall box (0.2..0.3) reaches the fall decision, which still needs a lying shape
    for it; a weak person box is dropped as before. On the real model: the raw boxes of a
    scene at conf 0.1 compared with the detector's."""
    from carebot.perception import scene_sets as ss

    cfg = DetectorConfig(imgsz=640, second_look_imgsz=0, dark_luma=0.0)   # raw frames on both sides
    assert cfg.fall_conf < cfg.conf
    strict = Detector(cfg)
    images = ss.image_set(ss.Part.DEV, 4, conditions=(ss.Condition.DIM,), first=15)   # weak Falls among them
    weak_falls = 0
    for im in images:
        raw = strict._model.predict(im.image, **{**strict._kwargs(), "conf": 0.1})[0]
        wanted = [(round(float(s), 3), int(c)) for s, c in zip(raw.boxes.conf, raw.boxes.cls)
                  if s >= (cfg.fall_conf if strict.classes.get(int(c)) is DetectionClass.FALL else cfg.conf)]
        got = [(round(d.score, 3), next(k for k, v in strict.classes.items() if v is d.label))
               for d in strict.detect(im.image)]
        assert sorted(got) == sorted(wanted), im.name
        weak_falls += sum(1 for s, c in wanted if s < cfg.conf)
    assert weak_falls >= 1   # the set has weak Fall boxes, so the rule was exercised
