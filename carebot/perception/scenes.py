"""Labelled test scenes made from real photographs (for tests, evaluation, benchmarks).

No fallen-person photo ships with any package here, so fallen people are made from
the real photos in ``ultralytics/assets`` (bus.jpg, zidane.jpg):
1. a person is cut out of the photo (a hand-picked box, refined to a silhouette
   with OpenCV's GrabCut);
2. for a fall the cut-out is rotated about its feet by 65..115 degrees and squashed
   vertically (a body on the floor is foreshortened seen from a robot's head height);
3. it is alpha-blended onto a floor: the real pavement of bus.jpg below its real
   building front, or a room made of a plain wall over a wood or tile floor.
Upright scenes paste the same cut-outs unrotated; empty scenes are the floors
alone. Frame sequences animate the same steps (stand, topple about the feet,
lie, get up; or walk; or bend briefly) with a given frame rate.

Everything is deterministic for a seed; nothing is written to disk.
"""
from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FRAME_W, FRAME_H = 640, 480   # px, a typical robot head camera
GRABCUT_SIDE_PX = 200         # GrabCut runs on a copy this large (speed), the mask is scaled up


class Truth(enum.Enum):
    """Ground truth of a labelled image."""

    NONE = "none"       # nobody in the image
    NORMAL = "normal"   # upright person(s) only
    FALLEN = "fallen"   # a person lying on the floor


@dataclass(frozen=True)
class PersonSource:
    """A person in a real photo: file in ultralytics/assets and box x1, y1, x2, y2 (px)."""

    photo: str
    box: tuple[int, int, int, int]
    full_body: bool


# Hand-picked from the two photos ultralytics ships.
SOURCES: tuple[PersonSource, ...] = (
    PersonSource("bus.jpg", (50, 395, 212, 905), True),     # man in a beige coat
    PersonSource("bus.jpg", (215, 400, 348, 870), True),    # man in a black jacket
    PersonSource("zidane.jpg", (740, 40, 1140, 720), False),  # upper body, standing
    PersonSource("zidane.jpg", (170, 190, 700, 720), False),  # upper body, leaning
)


def assets_dir() -> Path:
    """ultralytics' bundled real photos."""
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("ultralytics is not installed: its assets are the source photos")
    return Path(list(spec.submodule_search_locations)[0]) / "assets"


@functools.lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """A real photo from ultralytics/assets as BGR."""
    image = cv2.imread(str(assets_dir() / name))
    if image is None:
        raise FileNotFoundError(f"{assets_dir() / name} is missing or unreadable")
    image.setflags(write=False)
    return image


@functools.lru_cache(maxsize=None)
def cutout(index: int) -> tuple[np.ndarray, np.ndarray]:
    """(BGR crop, alpha 0..1 float32) of SOURCES[index], silhouette by GrabCut."""
    src = SOURCES[index]
    x1, y1, x2, y2 = src.box
    crop = np.ascontiguousarray(photo(src.photo)[y1:y2, x1:x2])
    # GrabCut on a reduced copy (seconds -> ~0.1 s), the mask scaled back up.
    scale = min(1.0, GRABCUT_SIDE_PX / max(crop.shape[:2]))
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    mask = np.zeros(small.shape[:2], np.uint8)
    margin = 2
    rect = (margin, margin, small.shape[1] - 2 * margin, small.shape[0] - 2 * margin)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(small, mask, rect, bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    alpha = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 1.0, 0.0).astype(np.float32)
    alpha = cv2.resize(alpha, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.GaussianBlur(alpha, (5, 5), 0)
    crop.setflags(write=False)
    alpha.setflags(write=False)
    return crop, alpha


class Floor(enum.Enum):
    PAVEMENT = "pavement"   # real: bus.jpg's building front over its pavement
    WOOD = "wood"           # a room: plain wall over wood planks
    TILES = "tiles"         # a room: plain wall over light tiles


def background(floor: Floor, seed: int = 0, size: tuple[int, int] = (FRAME_W, FRAME_H)) -> np.ndarray:
    """An empty scene (nobody in it), horizon at ~40% of the height."""
    w, h = size
    rng = np.random.default_rng(seed)
    horizon = int(h * (0.35 + 0.1 * rng.random()))
    if floor is Floor.PAVEMENT:
        bus = photo("bus.jpg")
        wall = cv2.resize(bus[0:200, 0:810], (w, horizon))              # windows and facade
        ground = cv2.resize(bus[905:1080, 0:810], (w, h - horizon))     # pavement, nobody on it
        image = np.vstack([wall, ground])
    else:
        image = np.empty((h, w, 3), np.uint8)
        wall_colour = np.array([200, 210, 220]) + rng.integers(-30, 30, 3)
        image[:horizon] = np.clip(wall_colour, 0, 255)
        if floor is Floor.WOOD:
            base = np.array([60, 105, 150]) + rng.integers(-20, 20, 3)
            plank = max(8, int(h * 0.04))
            for y in range(horizon, h, plank):
                image[y:y + plank] = np.clip(base + rng.integers(-18, 18, 3), 0, 255)
                image[y] = np.clip(base - 40, 0, 255)
        else:
            base = np.array([185, 190, 195]) + rng.integers(-25, 25, 3)
            image[horizon:] = np.clip(base, 0, 255)
            tile = max(16, int(w * 0.08))
            image[horizon:, ::tile] = np.clip(base - 60, 0, 255)
            image[horizon::tile // 2, :] = np.clip(base - 60, 0, 255)
        noise = rng.normal(0, 4, (h, w, 1))
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
    return image


def _rotate_about_feet(crop: np.ndarray, alpha: np.ndarray, angle_deg: float, squash: float):
    """Rotate crop+alpha about the bottom-centre (the feet); returns (crop, alpha, feet_xy in new image)."""
    h, w = crop.shape[:2]
    feet = (w / 2.0, h - 1.0)
    diag = int(math.ceil(math.hypot(w, h)))
    canvas = 2 * diag + 2
    # Put the feet at the centre of a square canvas big enough for any angle.
    shift = np.array([[1, 0, canvas / 2 - feet[0]], [0, 1, canvas / 2 - feet[1]]], np.float64)
    rot = cv2.getRotationMatrix2D((canvas / 2, canvas / 2), angle_deg, 1.0)
    m = (np.vstack([rot, [0, 0, 1]]) @ np.vstack([shift, [0, 0, 1]]))[:2]
    big = cv2.warpAffine(crop, m, (canvas, canvas), flags=cv2.INTER_LINEAR)
    big_a = cv2.warpAffine(alpha, m, (canvas, canvas), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(big_a > 0.05)
    if len(xs) == 0:
        return crop, alpha, feet
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    crop_r, alpha_r = big[y0:y1, x0:x1], big_a[y0:y1, x0:x1]
    feet_r = (canvas / 2 - x0, canvas / 2 - y0)
    if squash != 1.0:
        new_h = max(1, int(round(crop_r.shape[0] * squash)))
        crop_r = cv2.resize(crop_r, (crop_r.shape[1], new_h))
        alpha_r = cv2.resize(alpha_r, (crop_r.shape[1], new_h))
        feet_r = (feet_r[0], feet_r[1] * squash)
    return crop_r, alpha_r, feet_r


def paste_person(scene: np.ndarray, source: int, feet_xy: tuple[float, float], height_px: float,
                 angle_deg: float = 0.0, squash: float = 1.0, flip: bool = False,
                 brightness: float = 1.0) -> tuple[int, int, int, int] | None:
    """Blend SOURCES[source] into scene (in place) with its feet at feet_xy.

    height_px is the upright height; angle_deg rotates about the feet (+ = counter-clockwise,
    90 = lying with the head to the right... of a mirrored person when flip). Returns the
    visible box x1, y1, x2, y2 in the scene, or None if nothing is visible.
    """
    crop, alpha = cutout(source)
    scale = height_px / crop.shape[0]
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_AREA)
    if flip:
        crop, alpha = crop[:, ::-1], alpha[:, ::-1]
    if brightness != 1.0:
        crop = np.clip(crop.astype(np.float32) * brightness, 0, 255).astype(np.uint8)
    if angle_deg or squash != 1.0:
        crop, alpha, feet = _rotate_about_feet(np.ascontiguousarray(crop), np.ascontiguousarray(alpha),
                                               angle_deg, squash)
    else:
        feet = (crop.shape[1] / 2.0, crop.shape[0] - 1.0)
    ox, oy = int(round(feet_xy[0] - feet[0])), int(round(feet_xy[1] - feet[1]))
    h, w = crop.shape[:2]
    sh, sw = scene.shape[:2]
    x0, y0, x1, y1 = max(0, ox), max(0, oy), min(sw, ox + w), min(sh, oy + h)
    if x0 >= x1 or y0 >= y1:
        return None
    a = alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox, None]
    region = scene[y0:y1, x0:x1].astype(np.float32)
    scene[y0:y1, x0:x1] = (a * crop[y0 - oy:y1 - oy, x0 - ox:x1 - ox] + (1 - a) * region).astype(np.uint8)
    ys, xs = np.nonzero(a[..., 0] > 0.3)
    if len(xs) == 0:
        return None
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1)


@dataclass(frozen=True)
class Scene:
    """One labelled image."""

    name: str
    image: np.ndarray
    truth: Truth
    boxes: tuple[tuple[int, int, int, int], ...] = ()


def labelled_set(count_per_truth: int = 12, seed: int = 0) -> list[Scene]:
    """Images with known truth: fallen, upright and empty scenes, plus the two original photos.

    Each fallen/upright image draws a source person, floor, position, size, angle
    (65..115 deg either way), foreshortening and brightness from the seeded RNG.
    """
    rng = np.random.default_rng(seed)
    scenes: list[Scene] = [
        Scene("bus.jpg (original)", photo("bus.jpg"), Truth.NORMAL),
        Scene("zidane.jpg (original)", photo("zidane.jpg"), Truth.NORMAL),
    ]
    floors = list(Floor)
    full_body = [i for i, s in enumerate(SOURCES) if s.full_body]
    for i in range(count_per_truth):
        floor = floors[i % len(floors)]
        src = int(rng.choice(full_body))  # a lying upper body alone would not look like a person down
        # Fallen: the feet on the floor in the lower half, the body across the view.
        img = background(floor, seed * 1000 + i)
        angle = float(rng.uniform(65, 115)) * (1 if rng.random() < 0.5 else -1)
        height = float(rng.uniform(0.45, 0.75)) * FRAME_H
        feet = (float(rng.uniform(0.3, 0.7)) * FRAME_W, float(rng.uniform(0.7, 0.92)) * FRAME_H)
        box = paste_person(img, src, feet, height, angle, squash=float(rng.uniform(0.6, 1.0)),
                           flip=bool(rng.random() < 0.5), brightness=float(rng.uniform(0.75, 1.2)))
        scenes.append(Scene(f"fallen-{i} src{src} {floor.value} {angle:.0f}deg", img, Truth.FALLEN,
                            (box,) if box else ()))
        # Upright: the same kinds of draws, unrotated.
        img = background(floor, seed * 1000 + 500 + i)
        src = int(rng.integers(len(SOURCES)))
        height = float(rng.uniform(0.45, 0.8)) * FRAME_H
        feet = (float(rng.uniform(0.25, 0.75)) * FRAME_W, float(rng.uniform(0.85, 0.97)) * FRAME_H)
        box = paste_person(img, src, feet, height, flip=bool(rng.random() < 0.5),
                           brightness=float(rng.uniform(0.75, 1.2)))
        scenes.append(Scene(f"upright-{i} src{src} {floor.value}", img, Truth.NORMAL, (box,) if box else ()))
        # Empty.
        scenes.append(Scene(f"empty-{i} {floor.value}", background(floor, seed * 1000 + 900 + i), Truth.NONE))
    return scenes


class Motion(enum.Enum):
    FALL = "fall"       # stand, topple about the feet, lie, get up
    WALK = "walk"       # walk across the view (never falls)
    BEND = "bend"       # bend over briefly (never falls)


@dataclass(frozen=True)
class Sequence:
    """Frames of one animated person with its truth timeline (s from the first frame)."""

    name: str
    motion: Motion
    frames: tuple[tuple[float, np.ndarray], ...]   # (t s, BGR)
    fall_at: float | None = None     # when the body reached the floor
    up_at: float | None = None       # when it stood up again


def sequence(motion: Motion, fps: float = 5.0, source: int = 0, floor: Floor = Floor.WOOD,
             seed: int = 0, lie_s: float = 6.0, size: tuple[int, int] | None = None) -> Sequence:
    """An animated person. FALL: stand 2 s, fall in 0.6 s, lie lie_s, rise in 1 s, stand 3 s.

    size (width, height) scales the frames down from FRAME_W x FRAME_H (lighter messages)."""
    rng = np.random.default_rng(seed)
    bg = background(floor, seed)
    height = float(rng.uniform(0.5, 0.7)) * FRAME_H
    feet = (float(rng.uniform(0.35, 0.65)) * FRAME_W, float(rng.uniform(0.82, 0.92)) * FRAME_H)
    direction = 1 if rng.random() < 0.5 else -1
    squash = float(rng.uniform(0.65, 0.9))
    dt = 1.0 / fps
    frames = []
    fall_at = up_at = None
    if motion is Motion.FALL:
        t_fall, fall_dur, rise_dur = 2.0, 0.6, 1.0
        fall_at = t_fall + fall_dur
        up_at = fall_at + lie_s + rise_dur
        total = up_at + 3.0
        for k in range(int(total * fps)):
            t = k * dt
            if t < t_fall:
                f = 0.0
            elif t < fall_at:
                f = (t - t_fall) / fall_dur
            elif t < fall_at + lie_s:
                f = 1.0
            elif t < up_at:
                f = 1.0 - (t - fall_at - lie_s) / rise_dur
            else:
                f = 0.0
            img = bg.copy()
            paste_person(img, source, feet, height, angle_deg=direction * 88.0 * f,
                         squash=1.0 - (1.0 - squash) * f)
            frames.append((t, img))
    elif motion is Motion.WALK:
        total = 8.0
        speed = direction * 0.09 * FRAME_W  # px/s across the view
        start_x = feet[0] - speed * total / 2
        for k in range(int(total * fps)):
            t = k * dt
            img = bg.copy()
            sway = 0.03 * height * math.sin(2 * math.pi * 1.5 * t)  # a step's bob
            paste_person(img, source, (start_x + speed * t, feet[1] + sway * 0.1), height + sway,
                         flip=direction < 0)
            frames.append((t, img))
    else:  # BEND: lean 40 degrees for 1.5 s, twice
        total = 8.0
        for k in range(int(total * fps)):
            t = k * dt
            phase = t % 4.0
            lean = 40.0 * max(0.0, math.sin(math.pi * (phase - 1.0) / 1.5)) if 1.0 <= phase <= 2.5 else 0.0
            img = bg.copy()
            paste_person(img, source, feet, height, angle_deg=direction * lean)
            frames.append((t, img))
    if size is not None and size != (FRAME_W, FRAME_H):
        frames = [(t, cv2.resize(f, size, interpolation=cv2.INTER_AREA)) for t, f in frames]
    return Sequence(f"{motion.value} src{source} {floor.value} seed{seed}", motion, tuple(frames), fall_at, up_at)
