"""The live view node: a Foxglove WebSocket server fed from the running stack.

Thin glue around ``carebot.bag.live_view``: raw subscriptions relay the chosen topics'
CDR bytes to Foxglove channels that carry their full ROS 2 definitions (Foxglove decodes
them, carebot_interfaces types included), and the node adds the transforms, the site map
and the people and alert markers. Started by ``carebot up --live-view``; parameters from
the site file's ``live_view:`` section (carebot/bag/parameters.py).
"""
from __future__ import annotations

import sys

import foxglove
from foxglove.channels import FrameTransformsChannel, SceneUpdateChannel
from foxglove.messages import (Color, CubePrimitive, FrameTransform, FrameTransforms, Pose, Quaternion,
                               SceneEntity, SceneEntityDeletion, SceneEntityDeletionType, SceneUpdate,
                               SpherePrimitive, TextPrimitive, Timestamp, Vector3)
from nav_msgs.msg import OccupancyGrid, Odometry
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message

from carebot.alert_delivery import ALERTS_LIVE_QOS
from carebot.bag import live_view, msgdefs
from carebot.bag.parameters import LIVE_VIEW
from carebot.bag.recorder_node import message_class
from carebot.diagnostics import DiagnosticsPublisher, HealthReport, Level
from carebot.node_runner import run_node
from carebot.ros_common import declare_table
from carebot.world import WorldError, load_world, occupancy_grid

# Relay QoS: best effort matches every publisher (reliable or not); the view wants the newest.
RELAY_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
STATUS_PERIOD_S = 2.0


def _colour(rgba) -> Color:
    return Color(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])


def _entity(marker: live_view.Marker, stamp_ns: int) -> SceneEntity:
    sec, nsec = divmod(stamp_ns, 10 ** 9)
    pose = Pose(position=Vector3(x=marker.position[0], y=marker.position[1], z=marker.position[2]),
                orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
    size = Vector3(x=marker.size[0], y=marker.size[1], z=marker.size[2])
    shape = ({"spheres": [SpherePrimitive(pose=pose, size=size, color=_colour(marker.colour))]}
             if marker.shape == "sphere" else {"cubes": [CubePrimitive(pose=pose, size=size, color=_colour(marker.colour))]})
    label_pose = Pose(position=Vector3(x=marker.position[0], y=marker.position[1], z=marker.position[2] + marker.size[2]),
                      orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
    return SceneEntity(timestamp=Timestamp(sec=sec, nsec=nsec), frame_id=marker.frame, id=marker.id,
                       texts=[TextPrimitive(pose=label_pose, billboard=True, font_size=14.0, scale_invariant=True,
                                            color=Color(r=1.0, g=1.0, b=1.0, a=1.0), text=marker.label)], **shape)


class LiveViewNode(Node):
    """Relays the stack to Foxglove and adds transforms, the map and markers."""

    def __init__(self):
        super().__init__("live_view")
        self.settings = declare_table(self, LIVE_VIEW)
        namespace = self.get_namespace().rstrip("/")
        self.server = foxglove.start_server(name="carebot", host=self.settings.host, port=self.settings.port)
        self.port = self.server.port
        self.plan = live_view.channel_plan(self.settings.camera, namespace)
        self.relayed: dict[str, int] = {}
        self._channels = {}
        for topic, type_name in self.plan.items():
            if type_name.startswith("foxglove.") or topic == live_view.MAP_TOPIC:
                continue
            self._relay(topic, type_name)
        self.tf_channel = FrameTransformsChannel(live_view.TF_TOPIC)
        self.people_channel = SceneUpdateChannel(live_view.PEOPLE_TOPIC)
        self.alerts_channel = SceneUpdateChannel(live_view.ALERT_MARKERS_TOPIC)
        self.map_channel = self._channel(live_view.MAP_TOPIC, "nav_msgs/msg/OccupancyGrid")
        self.map_bytes = self._map_bytes()
        self.static = live_view.fixed_joints()
        self.robot_frame = "base_link"
        odom = live_view.absolute("odom", namespace)
        persons = live_view.absolute("perception/persons", namespace)
        alerts = live_view.absolute("alerts", namespace)
        self.create_subscription(Odometry, odom, self._on_odom, RELAY_QOS)
        self.create_subscription(message_class(self.plan[persons]), persons, self._on_persons, RELAY_QOS)
        self.create_subscription(message_class(self.plan[alerts]), alerts, self._on_alert, ALERTS_LIVE_QOS)
        self.create_timer(self.settings.map_period_s, self._send_static)
        self.health = HealthReport("carebot/live_view")
        self.health.set(Level.OK, f"serving ws://{self.settings.host}:{self.port} ({len(self.plan)} channels, "
                                  f"camera {'on' if self.settings.camera else 'off'})", port=self.port)
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_timer(STATUS_PERIOD_S, self._report)
        self.get_logger().info(f"Foxglove live view on ws://{self.settings.host}:{self.port}: "
                               f"open it in Foxglove with the layout {live_view.LAYOUT_FILE}")
        self._send_static()

    def _report(self) -> None:
        self.health.values.update({f"relayed {t}": str(n) for t, n in self.relayed.items()})
        self.diagnostics.publish(self.health)

    def _channel(self, topic: str, type_name: str):
        channel = foxglove.Channel(topic, message_encoding="cdr", schema=foxglove.Schema(
            name=type_name, encoding="ros2msg", data=msgdefs.full_definition(type_name).encode("utf-8")))
        self._channels[topic] = channel
        return channel

    def _relay(self, topic: str, type_name: str) -> None:
        channel = self._channel(topic, type_name)
        self.relayed[topic] = 0

        def forward(data: bytes, topic=topic, channel=channel) -> None:
            channel.log(data, log_time=self.get_clock().now().nanoseconds)
            self.relayed[topic] += 1
        self.create_subscription(message_class(type_name), topic, forward, RELAY_QOS, raw=True)

    def _map_bytes(self) -> bytes | None:
        try:
            world = load_world(self.settings.world)
        except (WorldError, OSError) as exc:
            self.get_logger().warning(f"no map in the live view: {exc}")
            return None
        grid = occupancy_grid(world, self.settings.map_resolution)
        msg = OccupancyGrid()
        msg.header.frame_id = live_view.MAP_FRAME
        msg.info.resolution = float(grid.resolution)
        msg.info.height, msg.info.width = (int(n) for n in grid.data.shape)
        msg.info.origin.position.x, msg.info.origin.position.y = (float(v) for v in grid.origin)
        msg.info.origin.orientation.w = 1.0
        msg.data = [int(v) for v in grid.data.astype("int8").ravel()]
        return serialize_message(msg)

    def _send_static(self) -> None:
        now = self.get_clock().now().nanoseconds
        if self.map_bytes is not None:
            self.map_channel.log(self.map_bytes, log_time=now)
        sec, nsec = divmod(now, 10 ** 9)
        self.tf_channel.log(FrameTransforms(transforms=[
            FrameTransform(timestamp=Timestamp(sec=sec, nsec=nsec), parent_frame_id=t.parent, child_frame_id=t.child,
                           translation=Vector3(x=t.translation[0], y=t.translation[1], z=t.translation[2]),
                           rotation=Quaternion(x=t.rotation[0], y=t.rotation[1], z=t.rotation[2], w=t.rotation[3]))
            for t in self.static if t.child != self.robot_frame]), log_time=now)

    def _on_odom(self, msg: Odometry) -> None:
        self.robot_frame = msg.child_frame_id or self.robot_frame
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        self.tf_channel.log(FrameTransforms(transforms=[FrameTransform(
            timestamp=Timestamp(sec=msg.header.stamp.sec, nsec=msg.header.stamp.nanosec),
            parent_frame_id=msg.header.frame_id or live_view.MAP_FRAME, child_frame_id=self.robot_frame,
            translation=Vector3(x=p.x, y=p.y, z=p.z), rotation=Quaternion(x=q.x, y=q.y, z=q.z, w=q.w))]))

    def _on_persons(self, msg) -> None:
        # Stamped with the camera frame's time: Foxglove places base_link markers with the robot's
        # pose at that time (from /tf's history), not where the robot has driven since.
        stamp = msg.header.stamp.sec * 10 ** 9 + msg.header.stamp.nanosec or self.get_clock().now().nanoseconds
        sec, nsec = divmod(stamp, 10 ** 9)
        entities = [_entity(m, stamp) for m in live_view.person_markers(msg)]
        # Everyone is redrawn from this frame: those no longer seen go.
        self.people_channel.log(SceneUpdate(
            deletions=[SceneEntityDeletion(timestamp=Timestamp(sec=sec, nsec=nsec), type=SceneEntityDeletionType.All)],
            entities=entities))

    def _on_alert(self, msg) -> None:
        now = self.get_clock().now().nanoseconds
        marker = live_view.alert_marker(msg)
        if marker is None:
            sec, nsec = divmod(now, 10 ** 9)
            self.alerts_channel.log(SceneUpdate(deletions=[SceneEntityDeletion(
                timestamp=Timestamp(sec=sec, nsec=nsec), type=SceneEntityDeletionType.MatchingId,
                id=f"alert-{msg.id}")]))
        else:
            self.alerts_channel.log(SceneUpdate(entities=[_entity(marker, now)]))

    def close(self) -> None:
        self.server.stop()


def decode(type_name: str, data: bytes):
    """A relayed message back as a ROS message (tests)."""
    return deserialize_message(data, message_class(type_name))


def main(args: list[str] | None = None) -> int:
    return run_node(LiveViewNode, name="live_view", on_exit=lambda node: node.close(),
                    start_errors=(ValueError, RuntimeError, OSError), args=args if args is not None else sys.argv)
