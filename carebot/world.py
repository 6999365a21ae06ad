"""A site's world, described once in ``models/worlds/<site>.yaml``.

Pure data and geometry, no ROS and no simulator: the simulation generates its
MuJoCo and Gazebo worlds from a ``World``, navigation rasterises its occupancy
grid, the brain takes its named places, the dashboard draws its map.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

WORLDS_DIR = Path(__file__).resolve().parent.parent / "models" / "worlds"
LANDMARK_RANGE_M = 2.0     # a point farther than this from every named thing is said by its room alone


class WorldError(ValueError):
    """A world file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Wall:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def length(self) -> float:
        return math.hypot(self.x1 - self.x0, self.y1 - self.y0)


@dataclass(frozen=True)
class Box:
    """A piece of furniture: an upright box on the floor."""

    name: str
    cx: float
    cy: float
    sx: float      # size along its own x, m
    sy: float
    sz: float      # height, m
    yaw: float     # rad


@dataclass(frozen=True)
class Place:
    """A named goal pose of the robot."""

    name: str
    x: float
    y: float
    yaw: float     # rad
    room: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class World:
    name: str
    width: float           # m along x
    height: float          # m along y
    wall_height: float
    wall_thickness: float
    rooms: dict[str, tuple[float, float, float, float]]
    walls: tuple[Wall, ...]
    furniture: tuple[Box, ...]
    places: dict[str, Place]
    robot_start: tuple[float, float, float]   # x, y, yaw (rad)
    source: Path | None = field(default=None, compare=False)
    # What staff read for a room, place or piece of furniture, per language (the file's
    # ``labels``): {name: {"en": "lounge", "zh-CN": "休息室"}}.
    labels: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)

    def room_at(self, x: float, y: float) -> str:
        """Name of the room containing (x, y), or '' outside every room."""
        for name, (x0, y0, x1, y1) in self.rooms.items():
            if x0 <= x <= x1 and y0 <= y <= y1:
                return name
        return ""

    def room_for(self, place: str = "", position: tuple[float, ...] | None = None) -> str:
        """The room of a named place, else the room at a map position, else ''."""
        if place in self.places:
            return self.places[place].room
        return self.room_at(position[0], position[1]) if position is not None else ""

    def label(self, name: str, language: str = "en") -> str:
        """The name staff read for a room, place or furniture in ``language`` (zh-CN, en; zh
        means zh-CN); the English label, else the name with spaces, when the file has none."""
        labels = self.labels.get(name, {})
        lang = "zh-CN" if language.lower().startswith("zh") else "en"
        return labels.get(lang) or labels.get("en") or name.replace("_", " ")

    def landmark_near(self, x: float, y: float, max_m: float = LANDMARK_RANGE_M) -> str:
        """The nearest named thing staff can look for at (x, y): a labelled piece of furniture or
        a named place that is not a whole room, in the same room and within ``max_m`` (distance
        to a box's edge; 0 inside it). '' when there is none."""
        room = self.room_at(x, y)
        best, best_d = "", max_m
        for box in self.furniture:
            if box.name not in self.labels or self.room_at(box.cx, box.cy) != room:
                continue
            c, s = math.cos(box.yaw), math.sin(box.yaw)
            lx, ly = (x - box.cx) * c + (y - box.cy) * s, -(x - box.cx) * s + (y - box.cy) * c
            d = math.hypot(max(abs(lx) - box.sx / 2, 0.0), max(abs(ly) - box.sy / 2, 0.0))
            if d <= best_d:
                best, best_d = box.name, d
        for place in self.places.values():
            if place.name in self.rooms or place.room != room:
                continue
            d = math.hypot(x - place.x, y - place.y)
            if d < best_d:
                best, best_d = place.name, d
        return best

    def place_named(self, text: str) -> Place | None:
        """A place by its name or one of its aliases (case-insensitive)."""
        key = text.strip().lower().replace("_", " ")
        for place in self.places.values():
            if key == place.name.replace("_", " ") or key in (a.lower() for a in place.aliases):
                return place
        return None


def _floats(value, count: int, where: str) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise WorldError(f"{where}: expected a list of {count} numbers, got {value!r}")
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        raise WorldError(f"{where}: expected numbers, got {value!r}") from None
    if not all(math.isfinite(v) for v in out):
        raise WorldError(f"{where}: numbers must be finite, got {value!r}")
    return out


LABEL_LANGUAGES = ("en", "zh-CN")


def _labels(data, names: set[str], where: str) -> dict[str, dict[str, str]]:
    """The ``labels`` section: each key a room, place or furniture name of this world, each
    value {en: ..., zh-CN: ...} (non-empty text); a typo in a name or language is refused."""
    if not isinstance(data, dict):
        raise WorldError(f"{where}: labels must be a mapping of names to {{en, zh-CN}}")
    out = {}
    for name, texts in data.items():
        if str(name) not in names:
            raise WorldError(f"{where}: labels.{name}: no room, place or furniture of that name")
        if not isinstance(texts, dict):
            raise WorldError(f"{where}: labels.{name}: expected {{en: ..., zh-CN: ...}}, got {texts!r}")
        unknown = set(texts) - set(LABEL_LANGUAGES)
        if unknown:
            raise WorldError(f"{where}: labels.{name}: unknown language(s) {sorted(unknown)}; "
                             f"use {', '.join(LABEL_LANGUAGES)}")
        if not all(isinstance(v, str) and v.strip() for v in texts.values()):
            raise WorldError(f"{where}: labels.{name}: each label must be non-empty text")
        out[str(name)] = {str(k): str(v).strip() for k, v in texts.items()}
    return out


def parse_world(data: dict, source: Path | None = None) -> World:
    """Build and validate a World from the YAML mapping."""
    where = str(source or "world")
    if not isinstance(data, dict):
        raise WorldError(f"{where}: top level must be a mapping")
    try:
        name = str(data["name"])
        width, height = _floats(data["size"], 2, f"{where}: size")
        rooms = {str(k): tuple(_floats(v, 4, f"{where}: rooms.{k}")) for k, v in data.get("rooms", {}).items()}
        walls = tuple(Wall(*_floats(w, 4, f"{where}: walls[{i}]")) for i, w in enumerate(data.get("walls", [])))
        furniture = []
        for i, item in enumerate(data.get("furniture", [])):
            cx, cy = _floats(item.get("center"), 2, f"{where}: furniture[{i}].center")
            sx, sy, sz = _floats(item.get("size"), 3, f"{where}: furniture[{i}].size")
            furniture.append(Box(str(item.get("name", f"box_{i}")), cx, cy, sx, sy, sz,
                                 math.radians(float(item.get("yaw", 0.0)))))
        start = _floats(data["robot_start"], 3, f"{where}: robot_start")
    except KeyError as exc:
        raise WorldError(f"{where}: missing key {exc.args[0]!r}") from None
    world_rooms = rooms
    places = {}
    for pname, spec in (data.get("places") or {}).items():
        x, y, yaw = _floats((spec or {}).get("pose"), 3, f"{where}: places.{pname}.pose")
        places[str(pname)] = Place(str(pname), x, y, math.radians(yaw), "",
                                   tuple(str(a) for a in (spec.get("aliases") or ())))
    labels = _labels(data.get("labels") or {}, set(rooms) | set(places) | {b.name for b in furniture}, where)
    world = World(name, width, height, float(data.get("wall_height", 2.4)),
                  float(data.get("wall_thickness", 0.15)), world_rooms, walls, tuple(furniture),
                  places, (start[0], start[1], math.radians(start[2])), source, labels)
    # Fill each place's room now that rooms are known; check places lie inside.
    for pname, place in list(world.places.items()):
        if not (0 <= place.x <= width and 0 <= place.y <= height):
            raise WorldError(f"{where}: places.{pname} lies outside the {width}x{height} m world")
        world.places[pname] = Place(place.name, place.x, place.y, place.yaw,
                                    world.room_at(place.x, place.y), place.aliases)
    return world


def available_sites() -> list[str]:
    return sorted(p.stem for p in WORLDS_DIR.glob("*.yaml"))


def load_world(site_or_path: str | Path) -> World:
    """Load a world by site name (models/worlds/<site>.yaml) or by file path."""
    path = Path(site_or_path)
    if not path.suffix:
        path = WORLDS_DIR / f"{site_or_path}.yaml"
        if not path.exists():
            raise WorldError(f"unknown site {site_or_path!r}; known: {', '.join(available_sites())}")
    with open(path, encoding="utf-8") as handle:
        return parse_world(yaml.safe_load(handle), path)


@dataclass(frozen=True)
class OccupancyGrid:
    """Cells of ``resolution`` metres; data[row, col], row = y index, col = x index.

    Values: 0 free, 100 occupied (the nav_msgs/OccupancyGrid convention).
    """

    data: np.ndarray
    resolution: float
    origin: tuple[float, float] = (0.0, 0.0)   # world x, y of cell (0, 0)'s corner

    def to_cell(self, x: float, y: float) -> tuple[int, int]:
        return (int((y - self.origin[1]) / self.resolution), int((x - self.origin[0]) / self.resolution))

    def to_world(self, row: int, col: int) -> tuple[float, float]:
        return (self.origin[0] + (col + 0.5) * self.resolution, self.origin[1] + (row + 0.5) * self.resolution)

    def occupied(self, x: float, y: float) -> bool:
        row, col = self.to_cell(x, y)
        if not (0 <= row < self.data.shape[0] and 0 <= col < self.data.shape[1]):
            return True
        return bool(self.data[row, col] >= 50)


def occupancy_grid(world: World, resolution: float = 0.05) -> OccupancyGrid:
    """Rasterise walls and furniture (static obstacles) into a grid."""
    cols = int(math.ceil(world.width / resolution))
    rows = int(math.ceil(world.height / resolution))
    xs = (np.arange(cols) + 0.5) * resolution
    ys = (np.arange(rows) + 0.5) * resolution
    gx, gy = np.meshgrid(xs, ys)
    occupied = np.zeros((rows, cols), dtype=bool)
    half = world.wall_thickness / 2
    for wall in world.walls:
        dx, dy = wall.x1 - wall.x0, wall.y1 - wall.y0
        length_sq = dx * dx + dy * dy or 1e-12
        t = np.clip(((gx - wall.x0) * dx + (gy - wall.y0) * dy) / length_sq, 0.0, 1.0)
        dist = np.hypot(gx - (wall.x0 + t * dx), gy - (wall.y0 + t * dy))
        occupied |= dist <= half + resolution / 2
    for box in world.furniture:
        c, s = math.cos(box.yaw), math.sin(box.yaw)
        lx = (gx - box.cx) * c + (gy - box.cy) * s
        ly = -(gx - box.cx) * s + (gy - box.cy) * c
        occupied |= (np.abs(lx) <= box.sx / 2) & (np.abs(ly) <= box.sy / 2)
    return OccupancyGrid(np.where(occupied, 100, 0).astype(np.int8), resolution)
