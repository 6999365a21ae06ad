"""Plain data shared by the detector, the fall logic, the node and the CLI (no ROS, no torch)."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class DetectionClass(enum.Enum):
    """What the detector's class says about a person box."""

    PERSON = "person"   # an upright/ordinary person ("Normal" in the fall model, "person" in COCO)
    FALL = "fall"       # the model's own fallen-person class


class PersonState(enum.IntEnum):
    """Decided state of a person; same values as carebot_interfaces/Person STATE_*."""

    NORMAL = 0
    FALLEN = 1

    @property
    def label(self) -> str:
        return "fallen" if self is PersonState.FALLEN else "normal"


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in image pixels: top-left (x1, y1), bottom-right (x2, y2)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def aspect(self) -> float:
        """width / height (inf for a flat box): > 1 lying across the view, < 1 upright."""
        return self.width / self.height if self.height > 0 else float("inf")

    @property
    def bottom_centre(self) -> tuple[float, float]:
        """Where the feet (or the nearest edge of a lying body) touch the floor, px."""
        return ((self.x1 + self.x2) / 2.0, self.y2)

    def iou(self, other: "Box") -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0

    def overlap(self, other: "Box") -> float:
        """Intersection over the smaller area: 1 when one box lies inside the other."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        smaller = min(self.width * self.height, other.width * other.height)
        return ix * iy / smaller if smaller > 0 else 0.0

    def contains(self, point: tuple[float, float], margin: float = 0.0) -> bool:
        """Whether point (x, y) lies in the box grown by margin x its width/height on each side."""
        mx, my = margin * self.width, margin * self.height
        return self.x1 - mx <= point[0] <= self.x2 + mx and self.y1 - my <= point[1] <= self.y2 + my

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]


@dataclass(frozen=True)
class Detection:
    """One person box from the detector."""

    box: Box
    score: float                 # detector confidence of the winning class, 0..1
    label: DetectionClass
    track_id: int | None = None  # None: not (yet) confirmed by the tracker
    floor: tuple[float, float] | None = None  # where the feet are on the map, m (None: pose unknown)
    resting_on: str | None = None  # bed/sofa/armchair the box's bottom lies on (furniture.py), None: floor/unknown
    fall_box: Box | None = None    # the other image size's box whose Fall score this one carries (detector.merge_looks)
    too_high: bool = False          # the box's top is higher than anyone lying on the floor reaches (geometry.too_high_to_lie)
    near_floor: bool = False        # the box's top is under 0.6 m over its feet: someone down (geometry.near_floor)
