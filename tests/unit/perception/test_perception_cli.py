"""`carebot perceive` as a user runs it: a real process, real model, JSON lines out."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from carebot.perception import scenes

pytestmark = pytest.mark.slow


def perceive(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "carebot.cli", "perceive", *args],
                          capture_output=True, text=True, timeout=300)


def test_perceive_prints_one_json_object_per_image(tmp_path: Path):
    bus = scenes.assets_dir() / "bus.jpg"
    empty = tmp_path / "empty_room.png"
    cv2.imwrite(str(empty), scenes.background(scenes.Floor.WOOD, seed=1))
    fallen = tmp_path / "fallen.png"  # a person from bus.jpg lying on a floor (scenes.py)
    image = scenes.background(scenes.Floor.WOOD, seed=2)
    scenes.paste_person(image, 1, (330, 440), 300, angle_deg=88, squash=0.8)
    cv2.imwrite(str(fallen), image)
    result = perceive("--imgsz", "640", str(bus), str(empty), str(fallen), str(tmp_path / "missing.jpg"))
    assert result.returncode == 1, result.stderr  # the missing image
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(bus), str(empty), str(fallen), str(tmp_path / "missing.jpg")]
    people = lines[0]["persons"]
    assert len(people) >= 3 and {p["state"] for p in people} == {"normal"}
    for p in people:
        x1, y1, x2, y2 = p["bbox"]
        assert 0 <= x1 < x2 <= 810 and 0 <= y1 < y2 <= 1080 and 0 < p["score"] <= 1
    assert lines[0]["latency_ms"] > 0
    assert lines[1]["persons"] == []
    assert [p["state"] for p in lines[2]["persons"]] == ["fallen"]
    assert "error" in lines[3]


def test_perceive_with_a_missing_model_says_why():
    result = perceive("--model", "/nonexistent/model.pt", str(scenes.assets_dir() / "bus.jpg"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_perceive_backend_choice_gives_the_same_people():
    bus = str(scenes.assets_dir() / "bus.jpg")
    torch_run = perceive("--backend", "torch", bus)
    default_run = perceive(bus)   # auto: OpenVINO on this CPU
    assert torch_run.returncode == 0 and default_run.returncode == 0, (torch_run.stderr, default_run.stderr)
    a = json.loads(torch_run.stdout)["persons"]
    b = json.loads(default_run.stdout)["persons"]
    assert [p["state"] for p in a] == [p["state"] for p in b]
    for p, q in zip(a, b):
        assert max(abs(x - y) for x, y in zip(p["bbox"], q["bbox"])) < 2.0
    assert "fallback" not in default_run.stderr   # openvino is installed: no fallback
    assert perceive("--backend", "tensorrt", bus).returncode == 2   # argparse refuses it
