"""OpenVINO against torch, the export cache and the fallback, with the real shipped model.

Parity: the same frames through torch and through the OpenVINO export of the same
weights must give the same persons: the same classes, boxes matched one to one within
an IoU of 0.9, confidences within 0.05. The frames are real photos and labelled
scenes of every condition (scene_sets: lying across and along, hidden, dim, upright,
sitting, bending, on a bed or sofa, empty rooms).
"""
from __future__ import annotations

import os

import pytest

from carebot import models
from carebot.perception import scene_sets as ss
from carebot.perception import scenes
from carebot.perception.detector import Detector, DetectorConfig

pytest.importorskip("openvino", reason="openvino is not installed (requirements/stack.txt pins it)")

pytestmark = pytest.mark.slow

PARITY_IOU = 0.9          # boxes of the two runtimes: same person at this IoU or more (measured: 1.00)
PARITY_SCORE = 0.05       # confidences differ by at most this (measured: < 0.001)


def frames():
    photos = [scenes.photo("bus.jpg"), scenes.photo("zidane.jpg")]
    return photos + [im.image for im in ss.image_set(ss.Part.DEV, 2)]


@pytest.mark.parametrize("imgsz", [640, 320])
def test_openvino_finds_what_torch_finds(imgsz):
    torch_det = Detector(DetectorConfig(imgsz=imgsz, backend="torch", second_look_imgsz=0))
    ov_det = Detector(DetectorConfig(imgsz=imgsz, backend="openvino", second_look_imgsz=0))
    assert torch_det.backend == "torch" and ov_det.backend == "openvino", ov_det.fallback_reason
    assert ov_det.model_file.name == "model_openvino_model" and str(imgsz) in ov_det.model_file.parent.name
    compared = 0
    for i, frame in enumerate(frames()):
        a = sorted(torch_det.detect(frame), key=lambda d: -d.score)
        b = sorted(ov_det.detect(frame), key=lambda d: -d.score)
        # Boxes right at the confidence threshold may appear on one side only.
        a_sure = [d for d in a if d.score >= torch_det.cfg.conf + PARITY_SCORE]
        for d in a_sure:
            match = max(b, key=lambda o: d.box.iou(o.box), default=None)
            assert match is not None, (i, d)
            assert d.box.iou(match.box) >= PARITY_IOU, (i, d, match)
            assert match.label is d.label, (i, d, match)
            assert abs(match.score - d.score) <= PARITY_SCORE, (i, d, match)
            compared += 1
        assert len(b) <= len(a) + sum(1 for o in b if o.score < ov_det.cfg.conf + PARITY_SCORE), (i, a, b)
    assert compared >= 15   # the set has people in it


def test_exports_are_cached_by_weights_hash_and_size(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOT_CACHE", str(tmp_path))
    weights = models.locate("yolo-fall")
    first = models.exported(weights, "openvino", 160)
    assert first.is_dir() and (first / "model.xml").is_file() and (first / "metadata.yaml").is_file()
    assert first.parent.name == f"best-{models.weights_hash(weights)}-openvino-160-{models.EXPORT_TAG}"
    stamp = (first / "model.bin").stat().st_mtime_ns
    assert models.exported(weights, "openvino", 160) == first            # no second export
    assert (first / "model.bin").stat().st_mtime_ns == stamp
    assert models.cached_export(weights, "openvino", 192) is None          # another size: not there
    changed = tmp_path / "best.pt"
    changed.write_bytes(weights.read_bytes() + b"\0")                       # other weights: other key
    assert models.export_dir(changed, "openvino", 160) != first.parent
    assert not [p for p in first.parent.parent.iterdir() if p.name.startswith(".")]   # no half exports left


def test_openvino_unavailable_falls_back_to_torch_and_says_why(monkeypatch):
    def no_export(*_args, **_kwargs):
        raise models.ExportError("openvino is not installed")

    monkeypatch.setattr(models, "exported", no_export)
    det = Detector(DetectorConfig(imgsz=320, backend="openvino", second_look_imgsz=0))
    assert det.backend == "torch" and det.model_file == det.path
    assert "openvino is not installed" in det.fallback_reason and "torch" in det.fallback_reason
    assert det.detect(scenes.photo("bus.jpg"))   # and it works


def test_auto_is_openvino_on_the_cpu_and_torch_on_a_gpu():
    assert DetectorConfig(device="cpu").resolved_backend() == "openvino"
    assert DetectorConfig(device="cuda:0").resolved_backend() == "torch"
    with pytest.raises(ValueError, match="runs on the CPU"):
        DetectorConfig(device="cuda:0", backend="openvino").validate()


@pytest.mark.skipif(not os.environ.get("CAREBOT_TEST_ONNX"), reason="ONNX export needs ~1 min; set CAREBOT_TEST_ONNX=1")
def test_onnx_backend_runs_the_same_model(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOT_CACHE", str(tmp_path))
    det = Detector(DetectorConfig(imgsz=320, backend="onnx", second_look_imgsz=0))
    assert det.backend == "onnx" and det.model_file.suffix == ".onnx", det.fallback_reason
    assert len(det.detect(scenes.photo("bus.jpg"))) >= 3
