"""Arm and head kinematics from the URDF with Pinocchio (no ROS).

Forward kinematics and frame Jacobians come from Pinocchio's model of
``urdf/carebot.urdf``; the solvers are damped least squares (closed-loop IK as in
Pinocchio's own examples) over a chosen subset of joints, clamped to the URDF limits
on every iteration. Two tasks:

* ``solve_pose``: put a frame at a position (and, weighted, an orientation);
* ``solve_aim``: turn one axis of a frame toward a point (head LookAt, arm pointing).

Frames are those of the URDF; the root is ``base_footprint`` (the robot's base frame).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pinocchio as pin

from carebot.motion.description import ARM_JOINTS, GRIPPER_JOINT, HEAD_JOINTS, URDF_PATH

TOOL_FRAME = "gripper_tool_frame"
CAMERA_FRAME = "camera_link"
TOOL_AXIS = np.array([0.0, 0.0, -1.0])       # the gripper points along -z of its tool frame
CAMERA_AXIS = np.array([1.0, 0.0, 0.0])      # camera_link looks along +x


@dataclass(frozen=True)
class IKResult:
    q: dict[str, float]          # joint name -> position (rad or m), within limits
    error: float                 # remaining task error: m for positions, rad for aiming
    iterations: int
    success: bool


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


class Kinematics:
    """Pinocchio model of the robot with joint-name based helpers."""

    def __init__(self, urdf_path: Path | str = URDF_PATH):
        self.model = pin.buildModelFromUrdf(str(urdf_path))
        self.data = self.model.createData()
        self.names = [n for n in self.model.names[1:]]
        self._q_index = {n: self.model.joints[self.model.getJointId(n)].idx_q for n in self.names}
        self._v_index = {n: self.model.joints[self.model.getJointId(n)].idx_v for n in self.names}
        for name in ARM_JOINTS + HEAD_JOINTS + (GRIPPER_JOINT,):
            if name not in self._q_index:
                raise ValueError(f"{urdf_path}: joint {name} missing")
        self.lower = self.model.lowerPositionLimit.copy()
        self.upper = self.model.upperPositionLimit.copy()
        # Continuous joints (wheels) have cos/sin coordinates: their limits are meaningless here.
        for i in range(self.model.nq):
            if not (np.isfinite(self.lower[i]) and np.isfinite(self.upper[i])):
                self.lower[i], self.upper[i] = -np.inf, np.inf

    # --- joint vectors ------------------------------------------------------------
    def limits(self, name: str) -> tuple[float, float, float, float]:
        """(lower, upper, max velocity, max effort) of a joint, as the URDF gives them."""
        jid = self.model.getJointId(name)
        iq, iv = self._q_index[name], self._v_index[name]
        return (float(self.model.lowerPositionLimit[iq]), float(self.model.upperPositionLimit[iq]),
                float(self.model.velocityLimit[iv]), float(self.model.effortLimit[iv])) if jid else (0, 0, 0, 0)

    def clamp(self, positions: dict[str, float]) -> dict[str, float]:
        """Positions within the URDF limits; unknown joint names raise KeyError."""
        out = {}
        for name, value in positions.items():
            lo, hi, _, _ = self.limits(name)
            out[name] = float(min(max(value, lo), hi))
        return out

    def vector(self, positions: dict[str, float] | None = None) -> np.ndarray:
        q = pin.neutral(self.model)
        for name, value in (positions or {}).items():
            q[self._q_index[name]] = value
        return q

    def positions(self, q: np.ndarray, names) -> dict[str, float]:
        return {n: float(q[self._q_index[n]]) for n in names}

    # --- forward kinematics -------------------------------------------------------
    def frame_pose(self, frame: str, positions: dict[str, float] | None = None) -> pin.SE3:
        """Pose of ``frame`` in base_footprint for the given joint positions (others at zero)."""
        q = self.vector(positions)
        pin.framesForwardKinematics(self.model, self.data, q)
        return self.data.oMf[self.model.getFrameId(frame)].copy()

    def _frame_jacobian(self, q: np.ndarray, frame_id: int) -> np.ndarray:
        pin.computeJointJacobians(self.model, self.data, q)
        pin.updateFramePlacements(self.model, self.data)
        return pin.getFrameJacobian(self.model, self.data, frame_id, pin.LOCAL_WORLD_ALIGNED)

    # --- inverse kinematics -------------------------------------------------------
    def _solve(self, joints, seed: dict[str, float] | None, error_fn, max_iter: int, tol: float,
               damping: float, step: float) -> IKResult:
        q = self.vector(seed)
        cols = [self._v_index[n] for n in joints]
        rows = [self._q_index[n] for n in joints]
        err, jac = error_fn(q)
        it = 0
        for it in range(1, max_iter + 1):
            if np.linalg.norm(err) < tol:
                break
            J = jac[:, cols]
            dq = -J.T @ np.linalg.solve(J @ J.T + damping * np.eye(J.shape[0]), err)
            q[rows] = np.clip(q[rows] + step * dq, self.lower[rows], self.upper[rows])
            err, jac = error_fn(q)
        norm = float(np.linalg.norm(err))
        return IKResult(self.positions(q, joints), norm, it, norm < tol)

    def solve_pose(self, frame: str, position, rotation: np.ndarray | None = None, joints=ARM_JOINTS,
                   seed: dict[str, float] | None = None, orientation_weight: float = 0.3,
                   max_iter: int = 300, tol: float = 5e-3) -> IKResult:
        """Joint positions that put ``frame`` at ``position`` (m, base_footprint), optionally oriented.

        ``rotation`` (3x3) is the desired frame orientation; its error is weighted by
        ``orientation_weight`` (m per rad) against the position error.
        """
        fid = self.model.getFrameId(frame)
        target_p = np.asarray(position, dtype=float)

        def error(q):
            jac = self._frame_jacobian(q, fid)
            placement = self.data.oMf[fid]
            e = placement.translation - target_p
            if rotation is None:
                return e, jac[:3]
            # Orientation error as a rotation vector in the world frame.
            r_err = pin.log3(placement.rotation @ np.asarray(rotation).T)
            return np.concatenate((e, orientation_weight * r_err)), np.vstack((jac[:3], orientation_weight * jac[3:]))

        return self._solve(joints, seed, error, max_iter, tol, 1e-4, 0.5)

    def solve_aim(self, frame: str, axis, target, joints, seed: dict[str, float] | None = None,
                  max_iter: int = 200, tol: float = 1e-3) -> IKResult:
        """Joint positions that turn ``axis`` (in ``frame``) toward ``target`` (m, base_footprint).

        The error is axis x direction (its norm is the sine of the angle between them), so
        the seed must face the target's half-space; the result's ``error`` is the angle in rad.
        """
        fid = self.model.getFrameId(frame)
        axis_local = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
        target_p = np.asarray(target, dtype=float)

        def error(q):
            jac = self._frame_jacobian(q, fid)
            placement = self.data.oMf[fid]
            a = placement.rotation @ axis_local
            offset = target_p - placement.translation
            dist = max(np.linalg.norm(offset), 1e-6)
            d = offset / dist
            e = np.cross(a, d)
            # d(a x d)/dq from the frame's angular (w) and linear (v) Jacobians.
            j_e = _skew(d) @ _skew(a) @ jac[3:] - _skew(a) @ (np.eye(3) - np.outer(d, d)) @ jac[:3] / dist
            return e, j_e

        result = self._solve(joints, seed, error, max_iter, tol, 1e-3, 0.8)
        angle = self.aim_error(frame, axis_local, target_p, {**(seed or {}), **result.q})
        return IKResult(result.q, angle, result.iterations, angle < max(tol * 5, 0.01))

    def aim_error(self, frame: str, axis, target, positions: dict[str, float]) -> float:
        """Angle (rad) between ``axis`` of ``frame`` and the direction to ``target``."""
        pose = self.frame_pose(frame, positions)
        a = pose.rotation @ (np.asarray(axis, dtype=float) / np.linalg.norm(axis))
        d = np.asarray(target, dtype=float) - pose.translation
        d = d / max(np.linalg.norm(d), 1e-9)
        return float(np.arccos(np.clip(a @ d, -1.0, 1.0)))
