"""The site worlds load, their places are reachable free cells, bad files name the key."""
import math

import pytest

from carebot.world import WorldError, available_sites, load_world, occupancy_grid, parse_world


@pytest.mark.parametrize("site", ["care_home", "public_hall"])
def test_every_place_is_free_and_in_its_room(site):
    world = load_world(site)
    grid = occupancy_grid(world)
    assert len(world.places) >= 8
    for place in world.places.values():
        assert not grid.occupied(place.x, place.y), place.name
        assert place.room, f"{place.name} lies in no room"


def test_sites_are_listed():
    assert {"care_home", "public_hall"} <= set(available_sites())


def test_grid_marks_walls_and_furniture():
    world = load_world("care_home")
    grid = occupancy_grid(world, resolution=0.05)
    assert grid.occupied(10.0, 0.02)            # outer south wall
    assert grid.occupied(11.0, 3.0)             # dining table
    assert not grid.occupied(4.0, 6.0)          # lounge door gap
    assert grid.occupied(-1.0, 5.0)             # outside the map counts as occupied


def test_aliases_find_places_in_both_languages():
    world = load_world("care_home")
    assert world.place_named("Living Room").name == "lounge"
    assert world.place_named("护士站").name == "nurse_station"
    assert world.place_named("garage") is None


def test_bad_world_names_the_key():
    with pytest.raises(WorldError, match="size"):
        parse_world({"name": "x", "size": [1, "wide"], "robot_start": [0, 0, 0]})
    with pytest.raises(WorldError, match="robot_start"):
        parse_world({"name": "x", "size": [5, 5]})
    with pytest.raises(WorldError, match="places.far"):
        parse_world({"name": "x", "size": [5, 5], "robot_start": [1, 1, 0],
                     "places": {"far": {"pose": [9, 9, 0]}}})
    with pytest.raises(WorldError, match="finite"):
        parse_world({"name": "x", "size": [5, math.nan], "robot_start": [1, 1, 0]})
