"""Generated simulation assets: person textures cut from real photographs.

The people in the simulated worlds are thin boxes textured with crops of the
photographs that ultralytics ships (``ultralytics/assets/bus.jpg``), so the
real YOLO model sees real people in the rendered camera image. The crops are
generated on first use into the cache folder; nothing binary is committed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carebot.paths import cache_dir, package_dir


class AssetError(RuntimeError):
    """An asset cannot be made; the message says which and how to fix it."""


@dataclass(frozen=True)
class PersonPhoto:
    """One person cut out of a photograph (crop box in source pixels)."""

    name: str
    source: str                                  # file in ultralytics/assets
    box: tuple[int, int, int, int]               # x0, y0, x1, y1 px (whole body, a small margin)
    height_m: float                              # how tall the person stands in the world

    @property
    def aspect(self) -> float:
        """Width over height of the crop (the cut-out keeps the photo's proportions)."""
        x0, y0, x1, y1 = self.box
        return (x1 - x0) / (y1 - y0)


# Whole-body persons of bus.jpg (810x1080), boxes found with the fall model
# (Normal 0.52-0.68) and widened by ~6 px so the whole silhouette is inside.
PHOTOS: dict[str, PersonPhoto] = {p.name: p for p in (
    PersonPhoto("man_jacket", "bus.jpg", (40, 377, 221, 912), 1.70),
    PersonPhoto("man_dark", "bus.jpg", (204, 385, 353, 878), 1.65),
    PersonPhoto("man_right", "bus.jpg", (651, 248, 810, 893), 1.75),
)}


def photo_dir() -> Path:
    root = package_dir("ultralytics")
    if root is None:
        raise AssetError("ultralytics is not installed: pip install ultralytics (or run `make setup`)")
    return root / "assets"


def texture_dir() -> Path:
    path = cache_dir() / "sim" / "textures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def person_texture(photo: PersonPhoto | str) -> Path:
    """PNG of the person cut-out (made once, then reused)."""
    from PIL import Image  # Pillow comes with ultralytics/matplotlib; imported only when needed

    if isinstance(photo, str):
        if photo not in PHOTOS:
            raise AssetError(f"unknown person photo {photo!r}; known: {', '.join(PHOTOS)}")
        photo = PHOTOS[photo]
    target = texture_dir() / f"person_{photo.name}.png"
    if target.exists():
        return target
    source = photo_dir() / photo.source
    if not source.exists():
        raise AssetError(f"photo {source} is missing from the ultralytics package")
    with Image.open(source) as image:
        crop = image.convert("RGB").crop(photo.box)
    partial = target.with_suffix(".partial.png")
    crop.save(partial)
    partial.replace(target)   # atomic: concurrent sims never read half a file
    return target
