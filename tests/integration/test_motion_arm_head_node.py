"""The arm_head node over real DDS with a stand-in joint controller in the test process.

The stand-in follows each JointTrajectory by linear interpolation of its points and publishes
joint_states, as the simulation's controller does (simulated dynamics belong to the sim tests).
"""
from __future__ import annotations

import math
import os
import threading
import time

import pytest

from carebot.bringup import site_config
from carebot.motion.description import ARM_JOINTS, GRIPPER_JOINT, HEAD_JOINTS
from carebot.motion.gestures import GesturePlanner, REST_ARM
from carebot.motion.kinematics import TOOL_AXIS, TOOL_FRAME
from carebot.ros_common import RELIABLE_QOS, SENSOR_QOS
from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for

pytestmark = pytest.mark.ros


class JointsStandIn:
    def __init__(self, env):
        import rclpy
        from carebot.ros_common import ActionClient
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory
        from carebot_interfaces.action import Gesture, LookAt
        from carebot_interfaces.msg import Person, PersonArray

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("arm_test_peer", context=self.context)
        self.q = {n: 0.0 for n in ARM_JOINTS + HEAD_JOINTS + (GRIPPER_JOINT,)}
        self.active: dict[str, tuple[float, list]] = {}      # joint -> (start, [(t, q)])
        self.trajectories = []
        self.lock = threading.Lock()
        self.JointState, self.Person, self.PersonArray = JointState, Person, PersonArray
        self.Gesture, self.LookAt = Gesture, LookAt
        for topic in ("arm_controller/joint_trajectory", "head_controller/joint_trajectory"):
            self.node.create_subscription(JointTrajectory, topic, self._on_traj, RELIABLE_QOS)
        self.js_pub = self.node.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.persons_pub = self.node.create_publisher(PersonArray, "perception/persons", SENSOR_QOS)
        from carebot_interfaces.msg import RobotStatus
        from carebot.ros_common import LATCHED_QOS
        self.RobotStatus = RobotStatus
        self.status_pub = self.node.create_publisher(RobotStatus, "robot/status", LATCHED_QOS)
        self.persons = []                # (track id, x, y); x None: a person without a floor position
        self.publish_persons = True      # False: perception is silent
        from std_msgs.msg import Bool
        from std_srvs.srv import Trigger
        self.Bool = Bool
        self.estop_pub = self.node.create_publisher(Bool, "safety/estop", RELIABLE_QOS)
        self.triggers: list[float] = []  # when arm_head asked base_safety to latch the stop

        def on_trigger(request, response):
            self.triggers.append(time.monotonic())
            response.success = True
            return response
        self.node.create_service(Trigger, "safety/trigger_estop", on_trigger)
        self.gesture = ActionClient(self.node, Gesture, "gesture")
        self.look = ActionClient(self.node, LookAt, "look_at")
        self.node.create_timer(0.02, self._step)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def _on_traj(self, msg):
        now = time.monotonic()
        with self.lock:
            self.trajectories.append(msg)
            for i, name in enumerate(msg.joint_names):
                pts = [(p.time_from_start.sec + p.time_from_start.nanosec * 1e-9, p.positions[i]) for p in msg.points]
                self.active[name] = (now, [(0.0, self.q[name])] + pts)

    def _step(self):
        now = time.monotonic()
        with self.lock:
            for name, (t0, pts) in self.active.items():
                t = now - t0
                q = pts[-1][1]
                for (ta, qa), (tb, qb) in zip(pts, pts[1:]):
                    if t <= tb:
                        q = qa + (qb - qa) * (t - ta) / (tb - ta) if tb > ta else qb
                        break
                self.q[name] = q
            msg = self.JointState(name=list(self.q), position=[float(v) for v in self.q.values()])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.js_pub.publish(msg)
        if not self.publish_persons:
            return
        arr = self.PersonArray()
        arr.header.frame_id = "base_link"
        for tid, x, y in self.persons:
            p = self.Person(track_id=tid, has_position=x is not None)
            if x is not None:
                p.position.x, p.position.y = x, y
            arr.persons.append(p)
        self.persons_pub.publish(arr)

    def run(self, client, goal, timeout):
        assert client.wait_for_server(timeout_sec=20)
        feedback = []
        future = client.send_goal_async(goal, feedback_callback=lambda fb: feedback.append(fb.feedback))
        assert wait_for(future.done, 10)
        handle = future.result()
        result = handle.get_result_async()
        assert wait_for(result.done, timeout)
        return result.result().result, feedback, handle

    def close(self):
        import rclpy
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("arm")
    env = isolated_env()
    proc = start(python_module("carebot.motion.arm_head_node", "--ros-args", "--params-file",
                               str(site_config("public_hall")), "-p", "return_to_rest_after:=1.0"),
                 env, log_dir / "arm_head.log")
    peer = JointsStandIn(env)
    time.sleep(3.0)
    assert peer.q["arm_elbow_joint"] == 0.0      # no robot/status yet: the e-stop state is unknown, no motion
    peer.status_pub.publish(peer.RobotStatus(emergency_stop=False))      # as base_safety latches it
    assert wait_for(lambda: abs(peer.q["arm_elbow_joint"] - REST_ARM["arm_elbow_joint"]) < 0.01, 30), \
        (log_dir / "arm_head.log").read_text()                 # folded to rest on start
    yield peer, log_dir
    peer.close()
    assert stop(proc) == 0


def test_wave_and_nod_reach_their_targets_within_limits(stack):
    peer, _ = stack
    planner = GesturePlanner()
    for name in ("wave", "nod"):
        peer.trajectories.clear()
        result, feedback, _ = peer.run(peer.gesture, peer.Gesture.Goal(name=name), 30)
        assert result.success, result.message
        assert result.max_joint_error <= 0.05
        assert feedback and feedback[-1].progress == pytest.approx(1.0)
        assert peer.trajectories
        for msg in peer.trajectories:
            for point in msg.points:
                for joint, q, v in zip(msg.joint_names, point.positions, point.velocities):
                    lim = planner.limits[joint]
                    assert lim.lower - 1e-9 <= q <= lim.upper + 1e-9 and abs(v) <= lim.velocity + 1e-9


def test_point_aims_at_the_target_then_folds(stack):
    peer, _ = stack
    goal = peer.Gesture.Goal(name="point")
    goal.target.x, goal.target.y, goal.target.z = 2.0, -1.0, 0.5
    result, _, _ = peer.run(peer.gesture, goal, 20)
    assert result.success, result.message
    planner = GesturePlanner()
    arm = {n: peer.q[n] for n in ARM_JOINTS}
    assert planner.kin.aim_error(TOOL_FRAME, TOOL_AXIS, (2.0, -1.0, 0.5), arm) < math.radians(4)
    assert wait_for(lambda: abs(peer.q["arm_elbow_joint"] - REST_ARM["arm_elbow_joint"]) < 0.02, 10)


def test_bad_gestures_fail_with_a_reason(stack):
    peer, _ = stack
    result, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="moonwalk"), 10)
    assert not result.success and "unknown gesture" in result.message
    goal = peer.Gesture.Goal(name="point")
    goal.target.x, goal.target.z = -2.0, 1.0          # behind the robot at chest height
    result, _, _ = peer.run(peer.gesture, goal, 10)
    assert not result.success and "cannot point" in result.message


def test_look_at_point_and_tracked_person(stack):
    peer, _ = stack
    planner = GesturePlanner()
    goal = peer.LookAt.Goal(track_id=-1)
    goal.target.header.frame_id = "base_footprint"
    goal.target.point.x, goal.target.point.y, goal.target.point.z = 2.0, 1.0, 1.0
    result, feedback, _ = peer.run(peer.look, goal, 15)
    assert result.success, result.message
    head = {n: peer.q[n] for n in HEAD_JOINTS}
    assert planner.head_error((2.0, 1.0, 1.0), head) < 0.06
    assert feedback[0].angle_error > feedback[-1].angle_error
    peer.persons = [(7, 1.5, -1.0)]
    goal = peer.LookAt.Goal(track_id=7, duration=1.0)
    result, _, _ = peer.run(peer.look, goal, 15)
    assert result.success, result.message
    # turned right, toward the person (the head may still be finishing its last segment)
    assert wait_for(lambda: peer.q["head_pan_joint"] < -0.4, 5), peer.q["head_pan_joint"]
    result, _, _ = peer.run(peer.look, peer.LookAt.Goal(track_id=99), 10)
    assert not result.success and "not seen" in result.message


def test_emergency_stop_holds_the_arm_and_refuses_gestures(stack):
    peer, _ = stack
    assert peer.gesture.wait_for_server(timeout_sec=20)
    future = peer.gesture.send_goal_async(peer.Gesture.Goal(name="wave"))
    assert wait_for(future.done, 10)
    result = future.result().get_result_async()
    assert wait_for(lambda: peer.q["arm_shoulder_lift_joint"] > 0.5, 10)        # the arm is rising
    peer.status_pub.publish(peer.RobotStatus(emergency_stop=True, mode=4))
    assert wait_for(result.done, 5)
    assert not result.result().result.success and "emergency stop" in result.result().result.message
    time.sleep(0.5)
    held = dict(peer.q)
    time.sleep(1.0)
    assert all(abs(peer.q[n] - held[n]) < 1e-3 for n in ARM_JOINTS)             # it stays put
    refused, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="nod"), 10)
    assert not refused.success and "emergency stop" in refused.message
    peer.status_pub.publish(peer.RobotStatus(emergency_stop=False))
    time.sleep(0.5)
    again, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="rest"), 20)
    assert again.success, again.message


def test_no_arm_gesture_starts_near_people(stack):
    """The public hall's gesture_person_distance is 1.1 m (config/public_hall.yaml)."""
    peer, _ = stack
    try:
        peer.persons = [(3, 0.9, 0.2)]
        time.sleep(0.3)                           # perception's next message
        result, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="wave"), 10)
        assert not result.success and "0.92 m away (closer than 1.10 m)" in result.message, result.message
        assert not peer.trajectories or all("arm_elbow_joint" not in t.joint_names for t in peer.trajectories[-1:])
        nod, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="nod"), 30)      # the head alone is fine
        assert nod.success, nod.message
        peer.persons = [(4, None, None)]          # feet out of view: distance unknown
        time.sleep(0.3)
        result, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="handover"), 10)
        assert not result.success and "unknown distance" in result.message
        peer.publish_persons = False              # perception silent: nobody can be ruled out
        time.sleep(1.2)
        result, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="wave"), 10)
        assert not result.success and "no fresh perception/persons" in result.message
        peer.publish_persons = True
        peer.persons = [(3, 2.0, 0.0)]
        time.sleep(0.3)
        result, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="wave"), 30)
        assert result.success, result.message
    finally:
        peer.persons = []
        peer.publish_persons = True


def test_safety_estop_topic_stops_the_arm_while_base_safety_is_down(stack):
    """No base_safety runs here: arm_head stops on safety/estop itself, asks base_safety to latch
    it (safety/trigger_estop) and stays stopped until base_safety has held and reset it."""
    peer, _ = stack
    assert peer.gesture.wait_for_server(timeout_sec=20)
    future = peer.gesture.send_goal_async(peer.Gesture.Goal(name="wave"))
    assert wait_for(future.done, 10)
    result = future.result().get_result_async()
    assert wait_for(lambda: peer.q["arm_shoulder_lift_joint"] > 0.5, 10)        # the arm is rising
    peer.triggers.clear()
    peer.estop_pub.publish(peer.Bool(data=True))
    assert wait_for(result.done, 5)
    assert not result.result().result.success and "emergency stop" in result.result().result.message
    time.sleep(0.5)
    held = dict(peer.q)
    time.sleep(1.0)
    assert all(abs(peer.q[n] - held[n]) < 1e-3 for n in ARM_JOINTS)             # it stays put
    refused, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="rest"), 10)
    assert not refused.success and "emergency stop" in refused.message
    assert wait_for(lambda: peer.triggers, 5), "arm_head did not ask base_safety to latch the stop"
    peer.estop_pub.publish(peer.Bool(data=False))                               # false is no reset
    peer.status_pub.publish(peer.RobotStatus(emergency_stop=False))             # nor an old status
    time.sleep(0.5)
    refused, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="rest"), 10)
    assert not refused.success and "emergency stop" in refused.message
    peer.status_pub.publish(peer.RobotStatus(emergency_stop=True, mode=4))      # base_safety holds it ...
    time.sleep(0.3)
    peer.status_pub.publish(peer.RobotStatus(emergency_stop=False))             # ... and is reset
    time.sleep(0.3)
    again, _, _ = peer.run(peer.gesture, peer.Gesture.Goal(name="rest"), 20)
    assert again.success, again.message
