"""The perception node's parameters: names, defaults, descriptions, validation (no ROS).

The node declares every entry of PARAMETERS and hands the values to ``build``,
which returns typed, validated configs or raises ValueError naming the parameter.
config/<site>.yaml sets site values under ``perception: ros__parameters:``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from carebot.perception.detector import DetectorConfig
from carebot.perception.fall_logic import FallConfig
from carebot.perception.geometry import CameraPose


@dataclass(frozen=True)
class Parameter:
    name: str
    default: object
    description: str


_FALL = FallConfig()
_DET = DetectorConfig()

PARAMETERS: tuple[Parameter, ...] = (
    Parameter("model_path", "", "ultralytics model file (.pt/.onnx); empty = shipped YOLOv8 Normal/Fall model"),
    Parameter("backend", _DET.backend, "inference runtime: auto (OpenVINO on a CPU, torch on a GPU), openvino, "
              "torch or onnx; a .pt is exported once to the cache; torch is the fallback (logged)"),
    Parameter("imgsz", _DET.imgsz, "inference image size, px (multiple of 32; 640 finds smaller, further people, ~3x slower)"),
    Parameter("second_look_imgsz", _DET.second_look_imgsz,
              "a frame with a lying or Fall box (or nobody) is looked at again at this size, px (0 = off)"),
    Parameter("conf", _DET.conf, "minimum detector confidence of a person box, 0..1"),
    Parameter("iou", _DET.iou, "NMS IoU threshold, 0..1"),
    Parameter("device", _DET.device, "torch device: cpu, cuda:0, ..."),
    Parameter("tracker", _DET.tracker, "ultralytics tracker config: bytetrack.yaml, botsort.yaml or a file path"),
    Parameter("fall_persistence_s", _FALL.persistence_s, "a person must look fallen this long before the alert, s"),
    Parameter("fall_clear_s", _FALL.clear_s, "a fallen person must look up this long before the alert is resolved, s"),
    Parameter("fall_threshold", _FALL.fall_threshold, "fused fall score that counts as looking fallen, 0..1"),
    Parameter("fall_clear_threshold", _FALL.clear_threshold, "fused fall score below which a person looks up, 0..1"),
    Parameter("fall_model_weight", _FALL.model_weight, "weight of the model's Fall class in the fall score"),
    Parameter("fall_shape_weight", _FALL.shape_weight, "weight of the lying box shape in the fall score"),
    Parameter("fall_drop_weight", _FALL.drop_weight, "weight of the box-top drop over time in the fall score"),
    Parameter("fall_lost_track_s", _FALL.lost_track_s,
              "a fallen person out of sight keeps the incident this long (no second alert if seen again), s"),
    Parameter("fall_same_place_m", _FALL.same_place_m,
              "a new track whose floor point on the map is this close to where a fallen person was lost "
              "continues that incident, m"),
    Parameter("furniture_world", "", "site world (care_home, public_hall or a models/worlds YAML path) whose beds, "
              "sofas and armchairs mean resting, not fallen, for a person lying on them (needs odometry; "
              "empty = off)"),
    Parameter("publish_debug_image", False, "publish perception/debug_image with boxes drawn (CPU cost)"),
    Parameter("base_frame", "base_link", "frame of person floor positions (PersonArray.header.frame_id)"),
    Parameter("map_frame", "map", "fall alerts are placed in this frame with the pose from `odom` at the image's "
              "time (odometry in another frame is ignored; empty: alerts stay in base_frame)"),
    Parameter("camera_x", 0.0, "camera position in base_frame, forward, m"),
    Parameter("camera_y", 0.0, "camera position in base_frame, left, m"),
    Parameter("floor_z", 0.0, "height of the floor in base_frame, m (0 for base_footprint, < 0 for base_link)"),
    Parameter("camera_z", 1.2, "camera height in base_frame, m"),
    Parameter("camera_yaw", 0.0, "camera yaw in base_frame with the head centred, rad (left +)"),
    Parameter("camera_pitch", 0.0, "camera pitch with the head centred, rad (down +)"),
    Parameter("use_head_joints", True, "add head pan/tilt from joint_states to the camera pose"),
    Parameter("head_pan_joint", "head_pan_joint", "joint name of the head pan (left +)"),
    Parameter("head_tilt_joint", "head_tilt_joint", "joint name of the head tilt (down +)"),
    Parameter("stale_image_s", 0.0, "skip images older than this when taken for inference, s (0 = never)"),
)


@dataclass(frozen=True)
class NodeOptions:
    furniture_world: str
    publish_debug_image: bool
    base_frame: str
    map_frame: str
    floor_z: float
    camera: CameraPose
    use_head_joints: bool
    head_pan_joint: str
    head_tilt_joint: str
    stale_image_s: float


@dataclass(frozen=True)
class PerceptionSettings:
    detector: DetectorConfig
    fall: FallConfig
    node: NodeOptions


def defaults() -> dict[str, object]:
    return {p.name: p.default for p in PARAMETERS}


def build(values: dict[str, object]) -> PerceptionSettings:
    """Typed settings from parameter values; raises ValueError naming the bad parameter."""
    v = {**defaults(), **values}
    unknown = set(values) - set(defaults())
    if unknown:
        raise ValueError(f"unknown perception parameters: {', '.join(sorted(unknown))}")
    for name in ("camera_x", "camera_y", "camera_z", "camera_yaw", "camera_pitch"):
        if not math.isfinite(float(v[name])):
            raise ValueError(f"{name} must be finite")
    if not math.isfinite(float(v["floor_z"])) or float(v["camera_z"]) <= float(v["floor_z"]):
        raise ValueError("camera_z must be above floor_z (the camera is above the floor)")
    if float(v["stale_image_s"]) < 0:
        raise ValueError("stale_image_s must be >= 0")
    if not str(v["base_frame"]).strip():
        raise ValueError("base_frame must not be empty")
    try:
        detector = DetectorConfig(
            model_path=str(v["model_path"]), imgsz=int(v["imgsz"]), conf=float(v["conf"]), iou=float(v["iou"]),
            device=str(v["device"]), tracker=str(v["tracker"]), backend=str(v["backend"]),
            second_look_imgsz=int(v["second_look_imgsz"])).validate()
        fall = FallConfig(
            model_weight=float(v["fall_model_weight"]), shape_weight=float(v["fall_shape_weight"]),
            drop_weight=float(v["fall_drop_weight"]), fall_threshold=float(v["fall_threshold"]),
            clear_threshold=float(v["fall_clear_threshold"]), persistence_s=float(v["fall_persistence_s"]),
            clear_s=float(v["fall_clear_s"]), lost_track_s=float(v["fall_lost_track_s"]),
            same_place_m=float(v["fall_same_place_m"])).validate()
    except ValueError as exc:
        raise ValueError(f"perception parameters: {exc}") from None
    world = str(v["furniture_world"]).strip()
    if world:
        from carebot.world import WorldError, load_world

        try:
            load_world(world)
        except (WorldError, OSError, ValueError) as exc:
            raise ValueError(f"furniture_world {world!r}: {exc}") from None
    node = NodeOptions(
        furniture_world=world,
        publish_debug_image=bool(v["publish_debug_image"]), base_frame=str(v["base_frame"]),
        map_frame=str(v["map_frame"]).strip(), floor_z=float(v["floor_z"]),
        camera=CameraPose(float(v["camera_x"]), float(v["camera_y"]), float(v["camera_z"]),
                          float(v["camera_yaw"]), float(v["camera_pitch"])),
        use_head_joints=bool(v["use_head_joints"]), head_pan_joint=str(v["head_pan_joint"]),
        head_tilt_joint=str(v["head_tilt_joint"]), stale_image_s=float(v["stale_image_s"]))
    return PerceptionSettings(detector, fall, node)
