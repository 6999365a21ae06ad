"""Rules for the arm near people and while the base turns (no ROS).

* **Tucked arm**: the arm lies inside the round footprint (seen from above), so turning the
  base in place sweeps nothing the base itself does not. ``ArmFootprint`` decides it from the
  joint positions by forward kinematics on the URDF (the rest pose and the hanging arm both
  count; a waving, pointing or handing arm does not).
* **Turn in place**: a turn about a point inside the footprint (|v| < footprint radius x |w|).
  base_safety holds such turns while the arm is not known to be tucked; the navigator asks
  arm_head for ``rest`` before one.
* **Gestures near people**: an arm gesture (wave, point, handover) does not start while a
  person is within the site's ``gesture_person_distance`` of the robot's centre, while a
  person is seen whose distance is unknown, or while there is no fresh person data at all.
  Head-only gestures (nod) and folding the arm to rest (which only brings it in) are free.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from carebot.motion.description import ARM_JOINTS, FOOTPRINT_RADIUS
from carebot.motion.gestures import GestureName

# Links of the arm and gripper whose origins, with the tool point, outline the arm: the
# links are straight between consecutive origins, so the widest point is one of them.
ARM_FRAMES = ("arm_shoulder_link", "arm_upper_arm_link", "arm_forearm_link", "arm_wrist_1_link",
              "arm_wrist_2_link", "arm_wrist_3_link", "gripper_base_link", "gripper_left_finger_link",
              "gripper_right_finger_link", "gripper_tool_frame")
# m from the arm's centre line to its surface: the forearm and wrist links are 3 cm in radius
# (description.py). Tucked is judged on the centre line: at rest it is 0.238 m from the base
# centre (the surface 0.268 m, inside the 0.27 m footprint), and the 3 cm to the edge absorb the
# arm's tracking error (0.04 rad measured in the simulation moves the wrist ~1 cm).
ARM_LINK_RADIUS = 0.03
ARM_GESTURES = (GestureName.WAVE, GestureName.POINT, GestureName.HANDOVER)


def in_place_turn(linear: float, angular: float, footprint_radius: float = FOOTPRINT_RADIUS) -> bool:
    """A turn about a point inside the footprint (a stretched-out arm would sweep round the robot)."""
    return abs(angular) > 0.0 and abs(linear) < footprint_radius * abs(angular)


class ArmFootprint:
    """How far the arm reaches out from the base centre, from its joint positions."""

    def __init__(self, kinematics=None, footprint_radius: float = FOOTPRINT_RADIUS):
        if kinematics is None:
            from carebot.motion.kinematics import Kinematics     # Pinocchio: only when used
            kinematics = Kinematics()
        self.kin = kinematics
        self.footprint_radius = footprint_radius

    def reach(self, joints: dict[str, float]) -> float | None:
        """Largest horizontal distance (m) of the arm's centre line from the base centre; None when
        an arm joint is missing or not finite (the arm's pose is unknown)."""
        arm = {}
        for name in ARM_JOINTS:
            value = joints.get(name)
            if value is None or not math.isfinite(value):
                return None
            arm[name] = float(value)
        q = self.kin.vector(arm)
        import pinocchio as pin
        pin.framesForwardKinematics(self.kin.model, self.kin.data, q)
        widest = 0.0
        for frame in ARM_FRAMES:
            p = self.kin.data.oMf[self.kin.model.getFrameId(frame)].translation
            widest = max(widest, math.hypot(float(p[0]), float(p[1])))
        return widest

    def tucked(self, joints: dict[str, float]) -> bool:
        """True when the arm's centre line is inside the footprint; False when it is out or unknown."""
        reach = self.reach(joints)
        return reach is not None and reach <= self.footprint_radius


@dataclass(frozen=True)
class PersonSeen:
    """One person from perception, in the base frame; ``xy`` None when the distance is unknown."""

    xy: tuple[float, float] | None


def gesture_refusal(gesture: GestureName, persons: Iterable[PersonSeen] | None, distance: float) -> str:
    """Why gesture must not start now ('' when it may).

    ``persons`` are the people of a fresh perception message, or None when there is none
    (then nobody can be ruled out). ``distance`` (m) is from the robot's centre to a person's
    reported floor position.
    """
    if gesture not in ARM_GESTURES:
        return ""
    if persons is None:
        return (f"no fresh perception/persons: cannot check that nobody is within {distance:.2f} m "
                f"of the arm, {gesture.value} not started")
    nearest = math.inf
    for person in persons:
        if person.xy is None:
            return f"a person is in view at an unknown distance: {gesture.value} not started"
        x, y = person.xy
        if not (math.isfinite(x) and math.isfinite(y)):
            return f"a person is in view at an unknown distance: {gesture.value} not started"
        nearest = min(nearest, math.hypot(x, y))
    if nearest <= distance:
        return f"a person is {nearest:.2f} m away (closer than {distance:.2f} m): {gesture.value} not started"
    return ""


def persons_from(positions: Sequence[tuple[bool, float, float]]) -> list[PersonSeen]:
    """(has_position, x, y) triples as PersonSeen."""
    return [PersonSeen((x, y) if has else None) for has, x, y in positions]


class EstopWatch:
    """arm_head's view of the emergency stop, from ``safety/estop`` itself and from robot/status.

    base_safety owns the latch (and its file); arm_head must also stop when base_safety is
    down, so ``safety/estop`` = true latches here too. That local latch is released only by
    base_safety's reset: a robot/status with ``emergency_stop`` false *after* one with true.
    While base_safety does not hold the stop (it was down, or restarted without it),
    ``needs_trigger`` asks the node to latch it there (safety/trigger_estop), so the one reset
    path (base_safety's, recorded) releases both.
    """

    def __init__(self) -> None:
        self.status_known = False       # a robot/status has been received
        self.status_engaged = False     # base_safety's latch, as last reported
        self.topic_latched = False      # safety/estop = true seen, not yet reset through base_safety
        self._held_by_base = False      # base_safety has reported the stop since the topic latched

    @property
    def engaged(self) -> bool:
        return self.topic_latched or self.status_engaged

    def on_topic(self, value: bool) -> bool:
        """safety/estop; returns True when this engages the stop (it was not engaged)."""
        if not value:
            return False                # false is no reset (as in base_safety)
        was = self.engaged
        if not self.topic_latched:
            self.topic_latched = True
            self._held_by_base = self.status_engaged
        return not was

    def on_status(self, engaged: bool) -> bool:
        """robot/status; returns True when this engages the stop (it was not engaged)."""
        was = self.engaged
        self.status_known = True
        self.status_engaged = bool(engaged)
        if self.topic_latched:
            if engaged:
                self._held_by_base = True
            elif self._held_by_base:
                self.topic_latched = False      # base_safety held it and has been reset
        return self.engaged and not was

    @property
    def needs_trigger(self) -> bool:
        """The stop is latched here but base_safety does not (yet) hold it."""
        return self.topic_latched and not self._held_by_base
