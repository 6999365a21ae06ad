"""Actors: walking pace and arrival, the fall's end pose (face up, the verified
orientation), falling across the camera's view, getting up, bad definitions."""
import math

import numpy as np
import pytest

from carebot.sim.actors import (CUTOUT_HALF_THICKNESS_M, FALL_DURATION_S, Actor, ActorError, FallStyle, Posture,
                                parse_actors, quat_from_matrix)


def _run(actor, seconds, dt=0.01, camera=None):
    for _ in range(int(round(seconds / dt))):
        actor.step(dt, camera)


def test_walks_the_path_at_its_pace_and_stops():
    actor = Actor("a", "man_jacket", 0.0, 0.0, 0.0, speed=0.5)
    actor.walk([(2.0, 0.0), (2.0, 1.0)])
    _run(actor, 2.0)
    assert actor.posture is Posture.WALKING
    assert actor.x == pytest.approx(1.0, abs=0.02) and actor.y == pytest.approx(0.0)
    _run(actor, 4.5)
    assert (actor.x, actor.y) == pytest.approx((2.0, 1.0))
    assert actor.posture is Posture.STANDING


def test_standing_cutout_stands_on_the_floor_upright():
    actor = Actor("a", "man_dark", 3.0, 4.0, 0.3, face_camera=False)
    centre, quat = actor.pose()
    assert centre[2] == pytest.approx(actor.height / 2)
    rot = actor.rotation()
    assert rot[:, 2] == pytest.approx([0, 0, 1])          # tall axis up
    assert np.linalg.norm(quat) == pytest.approx(1.0)


def test_fall_ends_face_up_on_the_floor_in_the_verified_orientation():
    # docs/sim.md: quat (-0.5, 0.5, 0.5, 0.5) lies face up; that is yaw -90 deg here.
    actor = Actor("a", "man_jacket", 1.0, 1.0, -math.pi / 2, face_camera=False, fall_style=FallStyle.FACE_UP)
    actor.fall()
    assert actor.posture is Posture.FALLING
    _run(actor, FALL_DURATION_S / 2)
    assert 0 < actor.tilt < math.pi / 2
    _run(actor, FALL_DURATION_S)
    assert actor.posture is Posture.LYING
    centre, quat = actor.pose()
    assert centre[2] == pytest.approx(CUTOUT_HALF_THICKNESS_M, abs=1e-6)   # on the floor
    verified = np.array([-0.5, 0.5, 0.5, 0.5])
    assert abs(float(np.dot(quat, verified))) == pytest.approx(1.0, abs=1e-6)   # same rotation (q ~ -q)


def test_face_up_fall_lies_across_the_camera_view():
    actor = Actor("a", "man_jacket", 0.0, 0.0, 0.0, fall_style=FallStyle.FACE_UP)
    camera = (4.0, 0.0)                      # camera due east of the person
    actor.fall(camera)
    _run(actor, FALL_DURATION_S + 0.1, camera=camera)
    long_axis = actor.rotation()[:, 2]       # head-to-feet direction of the lying body
    line_of_sight = np.array([1.0, 0.0, 0.0])
    assert abs(float(np.dot(long_axis, line_of_sight))) < 1e-6
    assert actor.rotation()[:, 0] == pytest.approx([0, 0, 1])   # the photo faces the sky


def test_side_fall_lies_on_the_floor_across_the_view_facing_the_camera():
    actor = Actor("a", "man_jacket", 0.0, 0.0, 1.0)
    camera = (0.0, -4.0)                     # camera due south
    actor.fall(camera)
    _run(actor, FALL_DURATION_S + 0.1, camera=camera)
    rot = actor.rotation()
    assert rot[:, 0] == pytest.approx([0, -1, 0], abs=1e-9)   # the photo faces the camera
    assert rot[:, 2][2] == pytest.approx(0.0, abs=1e-9)        # head-feet axis horizontal ...
    assert rot[:, 2][1] == pytest.approx(0.0, abs=1e-9)        # ... and across the line of sight
    centre, _ = actor.pose()
    assert centre[2] == pytest.approx(actor.width / 2)          # lower edge on the floor


def test_upright_cutout_turns_to_the_camera_and_gets_up_after_a_fall():
    actor = Actor("a", "man_right", 0.0, 0.0, 0.0)
    actor.step(0.01, (0.0, 5.0))
    assert actor.yaw == pytest.approx(math.pi / 2)
    actor.fall((0.0, 5.0))
    _run(actor, 1.0)
    with pytest.raises(ActorError):
        actor.walk([(1.0, 1.0)])
    actor.stand()
    _run(actor, 3.0)
    assert actor.posture is Posture.STANDING and actor.tilt == 0.0


def test_quaternion_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
        assert abs(float(np.dot(quat_from_matrix(rot), q))) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("data, words", [
    ({"actors": [{"name": "a"}]}, "needs name and pose"),
    ({"actors": [{"name": "a", "pose": [1, 2]}]}, "pose must be"),
    ({"actors": [{"name": "a", "pose": [1, 2, 0], "photo": "nobody"}]}, "unknown photo"),
    ({"actors": [{"name": "a", "pose": [1, 2, 0]}, {"name": "a", "pose": [3, 2, 0]}]}, "unique"),
    ({"actors": [{"name": "a", "pose": [1, 2, 0], "speed": 9}]}, "speed"),
    ({"actors": [{"name": "a", "pose": [1, 2, 0], "fall_style": "dive"}]}, "fall_style"),
])
def test_bad_actor_files_name_the_problem(data, words):
    with pytest.raises(ActorError, match=words):
        parse_actors(data, "test.yaml")
