"""Lying on a bed or sofa vs lying on the floor: rays through the box's bottom edge (no model)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from carebot.perception.detection import Box
from carebot.perception.furniture import first_hit, is_rest_furniture, ray_hits_box, resting_on
from carebot.perception.geometry import CameraPose, Intrinsics
from carebot.perception.scene_sets import FurnitureBox, View
from carebot.world import Box as WorldBox

K = Intrinsics.from_fov(640, 480, math.radians(70))
POSE = CameraPose(0.0, 0.0, 1.3, 0.0, math.radians(5))
VIEW = View(K, POSE)
BED = FurnitureBox("bed_101", 3.0, 4.0, -1.0, 1.0, 0.6)


def box_between(points) -> Box:
    """Image box spanning the projections of 3D points (x fwd, y left, z up)."""
    uv = np.array([VIEW.project(*p) for p in points])
    return Box(uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max())


def test_names_of_rest_furniture():
    assert is_rest_furniture("bed_101") and is_rest_furniture("sofa") and is_rest_furniture("armchair")
    assert not is_rest_furniture("coffee_table") and not is_rest_furniture("bedside_lamp")
    assert not is_rest_furniture("dining_table") and not is_rest_furniture("fridge")


def test_ray_from_above_enters_the_top_face():
    hit = ray_hits_box(np.array([0.0, 0.0, 1.3]), np.array([1.0, 0.0, -0.2]) / math.hypot(1, 0.2), BED)
    assert hit is not None and hit[1] == 1.0   # enters through the top
    low = ray_hits_box(np.array([0.0, 0.0, 0.3]), np.array([1.0, 0.0, 0.0]), BED)
    assert low is not None and low[1] == pytest.approx(0.5)   # the front face, half way up
    assert ray_hits_box(np.array([0.0, 0.0, 1.3]), np.array([0.0, 1.0, 0.0]), BED) is None


def test_person_lying_on_the_bed_rests_on_it():
    # A body on the mattress across the view, 0.25 m thick, near half of the bed.
    body = box_between([(3.3, 0.8, 0.6), (3.3, -0.8, 0.6), (3.7, 0.8, 0.85), (3.7, -0.8, 0.85)])
    assert resting_on(body, K, POSE, [BED]) == "bed_101"


def test_person_lying_on_the_floor_in_front_of_the_bed_is_not_resting():
    body = box_between([(2.2, 0.8, 0.0), (2.2, -0.8, 0.0), (2.6, 0.8, 0.25), (2.6, -0.8, 0.25)])
    assert resting_on(body, K, POSE, [BED]) is None
    assert first_hit(np.array([0.0, 0.0, 1.3]), np.array([1.0, 0.0, -0.6]) / math.hypot(1, 0.6), [BED]) is None


def test_low_furniture_in_front_hides_but_does_not_support():
    # Someone on the floor behind an armchair: the rays to the box bottom pass the chair low down.
    chair = FurnitureBox("armchair", 2.6, 3.4, -0.4, 0.4, 0.9)
    body = box_between([(4.0, 0.8, 0.0), (4.0, -0.8, 0.0), (4.4, 0.8, 0.25), (4.4, -0.8, 0.25)])
    assert resting_on(body, K, POSE, [chair]) is None


def test_world_furniture_on_the_map_with_the_robot_pose():
    # The same bed, now on the map at (13.5, 5) turned 90 degrees, the robot at (10, 5) facing +x.
    bed = WorldBox("bed_201", cx=13.5, cy=5.0, sx=2.0, sy=1.0, sz=0.6, yaw=math.pi / 2)
    body = box_between([(3.3, 0.8, 0.6), (3.3, -0.8, 0.6), (3.7, 0.8, 0.85), (3.7, -0.8, 0.85)])
    assert resting_on(body, K, POSE, [bed], robot=(10.0, 5.0, 0.0)) == "bed_201"
    # Turned away (facing -x), the ray goes elsewhere.
    assert resting_on(body, K, POSE, [bed], robot=(10.0, 5.0, math.pi)) is None
