"""Floor position from intrinsics + camera pose: checked against hand-computed geometry."""
from __future__ import annotations

import math

import pytest

from carebot.perception.geometry import CameraPose, Intrinsics, floor_point, pixel_ray

K = Intrinsics.from_fov(640, 480, math.radians(90))  # fx = fy = 320, centre (320, 240)


def test_from_k_reads_row_major_and_rejects_unset():
    k = Intrinsics.from_k([500, 0, 321, 0, 501, 239, 0, 0, 1])
    assert (k.fx, k.fy, k.cx, k.cy) == (500, 501, 321, 239)
    with pytest.raises(ValueError):
        Intrinsics.from_k([0.0] * 9)  # CameraInfo default: not calibrated
    with pytest.raises(ValueError):
        Intrinsics.from_k([1, 2, 3])


def test_centre_pixel_of_a_level_camera_never_meets_the_floor():
    assert floor_point(320, 240, K, CameraPose(z=1.2)) is None
    assert floor_point(320, 100, K, CameraPose(z=1.2)) is None  # above the horizon


def test_pixel_below_centre_hits_the_floor_straight_ahead():
    # 45 deg below the axis (v - cy = fy) from 1.2 m: the floor 1.2 m ahead.
    x, y, z = floor_point(320, 240 + 320, K, CameraPose(z=1.2))
    assert (x, y, z) == pytest.approx((1.2, 0.0, 0.0), abs=1e-9)


def test_pixel_to_the_right_is_to_the_right_of_the_robot():
    x, y, _ = floor_point(320 + 160, 240 + 320, K, CameraPose(z=1.2))
    assert x == pytest.approx(1.2) and y == pytest.approx(-0.6)  # base y is left: right is negative


def test_pitch_down_moves_the_centre_ray_onto_the_floor():
    x, y, _ = floor_point(320, 240, K, CameraPose(z=1.0, pitch=math.radians(30)))
    assert x == pytest.approx(1.0 / math.tan(math.radians(30))) and y == pytest.approx(0.0, abs=1e-9)


def test_yaw_and_head_pan_rotate_the_point_and_camera_offset_shifts_it():
    base = CameraPose(x=0.1, y=0.2, z=1.0, pitch=math.radians(45))
    x, y, _ = floor_point(320, 240, K, base.with_head(pan=math.radians(90), tilt=0.0))
    assert (x, y) == pytest.approx((0.1, 1.2))
    x2, y2, _ = floor_point(320, 240, K, CameraPose(z=1.0).with_head(0.0, math.radians(45)))
    assert (x2, y2) == pytest.approx((1.0, 0.0), abs=1e-9)


def test_floor_z_and_range_limit():
    x, _, z = floor_point(320, 560, K, CameraPose(z=1.22), floor_z=-0.08)
    assert x == pytest.approx(1.30) and z == -0.08
    assert floor_point(320, 241, K, CameraPose(z=1.2), max_range_m=30.0) is None  # grazing ray, ~384 m
    assert floor_point(320, 400, K, CameraPose(z=-0.1)) is None


def test_pixel_ray_is_unit_length():
    d = pixel_ray(10, 470, K, CameraPose(yaw=0.3, pitch=0.2))
    assert math.isclose(sum(c * c for c in d), 1.0)


def test_above_camera_is_above_the_horizon_line_of_a_level_or_tilted_camera():
    from carebot.perception.geometry import above_camera

    k = Intrinsics(500.0, 500.0, 320.0, 240.0)
    level = CameraPose(z=1.3)
    assert above_camera(320, 200, k, level) and not above_camera(320, 280, k, level)
    down = CameraPose(z=1.3, pitch=math.radians(14))       # the horizon moves up the image
    horizon = 240 - 500 * math.tan(math.radians(14))
    assert above_camera(100, horizon - 3, k, down) and not above_camera(100, horizon + 3, k, down)


def _box_of(points, k, pose):
    """The pixel box around 3D points (x forward, y left, z up) seen by a level or tilted camera."""
    from carebot.perception.detection import Box

    pixels = []
    for x, y, z in points:
        body = pose.rotation().T @ [x - pose.x, y - pose.y, z - pose.z]
        pixels.append((k.cx - k.fx * body[1] / body[0], k.cy - k.fy * body[2] / body[0]))
    us, vs = zip(*pixels)
    return Box(min(us), min(vs), max(us), max(vs))


@pytest.mark.parametrize("pitch_deg", [0.0, 12.0])
def test_top_height_of_standing_bending_and_lying_people(pitch_deg):
    from carebot.perception.geometry import too_high_to_lie, top_height

    k = Intrinsics(500.0, 500.0, 320.0, 240.0)
    pose = CameraPose(z=1.25, pitch=math.radians(pitch_deg))
    standing = _box_of([(3.0, 0.2, 0.0), (3.0, -0.2, 0.0), (3.0, 0.0, 1.65)], k, pose)
    assert top_height(standing, k, pose, 480) == pytest.approx(1.65, abs=0.01)
    bending = _box_of([(3.0, 0.2, 0.0), (3.0, -0.2, 0.0), (3.3, 0.0, 1.1)], k, pose)   # head forward, 1.1 m up
    along = _box_of([(3.0, 0.2, 0.0), (3.0, -0.2, 0.0), (4.6, 0.0, 0.25)], k, pose)    # head 1.6 m further away
    across = _box_of([(3.0, 0.8, 0.0), (3.0, -0.8, 0.0), (3.0, 0.0, 0.3)], k, pose)
    assert top_height(bending, k, pose, 480) > 1.0 and too_high_to_lie(bending, k, pose, 480)
    for lying in (along, across):
        assert top_height(lying, k, pose, 480) < 0.6 and not too_high_to_lie(lying, k, pose, 480)
    assert too_high_to_lie(standing, k, pose, 480)


def test_top_height_is_unknown_without_the_feet():
    from carebot.perception.detection import Box
    from carebot.perception.geometry import too_high_to_lie, top_height

    k = Intrinsics(500.0, 500.0, 320.0, 240.0)
    pose = CameraPose(z=1.25)
    cut = Box(200, 300, 400, 479)              # cut by the image's bottom edge: the feet are not seen
    assert top_height(cut, k, pose, 480) is None and not too_high_to_lie(cut, k, pose, 480)
    hanging = Box(200, 100, 260, 230)          # bottom above the horizon: no floor under it
    assert top_height(hanging, k, pose, 480) is None


@pytest.mark.parametrize("pitch_deg", [0.0, 12.0])
def test_a_head_near_the_floor_is_someone_down(pitch_deg):
    from carebot.perception.geometry import NEAR_FLOOR_M, near_floor

    k = Intrinsics(500.0, 500.0, 320.0, 240.0)
    pose = CameraPose(z=1.25, pitch=math.radians(pitch_deg))
    feet = [(3.0, 0.2, 0.0), (3.0, -0.2, 0.0)]
    along = _box_of(feet + [(4.3, 0.0, 0.2)], k, pose)          # lying along the view: a narrow box
    on_the_floor = _box_of(feet + [(3.1, 0.0, 0.45)], k, pose)  # curled up, head 0.45 m up
    deep_bend = _box_of(feet + [(3.4, 0.0, 0.75)], k, pose)     # bending low, head 0.75 m up
    sitting = _box_of(feet + [(3.0, 0.0, 1.15)], k, pose)
    assert near_floor(along, k, pose, 480) and near_floor(on_the_floor, k, pose, 480)
    assert not near_floor(deep_bend, k, pose, 480) and not near_floor(sitting, k, pose, 480)
    assert NEAR_FLOOR_M < 0.64          # under the lowest bending head of the development parts
    from carebot.perception.detection import Box
    assert not near_floor(Box(200, 300, 400, 479), k, pose, 480)     # feet not seen: nothing known


def test_height_marks_are_the_two_rules_at_once():
    from carebot.perception.geometry import height_marks, near_floor, too_high_to_lie

    k = Intrinsics(500.0, 500.0, 320.0, 240.0)
    pose = CameraPose(z=1.25, pitch=math.radians(8))
    feet = [(3.0, 0.2, 0.0), (3.0, -0.2, 0.0)]
    # (head, (too high to lie, near the floor)): lying along the view, lying across, a deep bend,
    # sitting, standing
    cases = [((4.3, 0.0, 0.2), (False, True)), ((3.1, 0.0, 0.45), (False, True)), ((3.4, 0.0, 0.75), (False, False)),
             ((3.0, 0.0, 1.15), (True, False)), ((3.0, 0.0, 1.7), (True, False))]
    for head, marks in cases:
        box = _box_of(feet + [head], k, pose)
        assert height_marks(box, k, pose, 480) == marks, head
        assert height_marks(box, k, pose, 480) == (too_high_to_lie(box, k, pose, 480), near_floor(box, k, pose, 480))
