"""The perception node: camera frames in, persons and fall alerts out.

Thin adapter around the pure modules: carebot.image_convert (decode), detector (ultralytics
model + tracker), fall_logic (decision), geometry (floor position), pose_history
(map-frame odometry, to place a fall alert where the person is). Inference runs
in one worker thread that always takes the newest frame (LatestSlot): the
subscription callback only stores the message, so nothing queues up and the
executor stays free. The model loads in the worker too: the node is up at once and
reports "loading" / "not ready" on /diagnostics; a missing or broken model file is
logged and reported, never a crash.

Never import MuJoCo here (see detector.py).
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool

from carebot_interfaces.msg import Alert, Person, PersonArray

from carebot import alerts
from carebot.alert_delivery import ALERTS_LIVE_QOS, ALERTS_TOPIC, AlertSender
from carebot.alerts import AlertKind, AlertRecord, AlertState, Severity
from carebot.i18n import alert_text
from carebot.diagnostics import DIAGNOSTICS_PERIOD_S, DiagnosticsPublisher, HealthReport, Level
from carebot.perception import settings as settings_mod
from carebot.perception.annotate import annotate
from carebot.perception.cpu_budget import CpuBudget, HearingBudget
from carebot.perception.detection import Box, Detection
from carebot.perception.detector import Detector, ModelLoadError
from carebot.perception.fall_alerts import IncidentStates
from carebot.perception.fall_logic import AlertChange, AlertEvent, FallMonitor, PersonReport
from carebot.perception.furniture import resting_on
from carebot.perception.geometry import CameraPose, Intrinsics, floor_point, height_marks
from carebot.image_convert import Encoding, ImageFormatError, array_to_image_fields, image_to_bgr
from carebot.perception.latest import LatestSlot
from carebot.perception.pose_history import PoseHistory
from carebot.frames import PlanarPose, stamp_to_s, yaw_of
from carebot.node_runner import run_node
from carebot.ros_common import LATCHED_QOS, declare_table
from carebot.world import load_world

NODE_NAME = "perception"
NO_FRAMES_WARN_S = 5.0                     # no camera frame this long: diagnostics WARN
LOG_THROTTLE_S = 5.0
WORKER_POLL_S = 0.5


class PerceptionNode(Node):
    """Subscribes camera/image_raw, camera/camera_info, joint_states; publishes
    perception/persons, perception/debug_image (optional) and fall alerts."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        # ParameterError (a ValueError) names every bad key; main() logs it and exits non-zero.
        self.settings = declare_table(self, settings_mod.PERCEPTION)
        opts = self.settings.node

        self.health = HealthReport("carebot/perception")
        self.health.set(Level.STALE, "loading model", model=self.settings.detector.model_path or "yolo-fall")
        self._diagnostics = DiagnosticsPublisher(self)
        self._persons_pub = self.create_publisher(PersonArray, "perception/persons", qos_profile_sensor_data)
        # Fall alerts go through the outbox: durable, re-sent until the dashboard stored them.
        self._alerts = AlertSender(self)
        # What the brain and staff did with our incidents: an escalated, acknowledged or
        # resolved incident gets no more updates from perception.
        self._incidents = IncidentStates()
        self.create_subscription(Alert, ALERTS_TOPIC, lambda m: self._incidents.heard(m.id, m.state),
                                 ALERTS_LIVE_QOS)
        self._debug_pub = (self.create_publisher(Image, "perception/debug_image", qos_profile_sensor_data)
                           if opts.publish_debug_image else None)
        self.create_subscription(Image, "camera/image_raw", self._on_image, qos_profile_sensor_data)
        self.create_subscription(CameraInfo, "camera/camera_info", self._on_camera_info, qos_profile_sensor_data)
        if opts.use_head_joints:
            self.create_subscription(JointState, "joint_states", self._on_joints, qos_profile_sensor_data)
        if opts.map_frame:
            self.create_subscription(Odometry, "odom", self._on_odom, qos_profile_sensor_data)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
        # While the speech node hears a resident, vision keeps to a smaller CPU budget.
        self._budget = HearingBudget(opts.cpu_budget_cores, opts.cpu_budget_hearing_cores)
        if opts.cpu_budget_hearing_cores:
            self.create_subscription(Bool, "speech/hearing", lambda m: self._budget.heard(bool(m.data)), LATCHED_QOS)

        self._slot: LatestSlot[Image] = LatestSlot()
        self._stopping = threading.Event()     # wakes the worker from a rest at shutdown
        self._intrinsics: tuple[Intrinsics, int, int] | None = None  # K, width, height of camera_info
        self._head = (0.0, 0.0)  # pan, tilt, rad
        self._poses = PoseHistory()  # written by the executor, read by the worker
        self._poses_lock = threading.Lock()
        self._detector: Detector | None = None
        # The site's furniture (beds, sofas): a person lying on it is resting (furniture.py).
        # Its rooms: a fall alert on the map says which room it is in.
        self._world = load_world(opts.furniture_world) if opts.furniture_world else None
        self._furniture = self._world.furniture if self._world is not None else ()
        self._monitor = FallMonitor(self.settings.fall)
        self._last_stamp: float | None = None
        self._last_frame_wall: float | None = None
        self._stats = {"processed": 0, "malformed": 0, "stale": 0, "latency_ms": 0.0, "infer_ms": 0.0}
        self._worker = threading.Thread(target=self._run_worker, name="perception-inference", daemon=True)
        self._worker.start()

    # ----- callbacks (cheap: store and return) -----
    def _on_image(self, msg: Image) -> None:
        self._slot.put(msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._intrinsics = (Intrinsics.from_k(msg.k), int(msg.width), int(msg.height))
        except ValueError as exc:
            self.get_logger().warning(f"camera_info ignored: {exc}", throttle_duration_sec=LOG_THROTTLE_S)

    def _on_joints(self, msg: JointState) -> None:
        opts = self.settings.node
        pan, tilt = self._head
        for name, pos in zip(msg.name, msg.position):
            if name == opts.head_pan_joint:
                pan = float(pos)
            elif name == opts.head_tilt_joint:
                tilt = float(pos)
        self._head = (pan, tilt)

    def _on_odom(self, msg: Odometry) -> None:
        frame = msg.header.frame_id or self.settings.node.map_frame
        if frame != self.settings.node.map_frame:
            self.get_logger().warning(f"odometry in frame {frame!r}, not {self.settings.node.map_frame!r}: "
                                      "fall alerts stay in the base frame", throttle_duration_sec=60.0)
            return
        p = msg.pose.pose.position
        pose = PlanarPose(p.x, p.y, yaw_of(msg.pose.pose.orientation))
        with self._poses_lock:
            self._poses.add(stamp_to_s(msg.header.stamp), pose)

    # ----- worker -----
    def _run_worker(self) -> None:
        if not self._load_model():
            self._drain_without_model()
            return
        budget = CpuBudget(self._budget.cores)
        while not self._slot.closed:
            msg = self._slot.take(WORKER_POLL_S)
            if msg is None:
                continue
            budget.frame_started()
            try:
                self._process(msg)
            except ImageFormatError as exc:
                self._stats["malformed"] += 1
                self.get_logger().warning(f"malformed image skipped: {exc}", throttle_duration_sec=LOG_THROTTLE_S)
            except Exception as exc:  # one bad frame must not stop perception
                self.get_logger().error(f"frame failed: {type(exc).__name__}: {exc}",
                                        throttle_duration_sec=LOG_THROTTLE_S)
            budget.cores = self._budget.now()
            self._stopping.wait(budget.rest_s())     # within the CPU budget; the newest frame next

    def _load_model(self) -> bool:
        cfg = self.settings.detector
        try:
            self._detector = Detector(cfg)
        except (ModelLoadError, ValueError) as exc:
            self.health.set(Level.ERROR, f"not ready: {exc}")
            self.get_logger().error(f"perception not ready, model failed to load: {exc}")
            return False
        det = self._detector
        self.health.set(Level.OK, "ready", model=str(det.path), imgsz=cfg.imgsz, device=cfg.device,
                        fall_class=det.has_fall_class, backend=det.backend,
                        second_look_imgsz=cfg.second_look_imgsz, furniture=len(self._furniture))
        if det.fallback_reason:
            self.get_logger().warning(f"inference backend fallback: {det.fallback_reason}")
        self.get_logger().info(f"model ready: {det.model_file} ({det.backend}, imgsz {cfg.imgsz}, "
                               f"second look {cfg.second_look_imgsz or 'off'}, {cfg.device}, "
                               f"warm-up {det.warmup_ms:.0f} ms)")
        return True

    def _drain_without_model(self) -> None:
        while not self._slot.closed:
            if self._slot.take(WORKER_POLL_S) is not None:
                self._last_frame_wall = time.monotonic()
                self.get_logger().warning("frame skipped: no model loaded (see the error above)",
                                          throttle_duration_sec=LOG_THROTTLE_S)

    def _process(self, msg: Image) -> None:
        self._last_frame_wall = time.monotonic()
        stamp = stamp_to_s(msg.header.stamp)
        now = self.get_clock().now().nanoseconds * 1e-9
        if stamp == 0.0:
            stamp = now  # a driver without stamps: use arrival time
        opts = self.settings.node
        if opts.stale_image_s > 0 and now - stamp > opts.stale_image_s:
            self._stats["stale"] += 1
            return
        bgr = image_to_bgr(msg)
        if self._last_stamp is not None and stamp < self._last_stamp:
            self.get_logger().info("image stamps went back in time: new stream, tracks reset")
            self._detector.reset_tracking()
            self._monitor.reset()
        self._last_stamp = stamp
        t0 = time.perf_counter()
        detections = self._detector.track(bgr)
        infer_ms = (time.perf_counter() - t0) * 1000.0
        h, w = bgr.shape[:2]
        detections = self._on_map(self._heights(detections, w, h), stamp, w, h)
        reports, events = self._monitor.update(stamp, detections, (w, h))
        self._persons_pub.publish(self._person_array(msg, reports, w, h))
        for event in events:
            self._publish_alert(event, msg)
        if self._debug_pub is not None:
            debug = Image(header=msg.header, **array_to_image_fields(annotate(bgr, reports), Encoding.BGR8))
            self._debug_pub.publish(debug)
        latency_ms = (self.get_clock().now().nanoseconds * 1e-9 - stamp) * 1000.0
        self._stats["processed"] += 1
        first = self._stats["processed"] == 1      # running means, seeded by the first frame
        self._stats["latency_ms"] = latency_ms if first else 0.9 * self._stats["latency_ms"] + 0.1 * latency_ms
        self._stats["infer_ms"] = infer_ms if first else 0.9 * self._stats["infer_ms"] + 0.1 * infer_ms

    # ----- messages -----
    def _position(self, box: Box, width: int, height: int) -> tuple[float, float, float] | None:
        """Floor point under the box's bottom centre in base_frame, when camera_info is known."""
        if self._intrinsics is None:
            return None
        k, info_w, info_h = self._intrinsics
        if box.y2 >= height - 2:
            return None  # feet below the image edge: the floor point would be too near
        if (info_w, info_h) != (width, height) and info_w > 0 and info_h > 0:
            sx, sy = width / info_w, height / info_h  # camera_info for another resolution
            k = Intrinsics(k.fx * sx, k.fy * sy, k.cx * sx, k.cy * sy)
        pose = self.settings.node.camera
        if self.settings.node.use_head_joints:
            pose = pose.with_head(*self._head)
        return floor_point(*box.bottom_centre, k, pose, self.settings.node.floor_z)

    def _pose_at(self, stamp: float) -> PlanarPose | None:
        """The robot's map pose at an image stamp (always None with map_frame empty: no odometry)."""
        with self._poses_lock:
            return self._poses.at(stamp)

    def _on_map(self, detections: list[Detection], stamp: float, width: int, height: int) -> list[Detection]:
        """The detections with their floor point on the map when the robot's pose at the image
        time is known: the fall logic then recognises a lying person after the robot moved."""
        pose = self._pose_at(stamp)
        if pose is None:
            return detections
        placed = []
        camera = self._camera(width, height) if self._furniture else None
        for det in detections:
            base = self._position(det.box, width, height)
            if base is not None:
                det = replace(det, floor=pose.to_map(base[0], base[1]))
            if camera is not None:   # lying on the site's bed/sofa: resting, not fallen (furniture.py)
                det = replace(det, resting_on=resting_on(det.box, *camera, self._furniture,
                                                         self.settings.node.floor_z, (pose.x, pose.y, pose.theta)))
            placed.append(det)
        return placed

    def _heights(self, detections: list[Detection], width: int, height: int) -> list[Detection]:
        """Marks boxes whose top is higher than anyone lying on the floor reaches (camera_info and
        the head's tilt known): above the camera, or 1 m over the feet; a person there is
        sitting, bending or standing, whatever the model's class says. And boxes whose top is
        under 0.6 m over the feet: someone down on the floor, whatever the class says."""
        camera = self._camera(width, height)
        if camera is None:
            return detections
        marked = []
        for d in detections:
            too_high, low = height_marks(d.box, *camera, height, self.settings.node.floor_z)
            marked.append(replace(d, too_high=too_high, near_floor=low))
        return marked

    def _camera(self, width: int, height: int) -> tuple[Intrinsics, CameraPose] | None:
        """K scaled to this image and the camera pose in base_frame (head joints included)."""
        if self._intrinsics is None:
            return None
        k, info_w, info_h = self._intrinsics
        if (info_w, info_h) != (width, height) and info_w > 0 and info_h > 0:
            sx, sy = width / info_w, height / info_h
            k = Intrinsics(k.fx * sx, k.fy * sy, k.cx * sx, k.cy * sy)
        pose = self.settings.node.camera
        if self.settings.node.use_head_joints:
            pose = pose.with_head(*self._head)
        return k, pose

    def _alert_position(self, event: AlertEvent, width: int, height: int
                        ) -> tuple[str, tuple[float, float, float] | None]:
        """Frame and floor point of a fall: in the map with the robot's pose at the frame's
        time when odometry covers it, else in the base frame (the brain transforms it then)."""
        opts = self.settings.node
        position = self._position(event.box, width, height)
        pose = None if position is None else self._pose_at(event.stamp)
        if pose is None:
            return opts.base_frame, position
        return opts.map_frame, (*pose.to_map(position[0], position[1]), position[2])

    def _person_array(self, msg: Image, reports: list[PersonReport], width: int, height: int) -> PersonArray:
        out = PersonArray()
        out.header.stamp = msg.header.stamp
        out.header.frame_id = self.settings.node.base_frame
        out.image_frame_id = msg.header.frame_id
        out.image_width, out.image_height = width, height
        for rep in reports:
            det = rep.detection
            person = Person(track_id=det.track_id if det.track_id is not None else -1, state=int(rep.state),
                            score=det.score, fall_score=rep.fall_score, seconds_down=rep.seconds_down,
                            x1=det.box.x1, y1=det.box.y1, x2=det.box.x2, y2=det.box.y2)
            position = self._position(det.box, width, height)
            if position is not None:
                person.has_position = True
                person.position.x, person.position.y, person.position.z = position
            out.persons.append(person)
        return out

    def _publish_alert(self, event: AlertEvent, msg: Image) -> None:
        log = self.get_logger()
        if event.change is AlertChange.FORGOTTEN:
            log.warning(f"fall incident {event.incident_id}: person (track {event.track_id}) not seen again; "
                        "the alert stays raised for staff")
            return
        frame, position = self._alert_position(event, int(msg.width), int(msg.height))
        on_map = self._world is not None and position is not None and frame == self.settings.node.map_frame
        # Staff look for a room and a thing in it: the room of the map point and the nearest
        # labelled furniture or place (carebot.world.landmark_near), named in the site's language.
        room = self._world.room_at(position[0], position[1]) if on_map else ""
        place = self._world.landmark_near(position[0], position[1]) if on_map else ""
        # Perception never closes an incident (staff do): every change it sends is RAISED. Who it
        # is, perception does not know (person stays empty): the track id is in the details.
        alert = AlertRecord(event.incident_id, AlertKind.FALL, Severity.CRITICAL, AlertState.RAISED,
                            place=place, room=room, position=position,
                            frame_id=frame, raised_at=event.stamp, updated_at=event.stamp)
        language = self.settings.node.alert_language
        if event.change is AlertChange.RAISED:
            alert = replace(alert, message=alert_text.fall_raised(language, self._world, room, place, event.seconds_down,
                                                                  event.track_id, event.fall_score))
            self._incidents.raised(event.incident_id, alert.message, event.stamp)
            log.warning(f"FALL alert raised: {alert.message} [{event.incident_id}]")
        else:
            update = self._incidents.up_again(event.incident_id, language)
            if update is None:
                known = self._incidents.get(event.incident_id)
                log.info(f"fall incident {event.incident_id}: person (track {event.track_id}) is up again; "
                         f"the incident is {known.state.name if known else 'unknown here'}: left to staff")
                return
            alert = replace(alert, message=update[0], raised_at=update[1])   # the incident's start, not this update's
            log.info(f"fall incident {event.incident_id}: person (track {event.track_id}) is up again; "
                     "reported, staff resolve it")
        self._alerts.publish(alerts.to_msg(alert))

    # ----- diagnostics -----
    def _publish_diagnostics(self) -> None:
        if self._detector is not None:
            idle = (time.monotonic() - self._last_frame_wall) if self._last_frame_wall else None
            if idle is None or idle > NO_FRAMES_WARN_S:
                self.health.set(Level.WARN, "ready, no camera frames")
            else:
                self.health.set(Level.OK, "ready")
        s = self._stats
        self.health.values.update(frames_received=str(self._slot.received), frames_dropped=str(self._slot.dropped),
                                  frames_processed=str(s["processed"]), frames_malformed=str(s["malformed"]),
                                  frames_stale=str(s["stale"]), latency_ms=f"{s['latency_ms']:.1f}",
                                  inference_ms=f"{s['infer_ms']:.1f}",
                                  cpu_budget_cores=f"{self._budget.now():g}", hearing=str(self._budget.hearing),
                                  open_fall_incidents=str(len(self._monitor.open_incidents)))
        self._diagnostics.publish(self.health)

    def destroy_node(self) -> None:
        self._stopping.set()
        self._slot.close()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(PerceptionNode, name="perception", args=args)


if __name__ == "__main__":
    sys.exit(main())
