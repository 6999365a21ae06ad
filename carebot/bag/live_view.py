"""What the Foxglove live view shows, and its layout (no rclpy).

``carebot up --live-view`` starts ``live_view_node``: a Foxglove WebSocket server
(foxglove-sdk, loopback by default) that relays the stack's topics as they are (CDR with
their full ROS 2 definitions, so Foxglove decodes carebot_interfaces types without a ROS
install) and adds what Foxglove's 3D panel needs and ROS does not publish here: the
transforms (map -> base_link from odometry, the URDF's fixed joints), the site map as a
nav_msgs/OccupancyGrid, and scene markers for people (by state) and open alerts.

Camera images are relayed only when the site allows it (``live_view.camera``), like the
dashboard's camera view. The layout Foxglove opens with is ``config/foxglove/live_view.json``,
made by ``layout_json()`` (a test keeps the file and this module in step).
"""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from carebot.paths import ROOT

LAYOUT_FILE = ROOT / "config" / "foxglove" / "live_view.json"
URDF_FILE = ROOT / "urdf" / "carebot.urdf"
MAP_FRAME = "map"

# Topics relayed as they are: name (relative, as in docs/interfaces.md) -> type.
RELAYED: dict[str, str] = {
    "scan": "sensor_msgs/msg/LaserScan",
    "odom": "nav_msgs/msg/Odometry",
    "navigator/path": "nav_msgs/msg/Path",
    "perception/persons": "carebot_interfaces/msg/PersonArray",
    "alerts": "carebot_interfaces/msg/Alert",
    "robot/status": "carebot_interfaces/msg/RobotStatus",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
}
CAMERA_RELAYED: dict[str, str] = {
    "camera/image_raw": "sensor_msgs/msg/Image",
    "perception/debug_image": "sensor_msgs/msg/Image",
}
# Channels the view makes itself.
MAP_TOPIC = "/map"
TF_TOPIC = "/tf"
PEOPLE_TOPIC = "/live_view/people"
ALERT_MARKERS_TOPIC = "/live_view/alerts"
DERIVED = (MAP_TOPIC, TF_TOPIC, PEOPLE_TOPIC, ALERT_MARKERS_TOPIC)

# Colours (r, g, b, a) of the markers.
NORMAL_COLOUR = (0.2, 0.7, 0.3, 0.9)
FALLEN_COLOUR = (0.9, 0.1, 0.1, 0.95)
ALERT_COLOUR = (1.0, 0.5, 0.0, 0.8)
PERSON_SIZE = (0.4, 0.4, 1.6)        # m: a standing person's box; a fallen one lies along x
ALERT_RADIUS_M = 0.5
# Alert and person states (carebot_interfaces), repeated so this module imports without ROS.
PERSON_FALLEN = 1
ALERT_RESOLVED = 3
ALERT_KINDS = ("FALL", "HELP_REQUEST", "REMINDER_MISSED", "SAFETY", "SYSTEM", "MEDICAL", "FIRE")
ALERT_STATES = ("RAISED", "ACKNOWLEDGED", "ESCALATED", "RESOLVED")


def absolute(topic: str, namespace: str = "") -> str:
    """A relayed topic's name inside the stack's namespace ('' = root)."""
    if topic.startswith("/"):
        return topic
    namespace = namespace.strip("/")
    return f"/{namespace}/{topic}" if namespace else f"/{topic}"


def channel_plan(camera: bool, namespace: str = "") -> dict[str, str]:
    """Every channel the view offers: topic -> type ('foxglove.*' for the derived ones)."""
    plan = {absolute(t, namespace): kind for t, kind in RELAYED.items()}
    if camera:
        plan.update({absolute(t, namespace): kind for t, kind in CAMERA_RELAYED.items()})
    plan.update({MAP_TOPIC: "nav_msgs/msg/OccupancyGrid", TF_TOPIC: "foxglove.FrameTransforms",
                 PEOPLE_TOPIC: "foxglove.SceneUpdate", ALERT_MARKERS_TOPIC: "foxglove.SceneUpdate"})
    return plan


# --------------------------------------------------------------------------- transforms

@dataclass(frozen=True)
class Transform:
    """parent -> child: translation (m) and rotation quaternion (x, y, z, w)."""

    parent: str
    child: str
    translation: tuple[float, float, float]
    rotation: tuple[float, float, float, float]


def quaternion_from_rpy(roll: float, pitch: float, yaw: float) -> tuple[float, float, float, float]:
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy, cr * cp * cy + sr * sp * sy)


def fixed_joints(urdf: Path = URDF_FILE) -> list[Transform]:
    """The URDF's fixed joints as static transforms (the lidar's frame, the torso ...)."""
    root = ET.parse(urdf).getroot()
    out = []
    for joint in root.iter("joint"):
        if joint.get("type") != "fixed":
            continue
        origin = joint.find("origin")
        xyz = [float(v) for v in (origin.get("xyz", "0 0 0") if origin is not None else "0 0 0").split()]
        rpy = [float(v) for v in (origin.get("rpy", "0 0 0") if origin is not None else "0 0 0").split()]
        out.append(Transform(joint.find("parent").get("link"), joint.find("child").get("link"),
                             (xyz[0], xyz[1], xyz[2]), quaternion_from_rpy(*rpy)))
    return out


# --------------------------------------------------------------------------- markers

@dataclass(frozen=True)
class Marker:
    """One scene entity: a box or sphere with a label, in ``frame``."""

    id: str
    frame: str
    position: tuple[float, float, float]
    size: tuple[float, float, float]
    colour: tuple[float, float, float, float]
    label: str
    shape: str = "cube"              # cube or sphere


def person_markers(msg) -> list[Marker]:
    """Markers for a carebot_interfaces/PersonArray: one box per person (red and lying when fallen)."""
    out = []
    for person in msg.persons:
        fallen = person.state == PERSON_FALLEN
        sx, sy, sz = PERSON_SIZE
        size = (sz, sx, sx) if fallen else (sx, sy, sz)
        z = size[2] / 2
        label = f"#{person.track_id} {'FALLEN' if fallen else 'normal'}"
        if fallen and person.seconds_down > 0:
            label += f" {person.seconds_down:.0f} s"
        out.append(Marker(f"person-{person.track_id}", msg.header.frame_id or "base_link",
                          (person.position.x, person.position.y, z), size,
                          FALLEN_COLOUR if fallen else NORMAL_COLOUR, label))
    return out


def alert_marker(msg) -> Marker | None:
    """A marker for an alert with a known position (None when resolved or placed nowhere)."""
    if msg.state == ALERT_RESOLVED or not msg.position_known:
        return None
    kind = ALERT_KINDS[msg.kind] if msg.kind < len(ALERT_KINDS) else str(msg.kind)
    state = ALERT_STATES[msg.state] if msg.state < len(ALERT_STATES) else str(msg.state)
    where = f" {msg.room}" if msg.room else ""
    return Marker(f"alert-{msg.id}", msg.header.frame_id or MAP_FRAME, (msg.position.x, msg.position.y, 0.3),
                  (2 * ALERT_RADIUS_M,) * 3, ALERT_COLOUR, f"{kind} {state}{where}", shape="sphere")


# --------------------------------------------------------------------------- layout

def layout():
    """The Foxglove layout: 3D map view, camera (when relayed), alerts, people, diagnostics."""
    import foxglove.layouts as fl

    three_d = fl.ThreeDeePanel(title="carebot: map, robot, lidar, people, alerts", config=fl.ThreeDeeConfig(
        follow_tf=MAP_FRAME, follow_mode="follow-none", fixed_frame=MAP_FRAME,
        topics={MAP_TOPIC: fl.BaseRendererRosOccupancyGridTopicSettings(visible=True),
                "/scan": fl.BaseRendererLaserScanTopicSettings(visible=True),
                "/navigator/path": fl.BaseRendererPosesTopicSettings(visible=True),
                "/odom": fl.BaseRendererPoseTopicSettings(visible=True),
                PEOPLE_TOPIC: fl.BaseRendererSceneUpdateTopicSettings(visible=True),
                ALERT_MARKERS_TOPIC: fl.BaseRendererSceneUpdateTopicSettings(visible=True)}))
    camera = fl.ImagePanel(title="camera (only when the site allows it)",
                           config=fl.ImageConfig(image_mode=fl.ImageModeConfig(image_topic="/perception/debug_image")))
    alerts = fl.RawMessagesPanel(title="alerts", config=fl.RawMessagesConfig(topic_path="/alerts"))
    people = fl.RawMessagesPanel(title="people", config=fl.RawMessagesConfig(topic_path="/perception/persons.persons"))
    status = fl.RawMessagesPanel(title="robot status", config=fl.RawMessagesConfig(topic_path="/robot/status"))
    diagnostics = fl.DiagnosticsSummaryPanel(title="diagnostics",
                                             config=fl.DiagnosticsSummaryConfig(topic_to_render="/diagnostics"))
    right = fl.SplitContainer(direction="column", items=[
        fl.SplitItem(proportion=1, content=camera),
        fl.SplitItem(proportion=1, content=fl.TabContainer(tabs=[
            fl.TabItem(title="alerts", content=alerts), fl.TabItem(title="people", content=people),
            fl.TabItem(title="status", content=status)])),
        fl.SplitItem(proportion=1, content=diagnostics),
    ])
    return fl.Layout(content=fl.SplitContainer(direction="row", items=[
        fl.SplitItem(proportion=2, content=three_d), fl.SplitItem(proportion=1, content=right)]))


def layout_json() -> str:
    """The layout file's text (pretty, stable key order) as config/foxglove/live_view.json holds it."""
    return json.dumps(json.loads(layout().to_json()), indent=2, sort_keys=True) + "\n"
