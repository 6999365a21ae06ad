"""The simulated camera shows people the real YOLO fall model finds: upright
people as Normal where the camera geometry puts them, a fallen person as Fall,
an empty view as nobody. MuJoCo renders in a child process (OSMesa and torch
must not share one: docs/sim.md, "Processes"; nor may MuJoCo and torch's triton be loaded
together); the model runs here, and nothing here imports MuJoCo."""
import os
import subprocess
import sys

import pytest

from carebot.sim.robot import read_description
from carebot.sim.camera_model import intrinsics

pytestmark = pytest.mark.slow
ROBOT = (5.6, 3.4, 180.0)               # lounge, facing west
CAMERA_X = 5.6 - 0.12 - 0.055 + 0.065   # base -> torso (-0.12) -> camera_link (+0.065 - 0.055 offset) in x


def _render(tmp_path, name, *args):
    out = tmp_path / f"{name}.png"
    subprocess.run([sys.executable, "-m", "carebot.sim.snapshot", "--robot", *map(str, ROBOT), *args,
                    "--out", str(out)], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "MUJOCO_GL": "osmesa"})
    return out


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("frames")
    return {
        "stand_3m": _render(tmp, "stand_3m", "--actor", "resident", "2.6", "4.0"),
        "stand_4m": _render(tmp, "stand_4m", "--actor", "resident", "1.6", "3.0"),
        "fallen_3m": _render(tmp, "fallen_3m", "--actor", "resident", "2.6", "4.0", "--fall", "resident",
                             "--seconds", "1.5"),
    }


@pytest.fixture(scope="module")
def model():
    from ultralytics import YOLO

    from carebot import models

    return YOLO(str(models.locate("yolo-fall")))


def _detect(model, path):
    result = model(str(path), imgsz=640, conf=0.25, verbose=False)[0]
    return [(result.names[int(b.cls)], float(b.conf), [float(v) for v in b.xyxy[0]]) for b in result.boxes]


def _expected_column(person_y: float) -> float:
    """Image column of a point at lateral offset person_y, for the robot facing west (-x)."""
    k = intrinsics(read_description().camera)
    forward = CAMERA_X - 2.6                     # metres along the view
    right = person_y - 3.4                       # facing west, +y (north) is to the right in the image
    return k.cx + k.fx * right / forward


@pytest.mark.parametrize("frame", ["stand_3m", "stand_4m"])
def test_upright_person_is_found_normal(frames, model, frame):
    found = _detect(model, frames[frame])
    normal = [d for d in found if d[0] == "Normal" and d[1] >= 0.5]
    assert normal, f"no confident Normal person in {frame}: {found}"
    if frame == "stand_3m":
        x1, _, x2, _ = normal[0][2]
        assert abs((x1 + x2) / 2 - _expected_column(4.0)) < 40   # where the pinhole model puts them


def test_fallen_person_is_found_fallen(frames, model):
    found = _detect(model, frames["fallen_3m"])
    assert any(d[0] == "Fall" and d[1] >= 0.5 for d in found), found


def test_no_person_in_an_empty_view(tmp_path, model):
    path = tmp_path / "empty.png"
    subprocess.run([sys.executable, "-m", "carebot.sim.snapshot", "--robot", "5.6", "3.4", "0",
                    "--out", str(path)], check=True, capture_output=True, timeout=120)
    assert _detect(model, path) == []
