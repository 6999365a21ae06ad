"""The two ROS peers of the DDS confinement test (not a test module; run as a script).

``probe``: a process on the robot's own computer (its network namespace, its loopback,
the stack's DDS environment). It plays the robot's sensors (a clear lidar ring, odometry,
arm joints, a small camera image), watches what base_safety sends to the wheels
(``cmd_vel``) and its e-stop (``robot/status``), and drives the timeline: 0-``attack_s``
the intruder may try to move the base; then the probe engages the e-stop and the intruder
may try to release it for ``attack_s``; last the probe itself releases the stop (with who
and why) and drives, which shows the robot does obey its own computer.

``intruder``: a ROS 2 process on another computer of the care home's network (another
network namespace, its own /dev/shm), in the stack's domain (a site file is no secret),
naming the robot as a static peer. For ``seconds`` it publishes ``cmd_vel_nav`` and
``cmd_vel``, calls ``safety/reset_estop`` and ``safety/reset_estop_with_reason`` whenever
they are available, and counts camera frames.

Each prints one JSON line with what it saw.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

INTRUDER_SPEED = 0.77      # m/s: a value no one else on the robot sends, recognisable on cmd_vel


def _spin_for(executor, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)


def probe(attack_s: float) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Image, JointState, LaserScan
    from std_srvs.srv import Trigger
    from carebot_interfaces.msg import RobotStatus
    from carebot_interfaces.srv import ResetEstop
    from carebot.motion.gestures import REST_ARM
    from carebot.ros_common import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS

    rclpy.init()
    node = rclpy.create_node("confinement_probe")
    # Per phase: the largest speed base_safety sent to the wheels, and cmd_vel_nav heard.
    seen = {"cmd_vel_max": [0.0, 0.0, 0.0, 0.0], "nav_heard": [0, 0, 0, 0], "intruder_twists": 0,
            "estop_engaged_seen": False, "status": None, "estop_timeline": []}
    phase = [0]

    def on_cmd(msg):
        if math.isclose(abs(msg.linear.x), INTRUDER_SPEED, abs_tol=1e-6):
            seen["intruder_twists"] += 1       # the intruder's own cmd_vel, straight to the wheels
            return
        seen["cmd_vel_max"][phase[0]] = max(seen["cmd_vel_max"][phase[0]], abs(msg.linear.x))

    def on_status(msg):
        seen["status"] = msg
        seen["estop_engaged_seen"] |= phase[0] == 2 and bool(msg.emergency_stop)
        seen["estop_timeline"].append((round(time.monotonic() - started, 2), bool(msg.emergency_stop)))

    node.create_subscription(Twist, "cmd_vel", on_cmd, RELIABLE_QOS)

    def on_nav(msg):
        seen["nav_heard"][phase[0]] += 1       # phase 3: the probe's own commands

    node.create_subscription(Twist, "cmd_vel_nav", on_nav, COMMAND_QOS)
    node.create_subscription(RobotStatus, "robot/status", on_status, LATCHED_QOS)
    scan_pub = node.create_publisher(LaserScan, "scan", SENSOR_QOS)
    odom_pub = node.create_publisher(Odometry, "odom", SENSOR_QOS)
    joint_pub = node.create_publisher(JointState, "joint_states", SENSOR_QOS)
    image_pub = node.create_publisher(Image, "camera/image_raw", SENSOR_QOS)
    drive_pub = node.create_publisher(Twist, "cmd_vel_nav", COMMAND_QOS)
    trigger = node.create_client(Trigger, "safety/trigger_estop")
    reset = node.create_client(ResetEstop, "safety/reset_estop_with_reason")
    driving = [False]

    def sensors():
        scan = LaserScan()
        scan.header.frame_id = "laser"
        scan.angle_min, scan.angle_increment = -math.pi, 2 * math.pi / 360
        scan.angle_max = scan.angle_min + 359 * scan.angle_increment
        scan.range_min, scan.range_max = 0.1, 12.0
        scan.ranges = [6.0] * 360
        scan_pub.publish(scan)
        odom = Odometry()
        odom.header.frame_id, odom.child_frame_id = "map", "base_link"
        odom.pose.pose.position.x, odom.pose.pose.position.y, odom.pose.pose.orientation.w = 1.0, 7.0, 1.0
        odom_pub.publish(odom)
        joint_pub.publish(JointState(name=list(REST_ARM), position=[float(v) for v in REST_ARM.values()]))
        image_pub.publish(Image(height=12, width=16, encoding="rgb8", step=48, data=bytes(16 * 12 * 3)))
        if driving[0]:
            twist = Twist()
            twist.linear.x = 0.2
            drive_pub.publish(twist)

    node.create_timer(0.1, sensors)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    started = time.monotonic()

    def wait(future, seconds):
        end = time.monotonic() + seconds
        while not future.done() and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        return future.result() if future.done() else None

    end = time.monotonic() + 60.0
    while seen["status"] is None and time.monotonic() < end:     # base_safety is up
        executor.spin_once(timeout_sec=0.1)
    seen["base_safety_up"] = seen["status"] is not None
    print("PROBE_READY", flush=True)                              # the test starts the intruder now
    phase[0] = 1
    _spin_for(executor, attack_s)                                 # 1: the intruder tries to drive
    phase[0] = 2
    seen["local_trigger"] = bool(trigger.wait_for_service(timeout_sec=5.0)
                                 and getattr(wait(trigger.call_async(Trigger.Request()), 5.0), "success", False))
    _spin_for(executor, 1.0)
    seen["estop_after_trigger"] = bool(seen["status"] and seen["status"].emergency_stop)
    _spin_for(executor, attack_s)                                 # 2: the intruder tries to release it
    seen["estop_after_attack"] = bool(seen["status"] and seen["status"].emergency_stop)
    phase[0] = 3                                                  # 3: the robot's own computer resets, drives
    answer = wait(reset.call_async(ResetEstop.Request(who="test:probe", why="confinement test: path clear")), 5.0)
    seen["local_reset"] = bool(answer and answer.success)
    driving[0] = True
    _spin_for(executor, 3.0)
    driving[0] = False
    status = seen.pop("status")
    seen["estop_at_end"] = bool(status and status.emergency_stop)
    seen["nodes"] = sorted(name for name in node.get_node_names() if name != node.get_name())
    node.destroy_node()
    rclpy.try_shutdown()
    return seen


def intruder(seconds: float) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from geometry_msgs.msg import Twist
    from sensor_msgs.msg import Image
    from std_srvs.srv import Trigger
    from carebot_interfaces.srv import ResetEstop
    from carebot.ros_common import COMMAND_QOS, RELIABLE_QOS, SENSOR_QOS

    rclpy.init()
    node = rclpy.create_node("intruder")
    seen = {"images": 0, "reset_ready": False, "reset_with_reason_ready": False, "resets_accepted": 0,
            "nodes": [], "topics": []}
    node.create_subscription(Image, "camera/image_raw", lambda m: seen.__setitem__("images", seen["images"] + 1),
                             SENSOR_QOS)
    twist = Twist()
    twist.linear.x = INTRUDER_SPEED
    publishers = [node.create_publisher(Twist, "cmd_vel_nav", COMMAND_QOS),
                  node.create_publisher(Twist, "cmd_vel", RELIABLE_QOS)]
    node.create_timer(0.05, lambda: [pub.publish(twist) for pub in publishers])
    reset = node.create_client(Trigger, "safety/reset_estop")
    reset_why = node.create_client(ResetEstop, "safety/reset_estop_with_reason")
    pending = []

    def try_resets():
        if reset.service_is_ready():
            seen["reset_ready"] = True
            pending.append(reset.call_async(Trigger.Request()))
        if reset_why.service_is_ready():
            seen["reset_with_reason_ready"] = True
            pending.append(reset_why.call_async(ResetEstop.Request(who="supervisor", why="all clear")))

    node.create_timer(1.0, try_resets)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    _spin_for(executor, seconds)
    seen["resets_accepted"] = sum(1 for f in pending if f.done() and f.result() and f.result().success)
    seen["nodes"] = sorted(name for name in node.get_node_names() if name != node.get_name())
    seen["topics"] = sorted(name for name, _ in node.get_topic_names_and_types())
    node.destroy_node()
    rclpy.try_shutdown()
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("probe", "intruder"))
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    result = probe(args.seconds) if args.role == "probe" else intruder(args.seconds)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
