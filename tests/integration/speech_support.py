"""Helpers for the speech node's integration tests: a client node in the test's DDS domain."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Bool

from carebot_interfaces.action import Speak
from carebot_interfaces.msg import AudioChunk, Transcript

from carebot.ros_common import ActionClient
from carebot.speech.audio import float_to_pcm16
from carebot.scenarios.ros_env import python_module, wait_for

NODE = python_module("carebot.speech.speech_node")


class SpeechClient:
    """Publishes audio, collects transcripts and the speaking state, sends Speak goals."""

    def __init__(self, env: dict[str, str]):
        for key in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE"):
            os.environ[key] = env[key]
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("speech_test_client", context=self.context)
        self.transcripts: list[Transcript] = []
        self.arrivals: list[float] = []      # time.monotonic() of each transcript's arrival
        self.diagnostics: list = []          # carebot/speech DiagnosticStatus messages
        self.speaking: list[bool] = []
        self.speaking_times: list[float] = []   # time.monotonic() of each speaking message's arrival
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(Transcript, "speech/transcript", self._on_transcript, 10)
        self.node.create_subscription(Bool, "speech/speaking", self._on_speaking, latched)
        self.hearing: list[tuple[float, bool]] = []     # (arrival, speech/hearing)
        self.node.create_subscription(Bool, "speech/hearing",
                                      lambda m: self.hearing.append((time.monotonic(), m.data)), latched)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.audio_pub = self.node.create_publisher(AudioChunk, "speech/audio_in",
                                                    QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.speak = ActionClient(self.node, Speak, "speech/speak")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spin = threading.Thread(target=self.executor.spin, daemon=True)
        self._spin.start()

    def _on_speaking(self, msg: Bool) -> None:
        self.speaking_times.append(time.monotonic())
        self.speaking.append(msg.data)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        self.diagnostics += [s for s in msg.status if s.name == "carebot/speech"]

    def _on_transcript(self, msg: Transcript) -> None:
        self.arrivals.append(time.monotonic())
        self.transcripts.append(msg)

    def stream(self, samples: np.ndarray, rate: int, block_s: float = 0.03) -> None:
        """Publish audio in real time, like a microphone driver, once the node hears the topic."""
        self.wait_until_heard()
        step = int(rate * block_s)
        pcm = float_to_pcm16(samples)
        started = time.monotonic()
        for n, i in enumerate(range(0, len(pcm), step)):
            msg = AudioChunk(sample_rate=rate, channels=1, data=pcm[i:i + step].tolist())
            msg.header.stamp = self.node.get_clock().now().to_msg()
            self.audio_pub.publish(msg)
            delay = started + (n + 1) * block_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def wait_until_heard(self, timeout: float = 20.0) -> None:
        """Until the speech node's subscription has matched our audio publisher: "speech ready"
        in its log does not mean DDS discovery is done, and audio sent before the match is lost
        (a busy CI machine lost the first second of a sentence that way)."""
        if not wait_for(lambda: self.audio_pub.get_subscription_count() >= 1
                        and self.node.count_publishers("speech/transcript") >= 1, timeout, 0.05):
            raise TimeoutError("the speech node's audio subscription did not match in "
                               f"{timeout:.0f} s (is the node running in domain {self.context.get_domain_id()}?)")

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
