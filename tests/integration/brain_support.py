"""Helpers of the brain integration tests (not a test module): a ROS peer in the test process.

The peer stands in for the other nodes where the test needs them: it serves the
speech/speak and navigate_to actions and safety/trigger_estop (recording every
goal), publishes transcripts and alerts, and records alerts and e-stops.
"""
from __future__ import annotations

import os
import threading
import time

from carebot.brain.brain_node import ALERTS_QOS, RELIABLE_QOS
from carebot.scenarios.ros_env import wait_for


class BrainPeer:
    def __init__(self, env: dict[str, str], serve_actions: bool = True, navigate_ok: bool = True):
        import rclpy
        from rclpy.action import ActionServer
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.context import Context
        from carebot.executors import PooledExecutor
        from std_msgs.msg import Bool
        from std_srvs.srv import Trigger
        from carebot_interfaces.action import NavigateTo, Speak
        from carebot_interfaces.msg import Alert, RobotStatus, Transcript
        from carebot.brain.brain_node import LATCHED_QOS
        from carebot_interfaces.srv import Ask

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = n = rclpy.create_node("brain_test_peer", context=self.context)
        group = ReentrantCallbackGroup()
        self.Transcript, self.Alert, self.Ask = Transcript, Alert, Ask
        self.alerts: list = []
        self.estops: list[bool] = []
        self.spoken: list[str] = []
        self.speak_goals: list[tuple[float, str, bool]] = []     # (when it arrived, text, queue)
        self.nav_goals: list = []
        self.triggers = 0
        self.navigate_ok = navigate_ok
        n.create_subscription(Alert, "alerts", self.alerts.append, ALERTS_QOS, callback_group=group)
        n.create_subscription(Bool, "safety/estop", lambda m: self.estops.append(m.data), RELIABLE_QOS,
                              callback_group=group)
        self.transcript_pub = n.create_publisher(Transcript, "speech/transcript", RELIABLE_QOS)
        self.alert_pub = n.create_publisher(Alert, "alerts", ALERTS_QOS)
        self.status_pub = n.create_publisher(RobotStatus, "robot/status", LATCHED_QOS)
        self.RobotStatus = RobotStatus
        self.ask = n.create_client(Ask, "brain/ask", callback_group=group)
        if serve_actions:
            def speak(handle):
                self.speak_goals.append((time.monotonic(), handle.request.text, bool(handle.request.queue)))
                self.spoken.append(handle.request.text)
                handle.succeed()
                return Speak.Result(success=True)

            def navigate(handle):
                self.nav_goals.append(handle.request)
                time.sleep(0.3)
                handle.succeed()
                return NavigateTo.Result(success=self.navigate_ok)

            def trigger(request, response):
                self.triggers += 1
                response.success = True
                return response

            ActionServer(n, Speak, "speech/speak", speak, callback_group=group)
            ActionServer(n, NavigateTo, "navigate_to", navigate, callback_group=group)
            n.create_service(Trigger, "safety/trigger_estop", trigger, callback_group=group)
        self.executor = PooledExecutor(num_threads=3, context=self.context)
        self.executor.add_node(n)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def publish_pose(self, x: float, y: float, theta: float) -> None:
        """Latch a robot/status with the base pose in the map (as base_safety does)."""
        status = self.RobotStatus()
        status.pose.x, status.pose.y, status.pose.theta = x, y, theta
        self.status_pub.publish(status)

    def say(self, text: str, language: str = "", speaker: str = "", low_confidence: bool = False) -> None:
        msg = self.Transcript(text=text, language=language, speaker=speaker, confidence=0.9,
                              low_confidence=low_confidence, source="test")
        self.wait_until_heard()
        self.transcript_pub.publish(msg)

    def shout(self, level_dbfs: float = -4.0) -> None:
        """A loud utterance without words, as the speech node publishes a scream."""
        self.wait_until_heard()
        self.transcript_pub.publish(self.Transcript(text="", shout=True, level_dbfs=level_dbfs, source="test"))

    def wait_until_heard(self, timeout: float = 20.0) -> None:
        """Until the brain's transcript subscription has matched ours and its e-stop publisher
        is known: its brain/ask service answering does not mean every topic is matched, and a
        busy CI machine timed a stop phrase's discovery instead of the brain (3.2 s)."""
        if not wait_for(lambda: self.transcript_pub.get_subscription_count() >= 1
                        and self.node.count_publishers("safety/estop") >= 1, timeout, 0.05):
            raise TimeoutError(f"the brain's topics did not match in {timeout:.0f} s")

    def call_ask(self, text: str, person: str = "", execute: bool = False, timeout: float = 30.0,
                 language: str = ""):
        if not self.ask.wait_for_service(timeout_sec=timeout):
            raise TimeoutError("brain/ask not available")
        future = self.ask.call_async(self.Ask.Request(text=text, person=person, language=language, execute=execute))
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        return future.result()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
