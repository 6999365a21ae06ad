"""Helpers of the bag and live view tests (not a test module): a talker process and a listener node.

The talker publishes, with the QoS the stack uses for each: std_msgs/String (reliable), the
carebot types Alert (durable, as alert senders publish), PersonArray and a camera Image
(sensor), raw audio (AudioChunk) and a Transcript, a LaserScan and an Odometry. Every message
carries its sequence number, so a test can tell what was lost.

    python tests/integration/bag_support.py RATE_HZ [IMAGE_BYTES]
"""
from __future__ import annotations

import os
import sys
import time
import uuid

TOPICS = {
    "/chatter": "std_msgs/msg/String",
    "/alerts": "carebot_interfaces/msg/Alert",
    "/perception/persons": "carebot_interfaces/msg/PersonArray",
    "/camera/image_raw": "sensor_msgs/msg/Image",
    "/speech/audio_in": "carebot_interfaces/msg/AudioChunk",
    "/speech/transcript": "carebot_interfaces/msg/Transcript",
    "/scan": "sensor_msgs/msg/LaserScan",
    "/odom": "nav_msgs/msg/Odometry",
}


def talker(rate_hz: float, image_bytes: int = 64) -> None:
    import rclpy
    from carebot_interfaces.msg import Alert, AudioChunk, Person, PersonArray, Transcript
    from nav_msgs.msg import Odometry
    from rclpy.node import Node
    from sensor_msgs.msg import Image, LaserScan
    from std_msgs.msg import String

    from carebot.alert_delivery import ALERTS_QOS
    from carebot.ros_common import AUDIO_QOS, RELIABLE_QOS, SENSOR_QOS

    rclpy.init()
    node = Node("bag_test_talker")
    pubs = {
        "chatter": node.create_publisher(String, "chatter", RELIABLE_QOS),
        "alerts": node.create_publisher(Alert, "alerts", ALERTS_QOS),
        "persons": node.create_publisher(PersonArray, "perception/persons", SENSOR_QOS),
        "image": node.create_publisher(Image, "camera/image_raw", SENSOR_QOS),
        "audio": node.create_publisher(AudioChunk, "speech/audio_in", AUDIO_QOS),
        "transcript": node.create_publisher(Transcript, "speech/transcript", RELIABLE_QOS),
        "scan": node.create_publisher(LaserScan, "scan", SENSOR_QOS),
        "odom": node.create_publisher(Odometry, "odom", SENSOR_QOS),
    }
    width = max(1, image_bytes // 3)
    image = Image(width=width, height=1, encoding="rgb8", step=3 * width, data=bytes(3 * width))
    count = [0]

    def tick() -> None:
        i = count[0] = count[0] + 1
        stamp = node.get_clock().now().to_msg()
        pubs["chatter"].publish(String(data=f"message {i}"))
        if i % 10 == 1:
            alert = Alert(id=f"alert-{i}", kind=0, severity=2, state=0, message=f"fall {i}", room="lounge",
                          position_known=True)
            alert.header.frame_id = "map"
            alert.header.stamp = stamp
            alert.position.x, alert.position.y = 2.5, float(i)
            pubs["alerts"].publish(alert)
        persons = PersonArray(image_width=640, image_height=480)
        persons.header.stamp, persons.header.frame_id = stamp, "base_link"
        persons.persons = [Person(track_id=i, state=i % 2, score=0.9)]
        persons.persons[0].position.x = 1.5
        pubs["persons"].publish(persons)
        image.header.stamp = stamp
        image.header.frame_id = f"seq {i}"
        if image_bytes > 1000:    # noise: zstd cannot shrink it, so large frames fill a disk as a camera's do
            image.data = os.urandom(3 * width)
        pubs["image"].publish(image)
        pubs["audio"].publish(AudioChunk(sample_rate=16000, channels=1, data=[i % 100] * 160))
        pubs["transcript"].publish(Transcript(text=f"words {i}", language="en"))
        scan = LaserScan(angle_min=-1.0, angle_max=1.0, angle_increment=0.5, range_min=0.1, range_max=10.0,
                         ranges=[1.0 + i % 5] * 5)
        scan.header.stamp, scan.header.frame_id = stamp, "laser"
        pubs["scan"].publish(scan)
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id, odom.child_frame_id = stamp, "map", "base_link"
        odom.pose.pose.position.x, odom.pose.pose.orientation.w = 0.01 * i, 1.0
        pubs["odom"].publish(odom)

    node.create_timer(1.0 / rate_hz, tick)
    print("talking", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()


class Listener:
    """A test-side node in its own context: records what arrives on the given topics."""

    def __init__(self, env: dict[str, str], topics: dict[str, tuple[type, object]]):
        import rclpy

        self.rclpy = rclpy
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node(f"bag_listener_{uuid.uuid4().hex[:6]}", context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list] = {name: [] for name in topics}
        for name, (cls, qos) in topics.items():
            self.node.create_subscription(cls, name, self.received[name].append, qos)

    def spin_until(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
            if predicate():
                return True
        return bool(predicate())

    def close(self) -> None:
        self.node.destroy_node()
        self.context.try_shutdown()


if __name__ == "__main__":
    talker(float(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 64)
