"""Dark frames, equalised before the detector looks at them.

A care home at night is dim: the camera's frames are dark, noisy and flat, and the fall
model then finds fewer people and takes parts of them for other things (docs/perception.md:
on the dim images of the labelled sets an upright person's legs came out as a weak Fall box).
Local contrast equalisation (CLAHE) of the lightness channel restores the contrast a
camera's auto-exposure would; frames at ordinary light are passed on untouched, so daytime
detection does not change. Pure module (OpenCV and numpy only).
"""
from __future__ import annotations

import cv2
import numpy as np

CLAHE_CLIP = 2.0        # OpenCV's usual clip limit: enough contrast, noise not blown up
CLAHE_TILES = (8, 8)    # tiles across and down the frame


def mean_luma(bgr: np.ndarray) -> float:
    """Mean lightness of a BGR frame, 0..255."""
    return float(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).mean())


def equalise_if_dark(bgr: np.ndarray, dark_luma: float) -> np.ndarray:
    """The frame with its lightness equalised (CLAHE) when its mean luma is under dark_luma,
    else the frame itself (the same array). dark_luma 0 turns it off."""
    if dark_luma <= 0 or bgr.ndim != 3 or bgr.shape[2] != 3 or mean_luma(bgr) >= dark_luma:
        return bgr
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=CLAHE_TILES).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)
