"""The perception node's parameters: names, defaults, descriptions, validation (no ROS).

``PERCEPTION`` is the node's parameter table (carebot/parameters.py): the node declares
every entry with its descriptor and loads the typed settings from it; ``carebot
config-check`` runs the same table, so both refuse the same values, naming the key.
config/<site>.yaml sets site values under ``perception: ros__parameters:``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from carebot.parameters import CrossRule, Param, ParamTable, ParamType, world_problem
from carebot.perception.detector import BACKENDS, DetectorConfig
from carebot.perception.fall_logic import FallConfig
from carebot.perception.geometry import CameraPose


ALERT_LANGUAGES = ("en", "zh-CN")     # carebot.i18n.LANGUAGES
_FALL = FallConfig()
_DET = DetectorConfig()
S, I, D, B = ParamType.STRING, ParamType.INTEGER, ParamType.DOUBLE, ParamType.BOOL


def _size(value: int) -> str | None:
    return None if value >= 32 and value % 32 == 0 else f"{value!r} must be a positive multiple of 32"


PARAMETERS: tuple[Param, ...] = (
    Param("model_path", S, "", "ultralytics model file (.pt/.onnx); empty = shipped YOLOv8 Normal/Fall model"),
    Param("backend", S, _DET.backend, "inference runtime: auto (OpenVINO on a CPU, torch on a GPU), openvino, "
          "torch or onnx; a .pt is exported once to the cache; torch is the fallback (logged)", choices=BACKENDS),
    Param("imgsz", I, _DET.imgsz, "inference image size (multiple of 32; 640 finds smaller, further people, ~3x "
          "slower)", "px", check=_size, constraint="a positive multiple of 32"),
    Param("second_look_imgsz", I, _DET.second_look_imgsz,
          "a frame with a lying or Fall box (or nobody) is looked at again at this size (0 = off)", "px",
          check=lambda v: None if v == 0 else _size(v), constraint="0 or a positive multiple of 32"),
    Param("conf", D, _DET.conf, "minimum detector confidence of a person box", "", 0.0, 1.0),
    Param("fall_conf", D, _DET.fall_conf, "minimum detector confidence of a box of the model's Fall class (the "
          "fall score still needs a lying shape for a weak one)", "", 0.0, 1.0),
    Param("iou", D, _DET.iou, "NMS IoU threshold", "", 0.0, 1.0),
    Param("dark_luma", D, _DET.dark_luma, "a frame darker than this mean lightness is contrast-equalised (CLAHE) "
          "before the detector (a dim room at night; 0 = off)", "", 0.0, 255.0),
    Param("device", S, _DET.device, "torch device: cpu, cuda:0, ..."),
    Param("tracker", S, _DET.tracker, "ultralytics tracker config: bytetrack.yaml, botsort.yaml or a file path"),
    Param("fall_persistence_s", D, _FALL.persistence_s, "a person must look fallen this long before the alert", "s",
          0.0),
    Param("fall_clear_s", D, _FALL.clear_s, "a fallen person must look up this long before the alert is resolved",
          "s", 0.0),
    Param("fall_threshold", D, _FALL.fall_threshold, "fused fall score that counts as looking fallen", "", 0.0, 1.0),
    Param("fall_clear_threshold", D, _FALL.clear_threshold, "fused fall score below which a person looks up", "",
          0.0, 1.0),
    Param("fall_model_weight", D, _FALL.model_weight, "weight of the model's Fall class in the fall score", "", 0.0),
    Param("fall_shape_weight", D, _FALL.shape_weight, "weight of the lying box shape in the fall score", "", 0.0),
    Param("fall_drop_weight", D, _FALL.drop_weight, "weight of the box-top drop over time in the fall score", "", 0.0),
    Param("fall_lost_track_s", D, _FALL.lost_track_s,
          "a fallen person out of sight keeps the incident this long (no second alert if seen again)", "s", 0.0),
    Param("fall_same_place_m", D, _FALL.same_place_m,
          "a new track whose floor point on the map is this close to where a fallen person was lost "
          "continues that incident", "m", 0.0),
    Param("furniture_world", S, "", "site world (care_home, public_hall or a models/worlds YAML path) whose beds, "
          "sofas and armchairs mean resting, not fallen, for a person lying on them (needs odometry; "
          "empty = off)", check=world_problem, constraint="empty or a site world (models/worlds)"),
    Param("publish_debug_image", B, False, "publish perception/debug_image with boxes drawn (CPU cost)"),
    Param("alert_language", S, "en", "language of fall alert texts for staff (the site's language; "
          "room and place names from furniture_world's labels)", choices=ALERT_LANGUAGES),
    Param("base_frame", S, "base_link", "frame of person floor positions (PersonArray.header.frame_id)",
          check=lambda v: None if v.strip() else "must not be empty", constraint="not empty"),
    Param("map_frame", S, "map", "fall alerts are placed in this frame with the pose from `odom` at the image's "
          "time (odometry in another frame is ignored; empty: alerts stay in base_frame)"),
    Param("camera_x", D, 0.0, "camera position in base_frame, forward", "m"),
    Param("camera_y", D, 0.0, "camera position in base_frame, left", "m"),
    Param("floor_z", D, 0.0, "height of the floor in base_frame (0 for base_footprint, < 0 for base_link)", "m"),
    Param("camera_z", D, 1.2, "camera height in base_frame", "m"),
    Param("camera_yaw", D, 0.0, "camera yaw in base_frame with the head centred (left +)", "rad"),
    Param("camera_pitch", D, 0.0, "camera pitch with the head centred (down +)", "rad"),
    Param("use_head_joints", B, True, "add head pan/tilt from joint_states to the camera pose"),
    Param("head_pan_joint", S, "head_pan_joint", "joint name of the head pan (left +)"),
    Param("head_tilt_joint", S, "head_tilt_joint", "joint name of the head tilt (down +)"),
    Param("stale_image_s", D, 0.0, "skip images older than this when taken for inference (0 = never)", "s", 0.0),
    Param("cpu_budget_cores", D, 0.0, "at most this much CPU for vision: after each frame the worker rests so "
          "the node stays within it, taking the newest frame after (0 = every frame it can)", "cores", 0.0),
    Param("cpu_budget_hearing_cores", D, 0.0, "the budget while the speech node hears or recognises a person "
          "(speech/hearing): a resident waiting for an answer comes first (0 = cpu_budget_cores throughout)",
          "cores", 0.0),
)
_RULES = (
    CrossRule(("camera_z", "floor_z"), lambda cz, fz: cz > fz, "camera_z must be above floor_z (the camera is "
              "above the floor)"),
    CrossRule(("fall_clear_threshold", "fall_threshold"), lambda c, f: 0 < c <= f,
              "need 0 < fall_clear_threshold <= fall_threshold"),
)


@dataclass(frozen=True)
class NodeOptions:
    furniture_world: str
    publish_debug_image: bool
    alert_language: str
    base_frame: str
    map_frame: str
    floor_z: float
    camera: CameraPose
    use_head_joints: bool
    head_pan_joint: str
    head_tilt_joint: str
    stale_image_s: float
    cpu_budget_cores: float
    cpu_budget_hearing_cores: float


@dataclass(frozen=True)
class PerceptionSettings:
    detector: DetectorConfig
    fall: FallConfig
    node: NodeOptions


def build(values: Mapping[str, object]) -> PerceptionSettings:
    """Typed settings from parameter values; raises ParameterError naming every bad parameter."""
    return PERCEPTION.load(values)


def _build(v: Mapping[str, object]) -> PerceptionSettings:
    """Typed settings from checked values (the table's build step)."""
    try:
        detector = DetectorConfig(
            model_path=str(v["model_path"]), imgsz=int(v["imgsz"]), conf=float(v["conf"]),
            fall_conf=float(v["fall_conf"]), iou=float(v["iou"]),
            device=str(v["device"]), tracker=str(v["tracker"]), backend=str(v["backend"]),
            second_look_imgsz=int(v["second_look_imgsz"]), dark_luma=float(v["dark_luma"])).validate()
        fall = FallConfig(
            model_weight=float(v["fall_model_weight"]), shape_weight=float(v["fall_shape_weight"]),
            drop_weight=float(v["fall_drop_weight"]), fall_threshold=float(v["fall_threshold"]),
            clear_threshold=float(v["fall_clear_threshold"]), persistence_s=float(v["fall_persistence_s"]),
            clear_s=float(v["fall_clear_s"]), lost_track_s=float(v["fall_lost_track_s"]),
            same_place_m=float(v["fall_same_place_m"])).validate()
    except ValueError as exc:
        raise ValueError(f"perception parameters: {exc}") from None
    world = str(v["furniture_world"]).strip()
    node = NodeOptions(
        furniture_world=world,
        publish_debug_image=bool(v["publish_debug_image"]), alert_language=str(v["alert_language"]),
        base_frame=str(v["base_frame"]),
        map_frame=str(v["map_frame"]).strip(), floor_z=float(v["floor_z"]),
        camera=CameraPose(float(v["camera_x"]), float(v["camera_y"]), float(v["camera_z"]),
                          float(v["camera_yaw"]), float(v["camera_pitch"])),
        use_head_joints=bool(v["use_head_joints"]), head_pan_joint=str(v["head_pan_joint"]),
        head_tilt_joint=str(v["head_tilt_joint"]), stale_image_s=float(v["stale_image_s"]),
        cpu_budget_cores=float(v["cpu_budget_cores"]), cpu_budget_hearing_cores=float(v["cpu_budget_hearing_cores"]))
    return PerceptionSettings(detector, fall, node)


PERCEPTION = ParamTable("perception", PARAMETERS, rules=_RULES, build=_build)
