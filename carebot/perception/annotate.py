"""Debug drawing: boxes, track ids and fall state on a copy of the frame (no ROS)."""
from __future__ import annotations

import cv2
import numpy as np

from carebot.perception.detection import PersonState
from carebot.perception.fall_logic import PersonReport

_COLOURS = {PersonState.NORMAL: (60, 200, 60), PersonState.FALLEN: (30, 30, 230)}  # BGR


def annotate(bgr: np.ndarray, reports: list[PersonReport]) -> np.ndarray:
    """A copy of bgr with each person's box, id, state and scores drawn on it."""
    out = bgr.copy()
    for rep in reports:
        b = rep.detection.box
        colour = _COLOURS[rep.state]
        p1, p2 = (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2))
        cv2.rectangle(out, p1, p2, colour, 2)
        tid = rep.detection.track_id
        text = (f"{'#' + str(tid) if tid is not None else '?'} {rep.state.label} "
                f"{rep.detection.score:.2f} fall {rep.fall_score:.2f}")
        if rep.seconds_down > 0:
            text += f" {rep.seconds_down:.1f}s"
        cv2.putText(out, text, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                    cv2.LINE_AA)
    return out
