"""Precision/recall of the fall decision on labelled images and frame sequences.

Used by the tests (real model, small sets) and benchmarks/perception_bench.py
(larger sets, figures for docs/perception.md). No ROS.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from carebot.perception.detection import PersonState
from carebot.perception.fall_logic import AlertChange, FallConfig, FallMonitor, single_image_state
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
    """Still-image decision (single_image_state) on each scene; positive = any person fallen."""
    cfg = cfg or FallConfig()
    ev = ImageEval()
    for scene in scenes:
        h, w = scene.image.shape[:2]
        decided = []
        for det in detector.detect(scene.image):
            state, score = single_image_state(det, (w, h), cfg)
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
