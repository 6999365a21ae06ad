"""The site map the page draws: rooms, walls and places of the site's world file."""
from __future__ import annotations

from carebot.world import World, load_world


def map_json(world: World) -> dict:
    """Plain JSON for the page's SVG map (metres, x east, y north)."""
    return {
        "name": world.name, "width": world.width, "height": world.height,
        "rooms": {name: list(box) for name, box in world.rooms.items()},
        "walls": [[w.x0, w.y0, w.x1, w.y1] for w in world.walls],
        "places": [{"name": p.name, "x": p.x, "y": p.y} for p in world.places.values()],
        # Rooms, places and furniture in both languages: the page names them in its own.
        "labels": {name: dict(texts) for name, texts in world.labels.items()},
    }


def load_map(world_name: str) -> dict:
    """Map of a site name or world file; raises carebot.world.WorldError when unusable."""
    return map_json(load_world(world_name))
