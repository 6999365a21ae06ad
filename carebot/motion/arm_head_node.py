"""The arm and head node: Gesture and LookAt actions (thin adapter of ``GesturePlanner``).

Publishes ``arm_controller/joint_trajectory`` and ``head_controller/joint_trajectory``
(trajectory_msgs/JointTrajectory, within the URDF limits) and ``arm_head/task`` (latched);
subscribes ``joint_states`` (to check that a gesture reached its target), ``perception/persons``
(LookAt a tracked person; no arm gesture starts with a person within ``gesture_person_distance``),
``odom`` (LookAt a map-frame point), ``robot/status`` and ``safety/estop`` (an engaged e-stop
holds the arm and head, ends running goals and refuses new ones until base_safety resets it;
``safety/estop`` works even while base_safety is down, see ``arm_guard.EstopWatch``).
Every action has a timeout: the trajectory's duration plus ``settle_timeout``.
"""
from __future__ import annotations

import sys
import math
import threading
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Duration
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from carebot_interfaces.action import Gesture, LookAt
from carebot_interfaces.msg import Person, PersonArray, RobotStatus

from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.motion.arm_guard import EstopWatch, PersonSeen, gesture_refusal
from carebot.motion.arm_head import GestureRun, LookRun, SeenPerson, Step, look_target, start_refusal
from carebot.motion.description import ARM_JOINTS, GRIPPER_JOINT, HEAD_JOINTS
from carebot.motion.gestures import REST_HEAD, GestureError, GestureName, GesturePlanner
from carebot.frames import PlanarPose, finite, yaw_of
from carebot.motion.description import BASE_FRAMES
from carebot.motion.parameters import ARM_HEAD
from carebot.ros_common import LATCHED_QOS, RELIABLE_QOS, LatestMessage, declare_table
from carebot.motion.trajectory import Trajectory, Waypoint
from carebot.node_runner import run_node

FEEDBACK_PERIOD_S = 0.2
PERSON_WAIT_S = 2.0            # s a LookAt waits to see the tracked person
STAY_GESTURES = (GestureName.POINT, GestureName.HANDOVER)
PERSON_DATA_WAIT_S = 2.0       # s an arm gesture waits for fresh perception/persons (perception runs at a few Hz)
RETRIGGER_S = 1.0              # s between asks to base_safety to latch a stop it does not hold
# Joint states since the last look: those of several publishers (arm, head controllers) all count.
SINCE_LAST_LOOK_QOS = QoSProfile(depth=32, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)


def trajectory_msg(traj: Trajectory) -> JointTrajectory:
    msg = JointTrajectory()
    msg.joint_names = list(traj.joint_names)          # header stamp zero: start on arrival
    for p in traj.points:
        point = JointTrajectoryPoint()
        point.positions = [float(v) for v in p.positions]
        point.velocities = [float(v) for v in p.velocities]
        sec = int(p.time)
        point.time_from_start = Duration(sec=sec, nanosec=int(round((p.time - sec) * 1e9)) % 1_000_000_000)
        msg.points.append(point)
    return msg


class ArmHeadNode(Node):
    def __init__(self) -> None:
        super().__init__("arm_head")
        p = declare_table(self, ARM_HEAD)              # ParameterError (a ValueError) stops the start
        speed_scale = p["speed_scale"]
        self.tolerance = p["joint_tolerance"]
        self.settle_timeout = p["settle_timeout"]
        self.look_tolerance = p["look_tolerance"]
        self.look_timeout = p["look_timeout"]
        self.rest_after = p["return_to_rest_after"]
        self.person_height = p["person_look_height"]
        self.fallen_height = p["fallen_look_height"]
        self.persons_timeout = p["persons_timeout"]
        self.joints_wait = p["joint_states_wait"]
        self.rest_on_start = p["rest_on_start"]
        self.person_distance = p["gesture_person_distance"]
        self.planner = GesturePlanner(speed_scale=speed_scale)
        self._lock = threading.Lock()
        self._joints: dict[str, float] = {}
        self._joints_stamp = -math.inf
        self._persons: dict[int, SeenPerson] = {}
        self._persons_frame = ""
        self._persons_stamp = -math.inf
        self._pose: PlanarPose | None = None
        self._gesture_handle = None
        self._look_handle = None
        self._generation = 0                  # bumps on every gesture, so a late rest timer is dropped
        self._rest_timer = None
        self._rested = False
        self.watch = EstopWatch()
        self._people: list[PersonSeen] = []
        self._rest_wait_logged = False
        self._last_trigger = -math.inf
        self._topic_latched_at = -math.inf
        self._done = {"gestures": 0, "look_at": 0, "failures": 0, "refused_near_people": 0}
        sensors = MutuallyExclusiveCallbackGroup()
        # Joint states and odometry (50 Hz each) are taken when a goal or a check needs them, not
        # one callback per message: a waiting arm_head must not wake 100 times a second (docs/budget.md).
        self.joint_states = LatestMessage(self, JointState, "joint_states", SINCE_LAST_LOOK_QOS)
        self.odom = LatestMessage(self, Odometry, "odom")
        self.persons = LatestMessage(self, PersonArray, "perception/persons")   # taken when a goal looks
        self.create_subscription(RobotStatus, "robot/status", self._on_status, LATCHED_QOS, callback_group=sensors)
        self.create_subscription(Bool, "safety/estop", self._on_estop_topic, RELIABLE_QOS, callback_group=sensors)
        self.trigger_client = self.create_client(Trigger, "safety/trigger_estop", callback_group=sensors)
        self.arm_pub = self.create_publisher(JointTrajectory, "arm_controller/joint_trajectory", RELIABLE_QOS)
        self.head_pub = self.create_publisher(JointTrajectory, "head_controller/joint_trajectory", RELIABLE_QOS)
        self.task_pub = self.create_publisher(String, "arm_head/task", LATCHED_QOS)
        self.task_pub.publish(String(data=""))
        actions = ReentrantCallbackGroup()
        self._gesture_server = ActionServer(
            self, Gesture, "gesture", execute_callback=self._execute_gesture,
            goal_callback=lambda g: GoalResponse.ACCEPT, handle_accepted_callback=self._accept_gesture,
            cancel_callback=lambda h: CancelResponse.ACCEPT, callback_group=actions)
        self._look_server = ActionServer(
            self, LookAt, "look_at", execute_callback=self._execute_look,
            goal_callback=lambda g: GoalResponse.ACCEPT, handle_accepted_callback=self._accept_look,
            cancel_callback=lambda h: CancelResponse.ACCEPT, callback_group=actions)
        self.diagnostics = DiagnosticsPublisher(self)
        self.health = HealthReport("carebot/arm_head")
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics, callback_group=sensors)
        self.create_timer(RETRIGGER_S, self._sync_estop, callback_group=sensors)

    # --- sensors -------------------------------------------------------------------
    def _look(self) -> None:
        """Take the joint states, odometry and people that arrived since the last look."""
        persons = self.persons.take()
        if persons is not None:
            self._on_persons(persons, self.persons.received_at)
        with self._lock:
            for msg, received in self.joint_states.take_all():
                for name, pos in zip(msg.name, msg.position):
                    if math.isfinite(pos):
                        self._joints[name] = float(pos)
                self._joints_stamp = received
            odom = self.odom.take()
            if odom is not None:
                p = odom.pose.pose
                yaw = yaw_of(p.orientation)
                if finite(p.position.x, p.position.y, yaw):
                    self._pose = PlanarPose(p.position.x, p.position.y, yaw)

    def _maybe_rest_on_start(self) -> None:
        """Fold once joint_states are in, but never under an e-stop or before its state is known."""
        if not self.rest_on_start or self._rested:
            return
        self._look()
        if not self._joints:
            return
        if not self.watch.status_known or self._estop:
            if not self._rest_wait_logged:
                self._rest_wait_logged = True
                self.get_logger().info("arm not folded yet: waiting for robot/status without an emergency stop")
            return
        if not self._claim_start_fold():
            return
        self._send(self.planner.plan("rest", self.joints()).arm)
        self._send(self.planner.trajectory(HEAD_JOINTS, self.joints(), [Waypoint(REST_HEAD)]), head=True)
        self.get_logger().info("arm folded to rest, head centred")

    def _on_persons(self, msg: PersonArray, received: float) -> None:
        with self._lock:
            self._persons = {p.track_id: SeenPerson(p.position.x, p.position.y, p.state == Person.STATE_FALLEN)
                             for p in msg.persons if p.has_position and p.track_id >= 0}
            self._persons_frame = msg.header.frame_id
            self._persons_stamp = received
            # Every person counts for the gesture rule; one whose floor point is unknown (feet out
            # of view: often someone close) or given in a frame we cannot place is at an unknown distance.
            in_base = msg.header.frame_id in BASE_FRAMES
            self._people = [PersonSeen((p.position.x, p.position.y) if p.has_position and in_base else None)
                            for p in msg.persons]

    def _claim_start_fold(self) -> bool:
        """The automatic fold on start happens once, and not after a goal has taken the arm and
        head over (both would send trajectories and the later one would win)."""
        with self._lock:
            if self._rested:
                return False
            self._rested = True
            return True

    @property
    def _estop(self) -> bool:
        return self.watch.engaged

    def _on_status(self, msg: RobotStatus) -> None:
        if self.watch.on_status(bool(msg.emergency_stop)):
            self._stop_all("emergency stop (robot/status)")
        self._maybe_rest_on_start()

    def _on_estop_topic(self, msg: Bool) -> None:
        if msg.data and not self.watch.topic_latched:
            self._topic_latched_at = time.monotonic()
        if self.watch.on_topic(bool(msg.data)):
            self._stop_all("emergency stop (safety/estop)")

    def _stop_all(self, why: str) -> None:
        # The e-stop holds the arm and head too: stop where they are; running goals end on their next check.
        self._hold(ARM_JOINTS)
        self._hold(HEAD_JOINTS)
        self.get_logger().warning(f"{why}: arm and head held")

    def _sync_estop(self) -> None:
        """Ask base_safety to latch a stop seen on safety/estop that it does not hold (it was down)."""
        now = time.monotonic()
        # A running base_safety latches on the same message: give it RETRIGGER_S to say so.
        if not self.watch.needs_trigger or now - self._topic_latched_at < RETRIGGER_S \
                or now - self._last_trigger < RETRIGGER_S:
            return
        if self.watch.status_known and self.watch.status_engaged:
            return
        if self.trigger_client.service_is_ready():
            self._last_trigger = time.monotonic()
            self.trigger_client.call_async(Trigger.Request())
            self.get_logger().warning("safety/estop seen but base_safety does not hold the stop: "
                                      "asked it to latch (safety/trigger_estop)")

    def joints(self) -> dict[str, float]:
        self._look()
        with self._lock:
            return dict(self._joints)

    def _start_refusal(self, what: str) -> str:
        """Why a goal must not start ('' when it may), after waiting for the first robot/status
        and joint_states (start-up)."""
        if self._estop:
            return start_refusal(True, True, True, what)
        status_known = self._wait_status()
        joints_ready = status_known and not self._estop and self._wait_joints()
        return start_refusal(self._estop, status_known, joints_ready, what)

    def _wait_status(self) -> bool:
        """Wait (start-up: base_safety loads its map) for the first robot/status, up to joint_states_wait."""
        deadline = time.monotonic() + self.joints_wait
        while not self.watch.status_known and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.watch.status_known

    def _wait_joints(self) -> bool:
        deadline = time.monotonic() + self.joints_wait
        while time.monotonic() < deadline:
            self._look()
            if time.monotonic() - self._joints_stamp < 1.0 and all(n in self._joints for n in ARM_JOINTS + HEAD_JOINTS):
                return True
            time.sleep(0.05)
        return False

    def _send(self, traj: Trajectory | None, head: bool = False) -> None:
        if traj is not None:
            (self.head_pub if head else self.arm_pub).publish(trajectory_msg(traj))

    def _hold(self, names) -> None:
        """Stop where the joints are now (a one-point trajectory)."""
        now = self.joints()
        msg = JointTrajectory()
        msg.joint_names = [n for n in names if n in now]
        point = JointTrajectoryPoint(positions=[now[n] for n in msg.joint_names],
                                     time_from_start=Duration(sec=0, nanosec=100_000_000))
        msg.points.append(point)
        if msg.joint_names:
            (self.head_pub if names == HEAD_JOINTS else self.arm_pub).publish(msg)

    # --- gestures ------------------------------------------------------------------
    def _accept_gesture(self, handle) -> None:
        self._gesture_handle = handle
        self._generation += 1
        handle.execute()

    def _fail(self, handle, result, message: str, canceled: bool = False):
        result.success = False
        result.message = message
        self._done["failures"] += 1
        self.get_logger().warning(f"{type(result).__name__.split('_')[0]} failed: {message}")
        if canceled and handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.abort()
        return result

    def _execute_gesture(self, handle):
        result = Gesture.Result()
        goal = handle.request
        refusal = self._start_refusal("arm")
        if refusal:
            return self._fail(handle, result, refusal)
        refusal = self._people_refusal(goal.name)
        if refusal:
            self._done["refused_near_people"] += 1
            return self._fail(handle, result, refusal)
        self._claim_start_fold()
        target = (goal.target.x, goal.target.y, goal.target.z)
        try:
            plan = self.planner.plan(goal.name, self.joints(), target)
        except GestureError as exc:
            return self._fail(handle, result, str(exc))
        name = GestureName(goal.name.strip().lower())
        generation = self._generation
        self._send(plan.arm)
        self._send(plan.head, head=True)
        if plan.gripper is not None:
            self._send(self.planner.trajectory((GRIPPER_JOINT,), self.joints(),
                                               [Waypoint({GRIPPER_JOINT: plan.gripper})]))
        self.task_pub.publish(String(data=f"gesture:{name.value}"))
        self.get_logger().info(f"gesture {name.value}: {plan.duration:.1f} s")
        targets = {**(plan.arm.final if plan.arm else {}), **(plan.head.final if plan.head else {})}
        run = GestureRun(targets, plan.duration, self.tolerance, self.settle_timeout, time.monotonic())
        step = self._supervise(
            handle, lambda: run.step(time.monotonic(), self.joints(), handle.is_cancel_requested,
                                     self._gesture_handle is not handle, self._estop),
            lambda s: Gesture.Feedback(progress=s.feedback), (ARM_JOINTS, HEAD_JOINTS),
            lambda: self._gesture_handle is handle)
        if not step.success:
            if math.isfinite(step.error):
                result.max_joint_error = float(step.error)
            return self._fail(handle, result, step.message or "shutting down", canceled=step.canceled)
        error = step.error
        if name in STAY_GESTURES and self.rest_after > 0:
            self._schedule_rest(generation)
        result.success = True
        result.max_joint_error = float(error)
        result.message = f"{name.value} done" + (f", aim error {math.degrees(plan.aim_error):.1f} deg"
                                                 if name is GestureName.POINT else "")
        self._done["gestures"] += 1
        handle.succeed()
        return result

    def _supervise(self, handle, step, feedback, hold: tuple, current) -> Step:
        """Step a goal until it ends (the pure supervisor decides): hold ``hold`` joint groups
        when it says so, feedback while it measures, paced; clear the task when this goal ends."""
        last = Step(False, message="shutting down")
        try:
            while rclpy.ok():
                last = step()
                if last.hold:
                    for names in hold:
                        self._hold(names)
                if math.isfinite(last.error):        # measured (not ended by cancel, preemption, e-stop)
                    handle.publish_feedback(feedback(last))
                if last.done:
                    break
                time.sleep(FEEDBACK_PERIOD_S / 2)
        finally:
            if current():
                self.task_pub.publish(String(data=""))
        return last

    def _people_refusal(self, name: str) -> str:
        """Why an arm gesture must not start near people ('' when it may; unknown names pass
        through to the planner, which names the known gestures)."""
        try:
            gesture = GestureName(name.strip().lower())
        except ValueError:
            return ""
        deadline = time.monotonic() + PERSON_DATA_WAIT_S
        while True:
            self._look()
            with self._lock:
                fresh = time.monotonic() - self._persons_stamp <= self.persons_timeout
                people = list(self._people) if fresh else None
            if people is not None or time.monotonic() >= deadline:
                return gesture_refusal(gesture, people, self.person_distance)
            time.sleep(0.05)

    def _schedule_rest(self, generation: int) -> None:
        def fold():
            if self._rest_timer is not None:
                self._rest_timer.cancel()
                self.destroy_timer(self._rest_timer)
                self._rest_timer = None
            if generation == self._generation and not self._estop:   # no newer gesture, no e-stop
                self._send(self.planner.plan("rest", self.joints()).arm)
                self._send(self.planner.trajectory((GRIPPER_JOINT,), self.joints(), [Waypoint({GRIPPER_JOINT: 0.0})]))
                self.get_logger().info("arm back to rest")
        if self._rest_timer is not None:
            self._rest_timer.cancel()
            self.destroy_timer(self._rest_timer)
        self._rest_timer = self.create_timer(self.rest_after, fold)

    # --- look at -------------------------------------------------------------------
    def _accept_look(self, handle) -> None:
        self._look_handle = handle
        handle.execute()

    def _look_target(self, goal) -> tuple[np.ndarray | None, str]:
        """Target point in base_footprint, or None and why."""
        self._look()
        with self._lock:
            fresh = time.monotonic() - self._persons_stamp <= self.persons_timeout
            persons, frame = (dict(self._persons) if fresh else None), self._persons_frame
        point = goal.target.point
        return look_target(goal.track_id, persons, frame, (point.x, point.y, point.z),
                           goal.target.header.frame_id, self._pose, self.person_height, self.fallen_height)

    def _execute_look(self, handle):
        result = LookAt.Result()
        goal = handle.request
        refusal = self._start_refusal("head")
        if refusal:
            return self._fail(handle, result, refusal)
        self._claim_start_fold()
        deadline_seen = time.monotonic() + PERSON_WAIT_S
        target, why = self._look_target(goal)
        while target is None and goal.track_id >= 0 and time.monotonic() < deadline_seen:
            time.sleep(0.1)
            target, why = self._look_target(goal)
        if target is None:
            return self._fail(handle, result, why)
        tracking = goal.track_id >= 0
        run = LookRun(tracking, float(goal.duration), self.look_tolerance, self.look_timeout, time.monotonic())
        aim = {"target": target, "reach_error": 0.0}
        what = f"person {goal.track_id}" if tracking else "point"
        self.task_pub.publish(String(data=f"look_at:{what}"))

        def look_step() -> Step:
            now = time.monotonic()
            if run.aim_due(now):
                if tracking:                          # follow the person: their newest position
                    new_target, _ = self._look_target(goal)
                    aim["target"] = new_target if new_target is not None else aim["target"]
                traj, _, aim["reach_error"] = self.planner.look_at(aim["target"], self.joints())
                self._send(traj, head=True)
                run.aimed(now)
            error = self.planner.head_error(aim["target"], self.joints())
            return run.step(now, error, aim["reach_error"], handle.is_cancel_requested,
                            self._look_handle is not handle, self._estop)

        step = self._supervise(handle, look_step, lambda s: LookAt.Feedback(angle_error=float(s.feedback)),
                               (HEAD_JOINTS,), lambda: self._look_handle is handle)
        if not step.success:
            return self._fail(handle, result, step.message or "shutting down", canceled=step.canceled)
        error = step.error
        result.success = True
        result.message = f"looking at the target, error {math.degrees(error):.1f} deg"
        self._done["look_at"] += 1
        handle.succeed()
        return result

    def _publish_diagnostics(self) -> None:
        self._look()
        self._maybe_rest_on_start()      # joint states are looked at here and with robot/status, not on arrival
        if self._estop:
            self.health.set(Level.WARN, "emergency stop engaged: arm and head held", **self._done)
        elif time.monotonic() - self._joints_stamp > 1.0:
            self.health.set(Level.WARN, "no joint_states", **self._done)
        elif not self.watch.status_known:
            self.health.set(Level.WARN, "no robot/status: gestures wait for base_safety", **self._done)
        else:
            self.health.set(Level.OK, "ready", **self._done)
        self.diagnostics.publish(self.health)


def main(args: list[str] | None = None) -> int:
    return run_node(ArmHeadNode, name="arm_head", threads=4, args=args)


if __name__ == "__main__":
    sys.exit(main())
