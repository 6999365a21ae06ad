"""Precision/recall of the fall decision on labelled images and frame sequences.

Used by the tests (real model, small sets) and benchmarks/perception_bench.py
(larger sets, figures for docs/perception.md). No ROS.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from carebot.perception.detection import PersonState
from carebot.perception.fall_logic import AlertChange, FallConfig, FallMonitor, single_image_states
from carebot.perception.scenes import Motion, Scene, Sequence, Truth


@dataclass
class Confusion:
    """Counts of a binary decision (positive = fallen)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, truth: bool, decided: bool) -> None:
        if truth and decided:
            self.tp += 1
        elif truth:
            self.fn += 1
        elif decided:
            self.fp += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def summary(self) -> str:
        return (f"precision {self.precision:.2f} recall {self.recall:.2f} "
                f"(tp {self.tp} fp {self.fp} fn {self.fn} tn {self.tn})")


@dataclass
class ImageOutcome:
    name: str
    truth: Truth
    states: list[tuple[str, float, float]]   # (state, detector score, fall score) per person


@dataclass
class ImageEval:
    fall: Confusion = field(default_factory=Confusion)
    upright_found: int = 0      # NORMAL images with >= 1 person, none of them fallen
    upright_total: int = 0
    empty_clean: int = 0        # NONE images with no person at all
    empty_total: int = 0
    outcomes: list[ImageOutcome] = field(default_factory=list)


def evaluate_images(detector, scenes: list[Scene], cfg: FallConfig | None = None) -> ImageEval:
    """Still-image decision (single_image_states) on each scene; positive = any person fallen."""
    cfg = cfg or FallConfig()
    ev = ImageEval()
    for scene in scenes:
        h, w = scene.image.shape[:2]
        decided = []
        for det, state, score in single_image_states(detector.detect(scene.image), (w, h), cfg):
            decided.append((state.label, det.score, score))
        fallen = any(s == PersonState.FALLEN.label for s, _, _ in decided)
        ev.fall.add(scene.truth is Truth.FALLEN, fallen)
        if scene.truth is Truth.NORMAL:
            ev.upright_total += 1
            ev.upright_found += int(bool(decided) and not fallen)
        elif scene.truth is Truth.NONE:
            ev.empty_total += 1
            ev.empty_clean += int(not decided)
        ev.outcomes.append(ImageOutcome(scene.name, scene.truth, decided))
    return ev


@dataclass
class SequenceOutcome:
    name: str
    motion: Motion
    raised: int            # RAISED alerts during the sequence
    resolved: int          # RESOLVED alerts
    alert_delay_s: float | None   # from the body reaching the floor to the first alert
    resolve_delay_s: float | None  # from standing up to the resolution
    ids_seen: int          # distinct track ids (1 = one person kept one id)


@dataclass
class SequenceEval:
    incidents: Confusion = field(default_factory=Confusion)  # per sequence: truth = FALL motion
    outcomes: list[SequenceOutcome] = field(default_factory=list)


def run_sequence(detector, seq: Sequence, cfg: FallConfig | None = None) -> SequenceOutcome:
    """Track and decide over the frames of one sequence (fresh tracker and monitor)."""
    detector.reset_tracking()
    monitor = FallMonitor(cfg or FallConfig())
    raised = resolved = 0
    first_alert = first_resolve = None
    ids: set[int] = set()
    for t, frame in seq.frames:
        h, w = frame.shape[:2]
        dets = detector.track(frame)
        ids.update(d.track_id for d in dets if d.track_id is not None)
        _, events = monitor.update(t, dets, (w, h))
        for ev in events:
            if ev.change is AlertChange.RAISED:
                raised += 1
                first_alert = t if first_alert is None else first_alert
            elif ev.change is AlertChange.RESOLVED:
                resolved += 1
                first_resolve = t if first_resolve is None else first_resolve
    alert_delay = first_alert - seq.fall_at if (first_alert is not None and seq.fall_at is not None) else None
    resolve_delay = first_resolve - seq.up_at if (first_resolve is not None and seq.up_at is not None) else None
    return SequenceOutcome(seq.name, seq.motion, raised, resolved, alert_delay, resolve_delay, len(ids))


def evaluate_sequences(detector, sequences: list[Sequence], cfg: FallConfig | None = None) -> SequenceEval:
    """Per sequence: positive decision = at least one alert raised; truth = it shows a fall."""
    ev = SequenceEval()
    for seq in sequences:
        out = run_sequence(detector, seq, cfg)
        ev.incidents.add(seq.motion is Motion.FALL, out.raised > 0)
        ev.outcomes.append(out)
    return ev


# ----- per-condition figures on scene_sets (dev / held-out) ------------------------------------

def detect_all(detector, images) -> list[list]:
    """The detector's boxes for each image (kept, so decisions can be compared without re-running it)."""
    return [detector.detect(im.image) for im in images]


def fused_decision(cfg: FallConfig | None = None, use_furniture: bool = True, use_near_floor: bool = True):
    """Still-image decision of carebot (single_image_states) as a function of (detections, image).

    use_furniture: the scene's furniture and camera are known (as the node knows the site's
    world, camera_info and its head's tilt); without them a person on a bed looks like one on
    the floor, and a seated person whose head is higher than the camera may look fallen.
    use_near_floor: a box whose top is near the floor counts as fallen (geometry.near_floor)."""
    cfg = cfg or FallConfig()

    def decide(detections, image) -> bool:
        h, w = image.image.shape[:2]
        if use_furniture:
            detections = [with_height_marks(d, image, h, use_near_floor, resting_on=support_of(d, image))
                          for d in detections]
        return any(state is PersonState.FALLEN for _, state, _ in single_image_states(detections, (w, h), cfg))
    return decide


def raw_model_decision(detections, image) -> bool:
    """What model.predict alone says: any box of the model's Fall class."""
    from carebot.perception.detection import DetectionClass

    return any(d.label is DetectionClass.FALL for d in detections)


def with_height_marks(detection, scene, image_height: int, use_near_floor: bool = True, **more):
    """The detection marked as the node marks it, by the scene's camera: its top higher than
    anyone lying on the floor reaches, or near the floor over its feet (geometry.height_marks;
    neither when the camera is unknown). ``more``: other fields to set (resting_on)."""
    from carebot.perception.geometry import height_marks

    view = getattr(scene, "view", None)
    too_high, low = height_marks(detection.box, view.k, view.pose, image_height) if view is not None else (False, False)
    return replace(detection, too_high=too_high, near_floor=use_near_floor and low, **more)


def support_of(detection, image):
    """What the person rests on, from the scene's own camera and furniture (None when unknown)."""
    from carebot.perception.furniture import resting_on

    if not getattr(image, "furniture", ()):
        return None
    return resting_on(detection.box, image.view.k, image.view.pose, image.furniture)


@dataclass
class ConditionEval:
    """Confusion per condition (positive = fallen) and over all images."""

    per_condition: dict = field(default_factory=dict)
    overall: Confusion = field(default_factory=Confusion)
    misses: list = field(default_factory=list)   # names of wrongly decided images

    def rows(self) -> list[str]:
        out = []
        for cond, c in self.per_condition.items():
            n = c.tp + c.fp + c.fn + c.tn
            if c.tp + c.fn:
                out.append(f"{cond.value:9s} n={n:3d} recall {c.recall:.2f} ({c.tp}/{c.tp + c.fn})")
            else:
                out.append(f"{cond.value:9s} n={n:3d} false falls {c.fp}/{n}")
        out.append(f"{'overall':9s} {self.overall.summary()}")
        return out


def evaluate_conditions(images, detections, decide) -> ConditionEval:
    """decide(detections, image) -> fallen? for each image; counts per condition."""
    ev = ConditionEval()
    for image, dets in zip(images, detections):
        truth = image.truth is Truth.FALLEN
        fallen = bool(decide(dets, image))
        ev.per_condition.setdefault(image.condition, Confusion()).add(truth, fallen)
        ev.overall.add(truth, fallen)
        if truth != fallen:
            ev.misses.append(image.name)
    return ev


def run_labelled_sequence(detector, seq, cfg: FallConfig | None = None,
                          use_furniture: bool = True) -> SequenceOutcome:
    """run_sequence for a scene_sets.LabelledSequence: its camera and furniture are known, as the
    node knows the site's world and its pose (people lying down on a bed or sofa rest)."""
    from carebot.perception.furniture import resting_on

    detector.reset_tracking()
    monitor = FallMonitor(cfg or FallConfig())
    raised = resolved = 0
    first_alert = first_resolve = None
    ids: set[int] = set()
    for t, frame in seq.frames:
        h, w = frame.shape[:2]
        dets = detector.track(frame)
        if use_furniture:   # the scene's camera (and furniture) known, as the node knows them
            dets = [with_height_marks(d, seq, h, resting_on=resting_on(d.box, seq.view.k, seq.view.pose, seq.furniture)
                                      if seq.furniture else None) for d in dets]
        ids.update(d.track_id for d in dets if d.track_id is not None)
        _, events = monitor.update(t, dets, (w, h))
        for ev in events:
            if ev.change is AlertChange.RAISED:
                raised += 1
                first_alert = t if first_alert is None else first_alert
            elif ev.change is AlertChange.RESOLVED:
                resolved += 1
                first_resolve = t if first_resolve is None else first_resolve
    alert_delay = first_alert - seq.fall_at if (first_alert is not None and seq.fall_at is not None) else None
    resolve_delay = first_resolve - seq.up_at if (first_resolve is not None and seq.up_at is not None) else None
    return SequenceOutcome(seq.name, seq.motion, raised, resolved, alert_delay, resolve_delay, len(ids))
