"""The robot description: generated file up to date, Gazebo's parser and Pinocchio accept it."""
from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pinocchio as pin
import pytest

from carebot.motion import description as desc

LINKS = ("base_footprint", "base_link", "left_wheel", "right_wheel", "front_caster", "rear_caster", "laser",
         "torso_link", "head_pan_link", "head_tilt_link", "camera_link", "camera_optical_frame",
         "arm_base_link", "arm_shoulder_link", "arm_upper_arm_link", "arm_forearm_link", "arm_wrist_1_link",
         "arm_wrist_2_link", "arm_wrist_3_link", "gripper_base_link", "gripper_left_finger_link",
         "gripper_right_finger_link", "gripper_tool_frame")
MOVING = {"left_wheel_joint": "continuous", "right_wheel_joint": "continuous", "head_pan_joint": "revolute",
          "head_tilt_joint": "revolute", "gripper_finger_joint": "prismatic",
          **{name: "revolute" for name in desc.ARM_JOINTS}}


@pytest.fixture(scope="module")
def tree():
    return ET.parse(desc.URDF_PATH).getroot()


@pytest.fixture(scope="module")
def model():
    return pin.buildModelFromUrdf(str(desc.URDF_PATH))


def test_committed_urdf_is_the_generated_one():
    assert desc.URDF_PATH.read_text(encoding="utf-8") == desc.generate_urdf(), \
        "urdf/carebot.urdf is stale: run python -m carebot.motion.description"


def test_names_of_the_contract(tree):
    links = {link.get("name") for link in tree.iter("link")}
    assert set(LINKS) <= links
    joints = {j.get("name"): j for j in tree.iter("joint")}
    for name, kind in MOVING.items():
        assert joints[name].get("type") == kind, name


def test_limits_are_real(tree):
    for joint in tree.iter("joint"):
        if joint.get("type") == "fixed" or joint.find("mimic") is not None:
            continue
        limit = joint.find("limit")
        assert limit is not None, joint.get("name")
        assert float(limit.get("velocity")) > 0 and float(limit.get("effort")) > 0
        if joint.get("type") != "continuous":
            assert float(limit.get("lower")) < float(limit.get("upper")), joint.get("name")


def test_inertias_follow_from_geometry(tree):
    """Every link with a body has mass, a positive definite inertia obeying the triangle inequality."""
    for link in tree.iter("link"):
        inertial = link.find("inertial")
        if inertial is None:
            assert link.find("visual") is None, f"{link.get('name')} has a body but no inertia"
            continue
        mass = float(inertial.find("mass").get("value"))
        i = inertial.find("inertia")
        ixx, iyy, izz = (float(i.get(k)) for k in ("ixx", "iyy", "izz"))
        assert mass > 0 and min(ixx, iyy, izz) > 0
        assert ixx + iyy >= izz and iyy + izz >= ixx and ixx + izz >= iyy, link.get("name")
    # The formulas themselves: a solid cylinder and a box.
    cyl = desc.cylinder_inertia(2.0, 0.1, 0.3)
    assert cyl.izz == pytest.approx(0.01) and cyl.ixx == pytest.approx(2 * (3 * 0.01 + 0.09) / 12)
    box = desc.box_inertia(12.0, 1.0, 2.0, 3.0)
    assert (box.ixx, box.iyy, box.izz) == pytest.approx((13.0, 10.0, 5.0))


def test_pinocchio_kinematics(model):
    data = model.createData()
    q = pin.neutral(model)
    pin.framesForwardKinematics(model, data, q)
    height = lambda frame: data.oMf[model.getFrameId(frame)].translation[2]  # noqa: E731
    assert 0.25 <= height("laser") <= 0.35
    assert 1.2 <= height("camera_link") <= 1.4
    # The camera looks forward: the optical z axis is the base x axis.
    optical = data.oMf[model.getFrameId("camera_optical_frame")].rotation
    assert np.allclose(optical[:, 2], [1, 0, 0], atol=1e-6)
    # The hanging arm clears the top deck of the base and the scan plane.
    assert height("gripper_tool_frame") > desc.BASE_TOP + 0.05
    for name in desc.ARM_JOINTS + desc.HEAD_JOINTS:
        jid = model.getJointId(name)
        idx = model.joints[jid].idx_q
        lim = desc.LIMITS[name]
        assert model.lowerPositionLimit[idx] == pytest.approx(lim.lower)
        assert model.upperPositionLimit[idx] == pytest.approx(lim.upper)
        assert model.velocityLimit[model.joints[jid].idx_v] == pytest.approx(lim.velocity)


def test_lidar_sees_most_of_the_circle():
    """Only the torso column hides the scan plane; it must leave at least 270 degrees."""
    dist = desc.LASER_X - desc.TORSO_X
    hidden = 2 * np.degrees(np.arcsin(desc.TORSO_RADIUS / dist))
    assert 360 - hidden >= 270


@pytest.mark.skipif(shutil.which("ign") is None, reason="Debian ignition-tools is not installed")
def test_gazebo_parser_accepts_it(tmp_path):
    out = subprocess.run(["ign", "sdf", "-p", str(desc.URDF_PATH)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    sdf = ET.fromstring(out.stdout)
    model = sdf.find("model")
    assert model.get("name") == "carebot"
    joints = {j.get("name") for j in model.iter("joint")}
    assert set(MOVING) <= joints
    assert {s.get("type") for s in model.iter("sensor")} >= {"gpu_lidar", "camera"}
    path = tmp_path / "carebot.sdf"
    path.write_text(out.stdout)
    check = subprocess.run(["ign", "sdf", "-k", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "Valid" in check.stdout, check.stdout + check.stderr
