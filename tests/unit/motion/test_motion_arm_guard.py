"""Arm rules without ROS: tucked or not (forward kinematics), turning in place, gestures near
people, arm_head's own view of the e-stop, and the site distances against the arm's real sweep."""
from __future__ import annotations

import math

import pytest
import yaml

from carebot.bringup import SITES, site_config
from carebot.motion.arm_guard import (ARM_GESTURES, ARM_LINK_RADIUS, ArmFootprint, EstopWatch, PersonSeen, gesture_refusal,
                                      in_place_turn)
from carebot.motion.description import ARM_JOINTS, FOOTPRINT_RADIUS
from carebot.motion.gestures import ARM_UP, REST_ARM, GestureName, GesturePlanner

PERSON_RADIUS = 0.25        # m, a person as a disc (as the safety layer takes them)


@pytest.fixture(scope="module")
def planner():
    return GesturePlanner()


@pytest.fixture(scope="module")
def footprint(planner):
    return ArmFootprint(planner.kin)


def test_rest_and_hanging_arm_are_tucked_gestures_are_not(footprint, planner):
    assert footprint.tucked(REST_ARM), footprint.reach(REST_ARM)
    assert footprint.reach(REST_ARM) + ARM_LINK_RADIUS < FOOTPRINT_RADIUS      # its surface too
    # the simulation tracks rest within ~0.04 rad: still tucked
    for sign in (1, -1):
        assert footprint.tucked({n: q + sign * 0.05 for n, q in REST_ARM.items()})
    hanging = {n: 0.0 for n in ARM_JOINTS}            # the simulation's start pose
    assert footprint.tucked(hanging), footprint.reach(hanging)
    assert not footprint.tucked(ARM_UP)
    assert not footprint.tucked(planner.handover_pose())
    assert footprint.reach({}) is None and not footprint.tucked({})                   # unknown: not tucked
    assert not footprint.tucked({**REST_ARM, "arm_elbow_joint": math.nan})


def test_in_place_turn():
    assert in_place_turn(0.0, 0.5) and in_place_turn(0.05, 0.5)
    assert not in_place_turn(0.3, 0.5) and not in_place_turn(0.2, 0.0)


def test_gestures_near_people():
    far = [PersonSeen((2.0, 0.5))]
    assert gesture_refusal(GestureName.WAVE, far, 1.0) == ""
    assert "0.80 m away" in gesture_refusal(GestureName.WAVE, [PersonSeen((0.8, 0.0))], 1.0)
    assert "unknown distance" in gesture_refusal(GestureName.HANDOVER, far + [PersonSeen(None)], 1.0)
    assert "unknown distance" in gesture_refusal(GestureName.POINT, [PersonSeen((math.nan, 1.0))], 1.0)
    assert "no fresh perception/persons" in gesture_refusal(GestureName.POINT, None, 1.0)
    assert gesture_refusal(GestureName.WAVE, [], 1.0) == ""
    # head-only gestures and folding the arm in are free
    for name in (GestureName.NOD, GestureName.REST):
        assert gesture_refusal(name, [PersonSeen((0.5, 0.0))], 1.0) == ""
        assert gesture_refusal(name, None, 1.0) == ""


def _sweep(footprint, planner, name, target=None) -> float:
    """Widest reach (m from the centre, to the arm's surface) along a gesture's whole trajectory."""
    plan = planner.plan(name, dict(REST_ARM), target)
    traj = plan.arm                                   # sampled at 10 Hz with minimum-jerk segments
    return ARM_LINK_RADIUS + max(footprint.reach(dict(zip(traj.joint_names, point.positions)))
                                 for point in traj.points)


@pytest.mark.parametrize("site", SITES)
def test_site_distance_keeps_people_out_of_every_arm_gestures_sweep(site, footprint, planner):
    distance = yaml.safe_load(site_config(site).read_text())["arm_head"]["ros__parameters"]["gesture_person_distance"]
    sweeps = {name: _sweep(footprint, planner, name.value) for name in ARM_GESTURES if name is not GestureName.POINT}
    sweeps[GestureName.POINT] = max(_sweep(footprint, planner, "point", target) for target in
                                    ((2.0, -1.0, 0.5), (2.0, 1.0, 1.5), (1.0, -2.0, 0.3), (3.0, 0.0, 2.5), (0.5, -1.5, 1.0)))
    print(site, {k.value: round(v, 3) for k, v in sweeps.items()}, "distance", distance)
    for name, reach in sweeps.items():
        assert reach + PERSON_RADIUS < distance, (name, reach)


def test_estop_watch_latches_on_the_topic_and_releases_only_through_base_safety():
    watch = EstopWatch()
    assert not watch.engaged and not watch.status_known
    assert watch.on_status(False) is False
    assert watch.on_topic(False) is False and not watch.engaged          # false is no reset
    assert watch.on_topic(True) is True and watch.engaged
    assert watch.needs_trigger                                           # base_safety does not hold it (yet)
    assert watch.on_status(False) is False and watch.engaged             # an old status is no reset
    assert watch.on_status(True) is False and not watch.needs_trigger    # base_safety holds it now
    assert watch.on_status(False) is False and not watch.engaged         # base_safety was reset: released
    # status first (base_safety latched on the same message), topic after: the reset still releases
    assert watch.on_status(True) is True
    assert watch.on_topic(True) is False and not watch.needs_trigger
    watch.on_status(False)
    assert not watch.engaged
    # base_safety down: latched here until it comes back, holds the stop, and is reset
    watch = EstopWatch()
    watch.on_topic(True)
    assert watch.engaged and watch.needs_trigger and not watch.status_known
    watch.on_status(False)
    assert watch.engaged and watch.needs_trigger
    watch.on_status(True)
    watch.on_status(False)
    assert not watch.engaged
