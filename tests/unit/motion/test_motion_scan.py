"""Lidar geometry: scan to points, clusters, person-like shapes, travel clearance, static-map filter."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from carebot.motion import scan as scanlib
from carebot.motion.safety import SafetyLayer, Source
from carebot.motion.planner import CostMap, plan
from carebot.world import load_world


def test_scan_to_points_drops_invalid_and_self_returns():
    ranges = [1.0, float("nan"), float("inf"), 0.05, 20.0, 2.0, 0.1]
    angles = np.linspace(-math.pi, math.pi, len(ranges), endpoint=False)
    points, index = scanlib.scan_to_points(ranges, -math.pi, angles[1] - angles[0], 0.08, 12.0,
                                           sensor_xy=(0.14, 0.0), self_radius=0.25)
    assert list(index) == [0, 5]                      # 0.1 m behind the lidar lands inside the robot
    assert points[0] == pytest.approx((0.14 - 1.0, 0.0))
    empty, _ = scanlib.scan_to_points([], 0.0, 0.01, 0.1, 10.0)
    assert empty.shape == (0, 2)
    bad, _ = scanlib.scan_to_points([1.0], float("nan"), 0.01, 0.1, 10.0)
    assert bad.shape == (0, 2)


def test_clusters_split_on_gaps_and_missing_beams():
    wall = np.column_stack((np.full(50, 2.0), np.linspace(-1.25, 1.25, 50)))
    leg = np.column_stack((np.full(4, 1.0), np.linspace(0.6, 0.69, 4)))
    found = scanlib.clusters(np.vstack((wall, leg)))
    assert len(found) == 2
    assert not scanlib.person_like(found[0]) and scanlib.person_like(found[1])
    # The same wall with a missing beam in the middle is two pieces.
    index = np.concatenate((np.arange(25), np.arange(26, 51)))
    assert len(scanlib.clusters(wall, index)) == 2


def test_travel_clearance_geometry():
    half = 0.3
    assert scanlib.travel_clearance(np.array([[1.0, 0.0]]), None, half, 1.0) == pytest.approx(0.7)
    assert scanlib.travel_clearance(np.array([[1.0, 0.0]]), None, half, -1.0) == math.inf
    assert scanlib.travel_clearance(np.array([[1.0, 0.5]]), None, half, 1.0) == math.inf     # passes beside
    assert scanlib.travel_clearance(np.array([[1.0, 0.5]]), np.array([0.25]), half, 1.0) < 1.0  # a disc does not
    # Turning left swings the corridor toward a point ahead-left.
    assert scanlib.travel_clearance(np.array([[1.0, 0.45]]), None, half, 1.0, heading_change=0.8) < math.inf


def test_static_map_mask_keeps_walls_from_counting_as_people():
    # A short wall piece seen through a door looks like a body; the map says it is a wall.
    piece = np.column_stack((np.full(12, 1.0), np.linspace(-0.3, 0.3, 12)))
    layer = SafetyLayer()
    layer.scan(piece, 0.0)
    layer.command(Source.NAVIGATION, 0.6, 0.0, 0.0)
    assert layer.step(0.0).person_near
    layer = SafetyLayer()
    piece = piece - [0.6, 0.0]                        # 0.4 m ahead: inside the stopping distance
    layer.scan(piece, 0.0, static_mask=np.ones(len(piece), dtype=bool))
    layer.command(Source.NAVIGATION, 0.6, 0.0, 0.0)
    out = layer.step(0.0)
    assert not out.person_near
    assert out.linear == 0 and out.stop_reason.startswith("obstacle")   # a wall still stops the robot


@pytest.fixture(scope="module")
def hall():
    return CostMap.from_world(load_world("public_hall"))


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 24.0), st.floats(0.0, 16.0), st.floats(0.0, 24.0), st.floats(0.0, 16.0))
def test_any_start_and_goal_give_a_clear_path_or_a_reason(hall, x0, y0, x1, y1):
    result = plan(hall, (x0, y0), (x1, y1))
    if result.path is None:
        assert result.reason
        assert not hall.free(x0, y0) or not hall.free(x1, y1) or "no free path" in result.reason
    else:
        interior = result.path[1:-1]
        assert all(hall.free(*p) for p in interior)
        # Endpoints are the requested ones, or a free cell within the search radius.
        assert math.hypot(result.path[0][0] - x0, result.path[0][1] - y0) <= hall.config.goal_search_radius + 0.1
        assert math.hypot(result.path[-1][0] - x1, result.path[-1][1] - y1) <= hall.config.goal_search_radius + 0.1


def test_read_scan_follows_rep_117():
    ranges = [1.0, float("nan"), float("inf"), -float("inf"), 0.05, 20.0, 2.0, 0.1]
    step = 2 * math.pi / len(ranges)
    beams = scanlib.read_beams(ranges, -math.pi, step, 0.08, 12.0)
    B = scanlib.Beam
    assert list(beams.state) == [B.RETURN, B.FAULT, B.NO_RETURN, B.TOO_CLOSE, B.TOO_CLOSE, B.NO_RETURN,
                                 B.RETURN, B.RETURN]
    reading = scanlib.read_scan(ranges, -math.pi, step, 0.08, 12.0, sensor_xy=(0.14, 0.0), self_radius=0.25)
    # 0.1 m behind the lidar is the robot's own body; too-close objects are kept at range_min even
    # where that is inside the robot: the lidar cannot tell where they are.
    assert list(reading.index) == [0, 3, 4, 6]
    assert list(reading.too_close) == [False, True, True, False]
    assert np.hypot(*(reading.points[1] - (0.14, 0.0))) == pytest.approx(0.08)


def test_sector_counts_missing_and_nan_beams():
    n = 360
    step = 2 * math.pi / n
    beams = scanlib.read_beams(np.full(n, 5.0), -math.pi, step, 0.1, 10.0)
    ahead = beams.sector(0.0, math.radians(60))
    assert ahead.expected == 120 and ahead.valid in (120, 121) and ahead.faults == 0     # 60 deg on the edge
    assert ahead.largest_gap == pytest.approx(step, abs=1e-6) and ahead.blind(0.8, 0.1) == ""
    behind = beams.sector(math.pi, math.radians(60))
    assert behind.valid in (120, 121)                 # wraps round +-pi
    half = scanlib.read_beams(np.full(180, 5.0), -math.pi / 2, step, 0.1, 10.0)     # a 180-degree lidar
    assert half.sector(math.pi, math.radians(60)).valid == 0
    assert "0 of 120 beams valid" in half.sector(math.pi, math.radians(60)).blind(0.8, 0.1)
    assert half.health(0.8) == ""                     # the beams it has are fine


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0.0, 15.0)), max_size=50),
       st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
       st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_read_scan_never_raises_and_never_calls_nan_free(ranges, angle_min, increment, range_min, range_max):
    reading = scanlib.read_scan(ranges, angle_min, increment, range_min, range_max, (0.14, 0.0), 0.0, 0.25)
    assert np.all(np.isfinite(reading.points))
    beams = reading.beams
    assert beams.count == len(ranges)
    for r, state in zip(ranges, beams.state):
        if math.isnan(r):
            assert state == scanlib.Beam.FAULT
    if beams.problem or not ranges:
        assert beams.health(0.8)
