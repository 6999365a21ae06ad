"""Varied labelled images and frame sequences, per condition, with a held-out part.

Built on scenes.py (people cut out of the real photos that ultralytics ships) but
with a camera model: every image is "taken" by a pinhole camera at the robot's
head height (1.3 m above the floor, 58..75 degrees wide, looking level or up to
14 degrees down), so people, furniture and floor textures have consistent
perspective sizes. The furniture is the care home's own (models/worlds/care_home.yaml:
bed 1.0 x 2.0 x 0.6 m, sofa 2.2 x 0.8 x 0.8 m, armchair, coffee table, cabinet).

Conditions (truth in brackets):
* ``across``  [fallen]  lying across the view (the cut-out rotated about the feet);
* ``along``   [fallen]  lying along the view axis, head away or towards the camera
  (the cut-out laid flat on the floor plane and projected: strongly foreshortened);
* ``hidden``  [fallen]  lying, 30..60 % of the body hidden by furniture in front
  or by the image border;
* ``dim``     [fallen]  lying in dim light (a quarter to a third of the light, sensor noise, blur);
* ``upright`` [normal]  standing, near or far, some in dim light, some cut by the border;
* ``sitting`` [normal]  on a chair (thighs foreshortened) or behind a table (upper bodies);
* ``bending`` [normal]  bent at the hips 45..100 degrees, legs upright;
* ``bed_sofa``[normal]  lying on a bed or a sofa (resting, not a fall);
* ``empty``   [none]    the room alone.

Two disjoint parts, made by the same code with different inputs:
* ``dev``: seeds from 1000, floors wood / tiles / bus.jpg's real pavement, the two
  people of bus.jpg (beige coat, black jacket). Defaults were tuned on this part.
* ``heldout``: seeds from 7000, floors carpet / linoleum / dark parquet never used in
  dev, and a third person (the man at the right of bus.jpg) that dev never shows,
  beside the two others. Not looked at while tuning (docs/perception.md says how it
  was used).

Deterministic for (part, seed); nothing is written to disk. Each image carries its
View (camera) so that a decision that uses geometry can use the same camera.
"""
from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from carebot.perception.geometry import CameraPose, Intrinsics
from carebot.perception.scenes import FRAME_H, FRAME_W, PersonSource, SOURCES, Truth, photo, _rotate_about_feet

CAMERA_HEIGHT_M = 1.30      # camera above the floor (config camera_z 1.22 over base_link 0.08)
PERSON_HEIGHT_M = 1.72      # a standing adult
HIP_SHARE = 0.50            # hips at this share of the cut-out's height from the top

# Furniture of the care home (models/worlds/care_home.yaml), metres: (depth, width, height)
BED = (1.0, 2.0, 0.6)
SOFA = (0.8, 2.2, 0.8)
SOFA_SEAT_M = 0.45
ARMCHAIR = (0.8, 0.8, 0.9)
COFFEE_TABLE = (0.6, 1.0, 0.45)
CABINET = (0.4, 1.6, 0.8)         # tv_cabinet
DINING_TABLE = (1.0, 2.0, 0.75)


# A person only the held-out part shows (cut-out box picked by hand in bus.jpg).
HELDOUT_SOURCES: tuple[PersonSource, ...] = (
    PersonSource("bus.jpg", (660, 380, 810, 890), True),   # man walking at the right edge, dark clothes
)


@functools.lru_cache(maxsize=None)
def _cutout_of(source: PersonSource) -> tuple[np.ndarray, np.ndarray]:
    """(BGR crop, alpha) of any PersonSource, GrabCut silhouette (as scenes.cutout)."""
    from carebot.perception import scenes

    if source in SOURCES:
        return scenes.cutout(SOURCES.index(source))
    x1, y1, x2, y2 = source.box
    crop = np.ascontiguousarray(photo(source.photo)[y1:y2, x1:x2])
    scale = min(1.0, scenes.GRABCUT_SIDE_PX / max(crop.shape[:2]))
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    mask = np.zeros(small.shape[:2], np.uint8)
    rect = (4, 2, small.shape[1] - 4, small.shape[0] - 4)   # he touches the right border
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(small, mask, rect, bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    alpha = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 1.0, 0.0).astype(np.float32)
    alpha = cv2.GaussianBlur(cv2.resize(alpha, (crop.shape[1], crop.shape[0])), (5, 5), 0)
    crop.setflags(write=False)
    alpha.setflags(write=False)
    return crop, alpha


class Condition(enum.Enum):
    ACROSS = "across"
    ALONG = "along"
    HIDDEN = "hidden"
    DIM = "dim"
    UPRIGHT = "upright"
    SITTING = "sitting"
    BENDING = "bending"
    BED_SOFA = "bed_sofa"
    EMPTY = "empty"

    @property
    def truth(self) -> Truth:
        if self in (Condition.ACROSS, Condition.ALONG, Condition.HIDDEN, Condition.DIM):
            return Truth.FALLEN
        return Truth.NONE if self is Condition.EMPTY else Truth.NORMAL


FALL_CONDITIONS = (Condition.ACROSS, Condition.ALONG, Condition.HIDDEN, Condition.DIM)


class Part(enum.Enum):
    DEV = "dev"
    HELDOUT = "heldout"


@dataclass(frozen=True)
class FurnitureBox:
    """An axis-aligned box in the camera's floor frame: x forward (depth), y left, z up, m."""

    name: str
    x0: float
    x1: float
    y0: float
    y1: float
    height: float

    # The fields of carebot.world.Box, so furniture.resting_on takes either.
    cx = property(lambda self: (self.x0 + self.x1) / 2)
    cy = property(lambda self: (self.y0 + self.y1) / 2)
    sx = property(lambda self: self.x1 - self.x0)
    sy = property(lambda self: self.y1 - self.y0)
    sz = property(lambda self: self.height)
    yaw = property(lambda self: 0.0)


@dataclass(frozen=True)
class View:
    """The pinhole camera an image was made with (level or pitched down), floor at z = 0."""

    k: Intrinsics
    pose: CameraPose   # x = y = 0, z = camera height, yaw 0

    def project(self, x: float, y: float, z: float) -> tuple[float, float] | None:
        """Pixel (u, v) of a point in the floor frame; None behind the camera."""
        body = self.pose.rotation().T @ np.array([x - self.pose.x, y - self.pose.y, z - self.pose.z])
        if body[0] <= 0.05:
            return None
        return (self.k.cx - self.k.fx * body[1] / body[0], self.k.cy - self.k.fy * body[2] / body[0])

    def floor_grid(self, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per pixel: floor x, y where the ray meets the floor, and a mask of rays that do."""
        us, vs = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        body = np.stack([np.ones_like(us), -(us - self.k.cx) / self.k.fx, -(vs - self.k.cy) / self.k.fy], -1)
        d = body @ self.pose.rotation().T
        down = d[..., 2] < -1e-4
        t = np.where(down, -self.pose.z / np.where(down, d[..., 2], -1.0), 0.0)
        return d[..., 0] * t, d[..., 1] * t, down & (t * np.hypot(d[..., 0], d[..., 1]) < 40.0)


@dataclass(frozen=True)
class LabelledImage:
    name: str
    condition: Condition
    image: np.ndarray
    view: View
    boxes: tuple[tuple[int, int, int, int], ...] = ()   # visible person boxes (truth)
    furniture: tuple[FurnitureBox, ...] = ()           # every piece of furniture in the image

    @property
    def truth(self) -> Truth:
        return self.condition.truth


# ----- backgrounds ---------------------------------------------------------------------------------

class FloorKind(enum.Enum):
    WOOD = "wood"
    TILES = "tiles"
    PAVEMENT = "pavement"     # bus.jpg's real pavement, mapped on the floor plane
    CARPET = "carpet"         # held out
    LINOLEUM = "linoleum"     # held out
    PARQUET = "parquet"       # held out (dark herringbone-ish blocks)


DEV_FLOORS = (FloorKind.WOOD, FloorKind.TILES, FloorKind.PAVEMENT)
HELDOUT_FLOORS = (FloorKind.CARPET, FloorKind.LINOLEUM, FloorKind.PARQUET)


def make_view(rng: np.random.Generator) -> View:
    hfov = math.radians(rng.uniform(58, 75))
    k = Intrinsics.from_fov(FRAME_W, FRAME_H, hfov)
    return View(k, CameraPose(0.0, 0.0, CAMERA_HEIGHT_M, 0.0, math.radians(rng.uniform(0.0, 14.0))))


def room(view: View, floor: FloorKind, rng: np.random.Generator, wall_m: float) -> np.ndarray:
    """Floor (texture in floor coordinates, so it has perspective) up to a back wall at wall_m."""
    w, h = FRAME_W, FRAME_H
    fx, fy, on_floor = view.floor_grid(w, h)
    floor_px = on_floor & (fx < wall_m)
    image = np.empty((h, w, 3), np.float32)
    wall = np.array([200, 205, 215], np.float32) + rng.integers(-45, 30, 3)
    image[:] = wall
    # skirting board and a door frame on the wall, for some texture
    skirting = view.project(wall_m, 0.0, 0.12)
    if skirting is not None:
        image[max(0, int(skirting[1])):] = wall * 0.55
    door_x = rng.uniform(-2.5, 2.5)
    tl, br = view.project(wall_m, door_x + 0.45, 2.05), view.project(wall_m, door_x - 0.45, 0.0)
    if tl and br:
        cv2.rectangle(image, (int(tl[0]), int(tl[1])), (int(br[0]), int(br[1])),
                      tuple(float(c) for c in wall * 0.7), -1)
    fxm, fym = fx[floor_px], fy[floor_px]
    if floor is FloorKind.WOOD:
        base = np.array([60, 105, 150], np.float32) + rng.integers(-20, 20, 3)
        plank = np.floor(fym / 0.16)
        shade = (np.sin(plank * 12.9898) * 43758.5453) % 1.0 * 36 - 18
        seam = (np.abs(fym / 0.16 - np.round(fym / 0.16)) < 0.04)
        colour = base + shade[:, None] - 40 * seam[:, None]
    elif floor is FloorKind.TILES:
        base = np.array([185, 190, 195], np.float32) + rng.integers(-25, 25, 3)
        grout = (np.abs(fxm / 0.3 - np.round(fxm / 0.3)) < 0.04) | (np.abs(fym / 0.3 - np.round(fym / 0.3)) < 0.04)
        colour = base - 60 * grout[:, None]
    elif floor is FloorKind.PAVEMENT:
        tex = photo("bus.jpg")[905:1080, 0:810].astype(np.float32)
        ty = ((fxm * 90) % tex.shape[0]).astype(int)
        tx = ((fym * 90) % tex.shape[1]).astype(int)
        colour = tex[ty, tx]
    elif floor is FloorKind.CARPET:
        base = np.array([70, 80, 120], np.float32) + rng.integers(-25, 25, 3)
        colour = base + rng.normal(0, 10, (len(fxm), 1))
        colour += 15 * (np.sin(fxm * 9) * np.sin(fym * 9) > 0.6)[:, None]
    elif floor is FloorKind.LINOLEUM:
        base = np.array([150, 175, 170], np.float32) + rng.integers(-25, 25, 3)
        colour = base + rng.normal(0, 14, (len(fxm), 3)) * (rng.random((len(fxm), 1)) < 0.15)
    else:  # PARQUET
        base = np.array([40, 70, 110], np.float32) + rng.integers(-15, 15, 3)
        block = (np.floor(fxm / 0.25) + np.floor(fym / 0.25)) % 2
        grain = np.where(block > 0, np.sin(fxm * 60), np.sin(fym * 60))
        colour = base + 12 * grain[:, None] + 14 * block[:, None]
    image[floor_px] = colour
    image += rng.normal(0, 3, (h, w, 1))
    return np.clip(image, 0, 255).astype(np.uint8)


def dim(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dim room: a quarter to a third of the light, warm tint, sensor noise, a little blur."""
    gain = rng.uniform(0.22, 0.35)
    out = image.astype(np.float32) * gain * np.array([0.85, 0.95, 1.1], np.float32)
    out += rng.normal(0, rng.uniform(3, 7), out.shape)
    out = cv2.GaussianBlur(np.clip(out, 0, 255).astype(np.uint8), (3, 3), 0)
    return out


# ----- drawing ---------------------------------------------------------------------------------

def _blend(scene: np.ndarray, crop: np.ndarray, alpha: np.ndarray, ox: int, oy: int) -> np.ndarray:
    """Alpha-blend crop at (ox, oy); returns the person's full-frame mask (alpha > 0.3)."""
    h, w = crop.shape[:2]
    sh, sw = scene.shape[:2]
    mask = np.zeros((sh, sw), bool)
    x0, y0, x1, y1 = max(0, ox), max(0, oy), min(sw, ox + w), min(sh, oy + h)
    if x0 >= x1 or y0 >= y1:
        return mask
    a = alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox, None]
    region = scene[y0:y1, x0:x1].astype(np.float32)
    scene[y0:y1, x0:x1] = (a * crop[y0 - oy:y1 - oy, x0 - ox:x1 - ox] + (1 - a) * region).astype(np.uint8)
    mask[y0:y1, x0:x1] = a[..., 0] > 0.3
    return mask


def _scaled(source: PersonSource, height_px: float, flip: bool, brightness: float):
    crop, alpha = _cutout_of(source)
    scale = max(height_px, 8.0) / crop.shape[0]
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_AREA)
    if flip:
        crop, alpha = crop[:, ::-1], alpha[:, ::-1]
    if brightness != 1.0:
        crop = np.clip(crop.astype(np.float32) * brightness, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(crop), np.ascontiguousarray(alpha)


def _height_px(view: View, x: float, y: float, z0: float = 0.0, tall: float = PERSON_HEIGHT_M) -> float:
    feet, head = view.project(x, y, z0), view.project(x, y, z0 + tall)
    return feet[1] - head[1]


def draw_standing(scene, view, source, x, y, flip=False, brightness=1.0, z0=0.0) -> np.ndarray:
    feet = view.project(x, y, z0)
    crop, alpha = _scaled(source, _height_px(view, x, y, z0), flip, brightness)
    return _blend(scene, crop, alpha, int(round(feet[0] - crop.shape[1] / 2)), int(round(feet[1] - crop.shape[0])))


def draw_rotated(scene, view, source, x, y, angle_deg, flip=False, brightness=1.0, z0=0.0,
                 squash: float | None = None, lie_on: bool = False) -> np.ndarray:
    """Toppled about the feet in the image plane (lying across the view when |angle| ~ 90).

    lie_on: the body rests on a surface at z0 (a bed, a sofa seat): its lowest pixels sit on
    the surface's line instead of half the body hanging below the pivot."""
    feet = view.project(x, y, z0)
    if squash is None:  # a body on the floor seen from above: flatter further away
        elevation = math.atan2(view.pose.z - z0, x)
        squash = float(np.clip((0.45 * math.sin(elevation) + 0.28 * math.cos(elevation)) / 0.45, 0.5, 1.0))
    crop, alpha = _scaled(source, _height_px(view, x, y, z0), flip, brightness)
    crop, alpha, pivot = _rotate_about_feet(crop, alpha, angle_deg, squash)
    oy = feet[1] - crop.shape[0] * 0.92 if lie_on else feet[1] - pivot[1]
    return _blend(scene, crop, alpha, int(round(feet[0] - pivot[0])), int(round(oy)))


def draw_billboard(scene, view, source, x, y, phi_deg, towards: bool, flip=False, brightness=1.0,
                   z0=0.0, yaw_deg=0.0) -> np.ndarray:
    """The cut-out as a flat board standing on its feet edge, tipped phi_deg (0 upright, 90 flat)
    away from the camera (towards=False) or towards it, the fall direction turned yaw_deg."""
    crop, alpha = _cutout_of(source)
    if flip:
        crop, alpha = np.ascontiguousarray(crop[:, ::-1]), np.ascontiguousarray(alpha[:, ::-1])
    if brightness != 1.0:
        crop = np.clip(crop.astype(np.float32) * brightness, 0, 255).astype(np.uint8)
    h, w = crop.shape[:2]
    length = PERSON_HEIGHT_M
    width = length * w / h
    phi, yaw = math.radians(phi_deg), math.radians(yaw_deg)
    sign = -1.0 if towards else 1.0
    axis = np.array([sign * math.sin(phi) * math.cos(yaw), sign * math.sin(phi) * math.sin(yaw), math.cos(phi)])
    side = np.array([-math.sin(yaw), math.cos(yaw), 0.0]) * (1 if not towards else 1)  # image-left is +y
    feet = np.array([x, y, z0 + 0.02 + 0.1 * math.sin(phi)])  # a lying body's middle is ~10 cm up
    corners3d = [feet + side * width / 2 + axis * length, feet - side * width / 2 + axis * length,
                 feet - side * width / 2, feet + side * width / 2]   # TL, TR, BR, BL of the crop
    dst = [view.project(*c) for c in corners3d]
    if any(p is None for p in dst):
        return np.zeros(scene.shape[:2], bool)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(src, np.float32(dst))
    big = cv2.warpPerspective(crop, m, (scene.shape[1], scene.shape[0]), flags=cv2.INTER_AREA)
    big_a = cv2.warpPerspective(alpha, m, (scene.shape[1], scene.shape[0]), flags=cv2.INTER_LINEAR)
    return _blend(scene, big, big_a, 0, 0)


def draw_bent(scene, view, source, x, y, bend_deg, flip=False, brightness=1.0) -> np.ndarray:
    """Legs upright, the upper body turned about the hips by bend_deg in the image plane."""
    crop, alpha = _scaled(source, _height_px(view, x, y), flip, brightness)
    cut = int(crop.shape[0] * HIP_SHARE)
    feet = view.project(x, y, 0.0)
    legs_mask = _blend(scene, crop[cut:], alpha[cut:], int(round(feet[0] - crop.shape[1] / 2)),
                       int(round(feet[1] - (crop.shape[0] - cut))))
    hip = (feet[0], feet[1] - (crop.shape[0] - cut))
    upper, upper_a, pivot = _rotate_about_feet(np.ascontiguousarray(crop[:cut]), np.ascontiguousarray(alpha[:cut]),
                                               bend_deg, 1.0)
    return legs_mask | _blend(scene, upper, upper_a, int(round(hip[0] - pivot[0])), int(round(hip[1] - pivot[1])))


def draw_sitting(scene, view, source, x, y, flip=False, brightness=1.0, seat_m=0.45) -> np.ndarray:
    """Seated facing the camera: upper body over the seat, thighs foreshortened, shins to the floor."""
    crop, alpha = _scaled(source, _height_px(view, x, y), flip, brightness)
    h = crop.shape[0]
    hip, knee = int(h * HIP_SHARE), int(h * 0.74)
    thigh_h = max(2, int((knee - hip) * 0.25))
    shin_px = _height_px(view, x, y, 0.0, seat_m)
    shins = cv2.resize(crop[knee:], (crop.shape[1], max(2, int(shin_px))))
    shins_a = cv2.resize(alpha[knee:], (crop.shape[1], max(2, int(shin_px))))
    thighs = cv2.resize(crop[hip:knee], (crop.shape[1], thigh_h))
    thighs_a = cv2.resize(alpha[hip:knee], (crop.shape[1], thigh_h))
    body = np.vstack([crop[:hip], thighs, shins])
    body_a = np.vstack([alpha[:hip], thighs_a, shins_a])
    feet = view.project(x, y, 0.0)
    return _blend(scene, body, body_a, int(round(feet[0] - body.shape[1] / 2)), int(round(feet[1] - body.shape[0])))


def draw_box(scene, view, box: FurnitureBox, colour, top_colour=None) -> np.ndarray:
    """A solid box (front, sides seen from the camera, top); returns its mask."""
    mask = np.zeros(scene.shape[:2], np.uint8)
    c = np.array(colour, np.float32)
    faces = []
    x0, x1, y0, y1, z = box.x0, box.x1, box.y0, box.y1, box.height
    if view.pose.y > y1:
        faces.append(([(x0, y1, 0), (x1, y1, 0), (x1, y1, z), (x0, y1, z)], c * 0.75))
    if view.pose.y < y0:
        faces.append(([(x0, y0, 0), (x1, y0, 0), (x1, y0, z), (x0, y0, z)], c * 0.75))
    if z < view.pose.z:
        faces.append(([(x0, y0, z), (x0, y1, z), (x1, y1, z), (x1, y0, z)],
                      np.array(top_colour if top_colour is not None else c * 1.15, np.float32)))
    faces.append(([(x0, y0, 0), (x0, y1, 0), (x0, y1, z), (x0, y0, z)], c))
    for corners, col in faces:
        pts = [view.project(*p) for p in corners]
        if any(p is None for p in pts):
            continue
        poly = np.int32([[int(round(u)), int(round(v))] for u, v in pts])
        cv2.fillConvexPoly(scene, poly, tuple(float(v) for v in np.clip(col, 0, 255)))
        cv2.fillConvexPoly(mask, poly, 1)
    return mask.astype(bool)


def _box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _furniture_colour(rng) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.array([70, 90, 120]) + rng.integers(-40, 60, 3))


# ----- one image per condition --------------------------------------------------------------------

@dataclass
class _Ctx:
    part: Part
    rng: np.random.Generator
    full: tuple[PersonSource, ...]
    upper: tuple[PersonSource, ...]
    floors: tuple[FloorKind, ...]

    def scene(self) -> tuple[View, np.ndarray]:
        view = make_view(self.rng)
        floor = self.floors[int(self.rng.integers(len(self.floors)))]
        return view, room(view, floor, self.rng, float(self.rng.uniform(5.0, 8.0)))

    def person(self) -> PersonSource:
        return self.full[int(self.rng.integers(len(self.full)))]

    def depth(self, near=2.3, far=4.6) -> float:
        return float(self.rng.uniform(near, far))

    def lateral(self, x: float, spread: float = 0.35) -> float:
        return float(self.rng.uniform(-spread, spread) * x)


def _border_lateral(img, view: View, person: PersonSource, x: float, angle: float, flip: bool,
                    brightness: float, visible: float) -> float:
    """Lateral place (m) where a person lying at depth x is cut by the image's side border so
    that about this share of the body stays in view (the body extends towards the border)."""
    side = -1.0 if angle > 0 else 1.0

    def share(y: float) -> float:
        body = draw_rotated(img.copy(), view, person, x, y, -angle if y > 0 else angle, flip, brightness)
        return body.sum() / full if full else 0.0

    full = draw_rotated(img.copy(), view, person, x, 0.0, angle if side < 0 else -angle, flip, brightness).sum()
    near, far = 0.0, 1.2 * x      # in view at the centre; well outside a 75-degree view
    for _ in range(14):            # the visible share falls as the body moves out: bisect
        mid = (near + far) / 2
        near, far = (mid, far) if share(side * mid) > visible else (near, mid)
    return side * near


def _make(cond: Condition, ctx: _Ctx) -> tuple[np.ndarray, View, list, tuple[FurnitureBox, ...]]:
    rng = ctx.rng
    view, img = ctx.scene()
    flip, bright = bool(rng.random() < 0.5), float(rng.uniform(0.8, 1.15))
    masks, furniture = [], ()
    x = ctx.depth()
    y = ctx.lateral(x)
    if cond in (Condition.ACROSS, Condition.DIM):
        if cond is Condition.DIM and rng.random() < 0.4:
            masks.append(draw_billboard(img, view, ctx.person(), x - 0.4, y, rng.uniform(82, 92),
                                        bool(rng.random() < 0.5), flip, bright, yaw_deg=rng.uniform(-25, 25)))
        else:
            angle = float(rng.uniform(72, 108)) * (1 if rng.random() < 0.5 else -1)
            masks.append(draw_rotated(img, view, ctx.person(), x, y, angle, flip, bright))
        if cond is Condition.DIM:
            img = dim(img, rng)
    elif cond is Condition.ALONG:
        towards = bool(rng.random() < 0.5)
        x0 = x - (0.0 if towards else 0.9)   # the feet (or the head) nearest the camera
        masks.append(draw_billboard(img, view, ctx.person(), x0 + (PERSON_HEIGHT_M if towards else 0.0), y,
                                    float(rng.uniform(80, 92)), towards, flip, bright,
                                    yaw_deg=float(rng.uniform(-25, 25))))
    elif cond is Condition.HIDDEN:
        person = ctx.person()
        if rng.random() < 0.3:   # cut by the image border instead
            angle = float(rng.uniform(75, 105)) * (1 if rng.random() < 0.5 else -1)
            visible = float(rng.uniform(0.4, 0.7))
            y = _border_lateral(img, view, person, x, angle, flip, bright, visible)
            masks.append(draw_rotated(img, view, person, x, y, -angle if y > 0 else angle, flip, bright))
        else:
            for _ in range(20):   # an occluder in front hiding 30..60 % of the body
                trial = img.copy()
                angle = float(rng.uniform(75, 105)) * (1 if rng.random() < 0.5 else -1)
                body = draw_rotated(trial, view, person, x, y, angle, flip, bright)
                area = body.sum()
                kind = int(rng.integers(3))
                depth, width, height = [COFFEE_TABLE, ARMCHAIR, CABINET][kind]
                bx = _box_of(body)
                if bx is None or area == 0:
                    continue
                fy_centre = float(rng.uniform(-0.9, 0.9))
                ox = x - depth - float(rng.uniform(0.1, 0.5))
                oy = y + fy_centre * 0.8
                occ = FurnitureBox(["coffee_table", "armchair", "tv_cabinet"][kind], ox, ox + depth,
                                   oy - width / 2, oy + width / 2, height)
                occ_mask = draw_box(trial, view, occ, _furniture_colour(rng))
                visible = (body & ~occ_mask).sum() / area
                if 0.4 <= visible <= 0.7:
                    img = trial
                    masks.append(body & ~occ_mask)
                    furniture = (occ,)
                    break
            else:
                masks.append(draw_rotated(img, view, person, x, y, 90.0, flip, bright))
    elif cond is Condition.UPRIGHT:
        x = ctx.depth(2.4, 7.0)
        y = ctx.lateral(x, 0.4)
        if rng.random() < 0.25 and ctx.upper:   # close, cut by the bottom border: an upper body
            src = ctx.upper[int(rng.integers(len(ctx.upper)))]
            crop, alpha = _scaled(src, float(rng.uniform(0.6, 0.9)) * FRAME_H, flip, bright)
            ox = int(rng.uniform(0, FRAME_W - crop.shape[1] * 0.6))
            masks.append(_blend(img, crop, alpha, ox, FRAME_H - crop.shape[0] + int(rng.uniform(0, 40))))
        else:
            masks.append(draw_standing(img, view, ctx.person(), x, y, flip, bright))
        if rng.random() < 0.3:
            img = dim(img, rng)
    elif cond is Condition.SITTING:
        if rng.random() < 0.35 and ctx.upper:   # behind a dining table: upper body above it
            src = ctx.upper[int(rng.integers(len(ctx.upper)))]
            hpx = _height_px(view, x + 0.5, y, 0.45, 0.9)
            crop, alpha = _scaled(src, hpx, flip, bright)
            seat = view.project(x + 0.5, y, 0.45)
            masks.append(_blend(img, crop, alpha, int(seat[0] - crop.shape[1] / 2), int(seat[1] - crop.shape[0])))
            d, wdt, hgt = DINING_TABLE
            table = FurnitureBox("dining_table", x - 0.5, x - 0.5 + d, y - wdt / 2, y + wdt / 2, hgt)
            masks[-1] &= ~draw_box(img, view, table, _furniture_colour(rng))
            furniture = (table,)
        else:
            d, wdt, hgt = ARMCHAIR
            chair = FurnitureBox("armchair", x + 0.05, x + 0.05 + d, y - wdt / 2, y + wdt / 2, hgt)
            draw_box(img, view, chair, _furniture_colour(rng))
            masks.append(draw_sitting(img, view, ctx.person(), x, y, flip, bright))
            furniture = (chair,)
    elif cond is Condition.BENDING:
        bend = float(rng.uniform(45, 100)) * (1 if rng.random() < 0.5 else -1)
        masks.append(draw_bent(img, view, ctx.person(), x, y, bend, flip, bright))
    elif cond is Condition.BED_SOFA:
        colour = _furniture_colour(rng)
        if rng.random() < 0.5:   # bed, long side facing the camera, or end-on
            d, wdt, hgt = BED
            end_on = rng.random() < 0.35
            if end_on:
                d, wdt = wdt, d
            bed = FurnitureBox("bed", x, x + d, y - wdt / 2, y + wdt / 2, hgt)
            draw_box(img, view, bed, colour, top_colour=(225, 228, 232))
            if end_on:
                masks.append(draw_billboard(img, view, ctx.person(), x + 0.15, y, float(rng.uniform(84, 90)),
                                            False, flip, bright, z0=hgt))
            else:
                angle = float(rng.uniform(80, 100)) * (1 if rng.random() < 0.5 else -1)
                feet_y = y - np.sign(angle) * 0.8   # the body reaches from the feet to the other end
                masks.append(draw_rotated(img, view, ctx.person(), x + d / 2, float(feet_y), angle, flip, bright,
                                          z0=hgt, lie_on=True))
            furniture = (bed,)
        else:
            d, wdt, hgt = SOFA
            seat = FurnitureBox("sofa", x, x + d, y - wdt / 2, y + wdt / 2, SOFA_SEAT_M)
            back = FurnitureBox("sofa_back", x + d - 0.22, x + d, y - wdt / 2, y + wdt / 2, hgt)
            draw_box(img, view, back, colour)
            draw_box(img, view, seat, colour)
            angle = float(rng.uniform(80, 100)) * (1 if rng.random() < 0.5 else -1)
            feet_y = y - np.sign(angle) * 0.85
            masks.append(draw_rotated(img, view, ctx.person(), x + 0.3, float(feet_y), angle, flip, bright,
                                      z0=SOFA_SEAT_M, lie_on=True))
            furniture = (seat, back)
    return img, view, masks, furniture


def _context(part: Part, seed: int) -> _Ctx:
    rng = np.random.default_rng((0 if part is Part.DEV else 1_000_003) + seed)
    full = tuple(s for s in SOURCES if s.full_body)
    upper = tuple(s for s in SOURCES if not s.full_body)
    if part is Part.HELDOUT:
        return _Ctx(part, rng, full + HELDOUT_SOURCES, upper, HELDOUT_FLOORS)
    return _Ctx(part, rng, full, upper, DEV_FLOORS)


SEED_BASE = {Part.DEV: 1000, Part.HELDOUT: 7000}


def image_set(part: Part, per_condition: int = 12, conditions: tuple[Condition, ...] = tuple(Condition),
              first: int = 0) -> list[LabelledImage]:
    """per_condition images of each condition; image i of a condition depends only on (part, condition, i)."""
    out = []
    for cond in conditions:
        for i in range(first, first + per_condition):
            ctx = _context(part, SEED_BASE[part] + 100_000 * list(Condition).index(cond) + i)
            if cond is Condition.EMPTY:
                view, img = ctx.scene()
                out.append(LabelledImage(f"{part.value}/{cond.value}-{i}", cond, img, view))
                continue
            img, view, masks, furniture = _make(cond, ctx)
            boxes = tuple(b for b in (_box_of(m) for m in masks) if b is not None)
            out.append(LabelledImage(f"{part.value}/{cond.value}-{i}", cond, img, view, boxes, furniture))
    return out


# ----- sequences ---------------------------------------------------------------------------------

class SeqMotion(enum.Enum):
    FALL_ACROSS = "fall_across"     # stand 2 s, topple sideways in 0.6 s, lie, get up in 1 s, stand
    FALL_ALONG = "fall_along"       # the same, toppling away from or towards the camera
    BEND = "bend"                   # bend at the hips 70..95 degrees for 1.5 s, twice
    SIT = "sit"                     # walk to an armchair, sit 6 s
    LIE_DOWN = "lie_down"           # stand by a bed or sofa, lie down on it in 1.5 s, rest

    @property
    def is_fall(self) -> bool:
        return self in (SeqMotion.FALL_ACROSS, SeqMotion.FALL_ALONG)


@dataclass(frozen=True)
class LabelledSequence:
    name: str
    motion: SeqMotion
    view: View
    frames: tuple[tuple[float, np.ndarray], ...]
    fall_at: float | None = None
    up_at: float | None = None
    furniture: tuple[FurnitureBox, ...] = field(default=())


def sequence(part: Part, motion: SeqMotion, index: int, fps: float = 4.0, lie_s: float = 6.0,
             dim_light: bool | None = None) -> LabelledSequence:
    """One animated person; deterministic for (part, motion, index)."""
    ctx = _context(part, SEED_BASE[part] + 50_000 + 1000 * list(SeqMotion).index(motion) + index)
    rng = ctx.rng
    view, bg = ctx.scene()
    if dim_light is None:
        dim_light = bool(rng.random() < 0.25)
    person, flip = ctx.person(), bool(rng.random() < 0.5)
    x = ctx.depth(2.8, 4.8)
    y = ctx.lateral(x, 0.25)
    dt = 1.0 / fps
    frames = []
    fall_at = up_at = None
    furniture: tuple[FurnitureBox, ...] = ()
    noise_rng = np.random.default_rng(index)
    if motion.is_fall:
        t_fall, fall_dur, rise_dur = 2.0, 0.6, 1.0
        fall_at, up_at = t_fall + fall_dur, t_fall + fall_dur + lie_s + rise_dur
        total = up_at + 3.0
        direction = 1 if rng.random() < 0.5 else -1
        towards = bool(rng.random() < 0.5)
        yaw = float(rng.uniform(-20, 20))
    elif motion is SeqMotion.LIE_DOWN:
        total = 12.0
        colour = _furniture_colour(rng)
        if rng.random() < 0.5:
            d, wdt, hgt = BED
            furniture = (FurnitureBox("bed", x, x + d, y - wdt / 2, y + wdt / 2, hgt),)
            bg = bg.copy()
            draw_box(bg, view, furniture[0], colour, top_colour=(225, 228, 232))
            rest_z, rest_x = hgt, x + d / 2
        else:
            d, wdt, hgt = SOFA
            furniture = (FurnitureBox("sofa", x, x + d, y - wdt / 2, y + wdt / 2, SOFA_SEAT_M),
                         FurnitureBox("sofa_back", x + d - 0.22, x + d, y - wdt / 2, y + wdt / 2, hgt))
            bg = bg.copy()
            draw_box(bg, view, furniture[1], colour)
            draw_box(bg, view, furniture[0], colour)
            rest_z, rest_x = SOFA_SEAT_M, x + 0.3
        direction = 1 if rng.random() < 0.5 else -1
    else:
        total = 9.0
        if motion is SeqMotion.SIT:
            d, wdt, hgt = ARMCHAIR
            furniture = (FurnitureBox("armchair", x + 0.05, x + 0.05 + d, y - wdt / 2, y + wdt / 2, hgt),)
            bg = bg.copy()
            draw_box(bg, view, furniture[0], _furniture_colour(rng))
        direction = 1 if rng.random() < 0.5 else -1
    for k in range(int(total * fps)):
        t = k * dt
        img = bg.copy()
        if motion.is_fall:
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
            if motion is SeqMotion.FALL_ACROSS:
                draw_rotated(img, view, person, x, y, direction * 88.0 * f, flip, squash=1.0 - 0.25 * f)
            else:
                draw_billboard(img, view, person, x, y, 88.0 * f, towards, flip, yaw_deg=yaw * f)
        elif motion is SeqMotion.BEND:
            phase = t % 4.5
            lean = 85.0 * max(0.0, math.sin(math.pi * (phase - 1.0) / 1.5)) if 1.0 <= phase <= 2.5 else 0.0
            if lean > 1.0:
                draw_bent(img, view, person, x, y, direction * lean, flip)
            else:
                draw_standing(img, view, person, x, y, flip)
        elif motion is SeqMotion.SIT:
            if t < 2.0:
                draw_standing(img, view, person, x - 0.6 + 0.3 * t, y, flip)
            else:
                draw_sitting(img, view, person, x, y, flip)
        else:  # LIE_DOWN: stand beside, then sit and lie down on the furniture over 1.5 s
            side_y = y + direction * (furniture[0].y1 - furniture[0].y0) * 0.3
            if t < 2.0:
                draw_standing(img, view, person, x - 0.3, side_y, flip)
            elif t < 3.5:
                f = (t - 2.0) / 1.5
                draw_rotated(img, view, person, x - 0.3 + (rest_x - x + 0.3) * f, side_y, direction * -88.0 * f,
                             flip, z0=rest_z * min(1.0, 2 * f), squash=1.0 - 0.2 * f)
            else:
                draw_rotated(img, view, person, rest_x, side_y, direction * -88.0, flip, z0=rest_z, squash=0.8,
                             lie_on=True)
        if dim_light:
            img = dim(img, noise_rng)
        frames.append((t, img))
    name = f"{part.value}/{motion.value}-{index}{' dim' if dim_light else ''}"
    return LabelledSequence(name, motion, view, tuple(frames), fall_at, up_at, furniture)


def sequence_set(part: Part, falls_per_kind: int = 3, others_per_kind: int = 2, fps: float = 4.0,
                 lie_s: float = 6.0, first: int = 0) -> list[LabelledSequence]:
    """Sequences of every motion; first shifts the indices (a fresh set with the same recipe)."""
    out = []
    for motion in SeqMotion:
        n = falls_per_kind if motion.is_fall else others_per_kind
        out.extend(sequence(part, motion, i, fps, lie_s) for i in range(first, first + n))
    return out
