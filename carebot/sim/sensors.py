"""Camera sensor of the simulation: offscreen rendering and its intrinsics.

MuJoCo renders through OSMesa (software, MUJOCO_GL=osmesa) here and EGL on a
GPU machine (MUJOCO_GL=egl). The intrinsics follow from MuJoCo's pinhole
camera: vertical field of view ``fovy`` over the image height, square pixels,
principal point at the image centre, no distortion.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import mujoco
import numpy as np

from carebot.sim.robot import CameraSpec


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @property
    def k(self) -> list[float]:
        """Row-major 3x3 camera matrix (sensor_msgs/CameraInfo.k)."""
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]

    @property
    def p(self) -> list[float]:
        """Row-major 3x4 projection matrix (monocular: no baseline)."""
        return [self.fx, 0.0, self.cx, 0.0, 0.0, self.fy, self.cy, 0.0, 0.0, 0.0, 1.0, 0.0]


def intrinsics(spec: CameraSpec) -> Intrinsics:
    """Pinhole intrinsics of a MuJoCo camera rendered at spec.width x spec.height."""
    fy = (spec.height / 2) / math.tan(math.radians(spec.fovy_deg) / 2)
    return Intrinsics(spec.width, spec.height, fy, fy, (spec.width - 1) / 2, (spec.height - 1) / 2)


def gl_backend() -> str:
    """The OpenGL backend MuJoCo will use (MUJOCO_GL; osmesa when unset, since CI has no display)."""
    return os.environ.get("MUJOCO_GL", "osmesa")


class CameraRenderer:
    """Renders one MuJoCo camera to RGB arrays. Create it in the thread that renders."""

    def __init__(self, model: mujoco.MjModel, camera_id: int, spec: CameraSpec):
        os.environ.setdefault("MUJOCO_GL", "osmesa")
        os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
        if spec.width > model.vis.global_.offwidth or spec.height > model.vis.global_.offheight:
            raise ValueError(f"camera {spec.width}x{spec.height} exceeds the offscreen buffer "
                             f"{model.vis.global_.offwidth}x{model.vis.global_.offheight}")
        self._renderer = mujoco.Renderer(model, spec.height, spec.width)
        self._camera_id = camera_id
        self._model = model
        # Near clip: MuJoCo's znear is relative to the model extent.
        model.vis.map.znear = max(1e-4, spec.near / max(model.stat.extent, 1e-6))

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """An HxWx3 uint8 RGB image of the current state."""
        self._renderer.update_scene(data, camera=self._camera_id)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "CameraRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
