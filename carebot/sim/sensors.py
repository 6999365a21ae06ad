"""Camera sensor of the simulation: offscreen rendering and its intrinsics.

MuJoCo renders through OSMesa (software, MUJOCO_GL=osmesa) here and EGL on a
GPU machine (MUJOCO_GL=egl). The intrinsics follow from MuJoCo's pinhole
camera: vertical field of view ``fovy`` over the image height, square pixels,
principal point at the image centre, no distortion.
"""
from __future__ import annotations

import os

import mujoco
import numpy as np

from carebot.sim.camera_model import Intrinsics, intrinsics  # noqa: F401  (re-exported)
from carebot.sim.robot import CameraSpec


def gl_backend() -> str:
    """The OpenGL backend MuJoCo will use (MUJOCO_GL; osmesa when unset, since CI has no display)."""
    return os.environ.get("MUJOCO_GL", "osmesa")


class CameraRenderer:
    """Renders one MuJoCo camera to RGB arrays. Create it in the thread that renders."""

    def __init__(self, model: mujoco.MjModel, camera_id: int, spec: CameraSpec):
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
