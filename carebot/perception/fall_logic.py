"""Fall decision: fuse the model's Fall class with box shape, box drop and time down.

Pure module (no ROS, no torch); time comes from the caller (image stamps), so the
same code runs live, in sim time and in tests.

Evidence, each 0..1:
* model: the detector's Fall-class confidence (0 when it says Normal/person);
* shape: box width/height ramps from upright to lying; a box cut by the top or bottom
  image border needs a much wider shape (its true height is unknown); a box cut by one
  side border has an unknown width (the body goes on outside the image), so when it does
  not look lying its shape is left out of the mean instead of counting as upright. With
  two image sizes (detector.merge_looks) the more lying of the two boxes counts;
* drop: the box top fell by a large share of the person's recent upright height
  while the feet stayed put and the width did not shrink (a fall, not walking
  away). Once seen in an episode
  it is latched until the person is up again, because the upright reference
  leaves the history window while the person lies still.

fall_score = weighted mean of the three. A track becomes FALLEN when its score
stays >= fall_threshold (dips between clear_threshold and fall_threshold do not
reset the count) for persistence_s; that raises exactly one alert (incident). It
becomes NORMAL again, resolving the incident, after clear_s below clear_threshold.
A fallen track the tracker loses keeps its incident for lost_track_s; a new track
that appears (or falls) where it lay takes the incident over: no second alert, and
getting up under a new id resolves it. "Where it lay" is the floor point on the map
when both detections have one (the robot or its head may have moved, so image places
no longer compare), else the image place (same_place). An incident is
never resolved without seeing the person up: if the person is not seen again the
alert stays raised for staff.
"""
from __future__ import annotations

import enum
import math
import uuid
from collections import deque
from dataclasses import dataclass, field

from carebot.perception.detection import Box, Detection, DetectionClass, PersonState


@dataclass(frozen=True)
class FallConfig:
    """Tunable fall-decision parameters (defaults chosen for a care home)."""

    # Weights and thresholds chosen on the dev part of scene_sets (docs/perception.md): the
    # model's Fall class decides alone from 0.5, with a lying box from 0.17 (any Fall box
    # above conf); shape alone (0.2) or drop alone (0.2) never does, shape + drop (0.4) does
    # (a person who just went down while the model still says Normal). 0.3 is the middle
    # of the plateau of dev recall (0.85 from 0.26 to 0.33, falling to 0.78 at 0.4).
    model_weight: float = 0.6
    shape_weight: float = 0.2
    drop_weight: float = 0.2
    fall_threshold: float = 0.3     # fused score to count as "looks fallen"
    clear_threshold: float = 0.25   # below this the person looks up again (hysteresis; > drop alone)
    persistence_s: float = 2.0      # looks fallen this long before the alert
    clear_s: float = 2.0            # looks up this long before the alert is resolved
    upright_aspect: float = 0.9     # width/height at or below: shape evidence 0
    lying_aspect: float = 1.6       # width/height at or above: shape evidence 1
    drop_start: float = 0.2         # top dropped by this share of upright height: drop evidence starts
    drop_full: float = 0.45         # ... by this share: drop evidence 1
    feet_tolerance: float = 0.35    # feet may move this share of upright height during a fall
    min_width_ratio: float = 0.8    # a falling body keeps its width; a shrinking box walks away
    history_s: float = 4.0          # window searched for the upright reference box, s
    border_px: float = 2.0          # a box this close to the top/bottom edge is cut off
    cut_upright_aspect: float = 1.8  # a box cut at the top/bottom edge: shape evidence starts here ...
    cut_lying_aspect: float = 2.6    # ... and is 1 here (a waist-cut upper body is ~1..1.6 wide)
    lost_track_s: float = 30.0      # an unseen fallen track keeps its incident this long, s
    reattach_overlap: float = 0.2   # boxes overlapping this much (of the smaller) are the same place
    feet_margin: float = 0.25       # ... as are boxes whose feet lie in the other grown by this share
    same_place_m: float = 1.0       # floor points on the map closer than this are the same place, m
    strong_fall: float = 0.5        # a Fall this confident decides alone (model_weight x 0.5 = fall_threshold)
    fragment_inside: float = 0.8    # a weaker Fall box this much inside an upright person box ...
    fragment_below: float = 0.4     # ... starting this share of its height below its top: the legs (leg_fragment)

    def validate(self) -> "FallConfig":
        """Raise ValueError naming the first bad value; returns self."""
        for name in ("model_weight", "shape_weight", "drop_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.model_weight + self.shape_weight + self.drop_weight <= 0:
            raise ValueError("at least one evidence weight must be > 0")
        if not 0 < self.clear_threshold <= self.fall_threshold <= 1:
            raise ValueError("need 0 < clear_threshold <= fall_threshold <= 1")
        for name in ("persistence_s", "clear_s", "history_s", "lost_track_s", "border_px"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 0 < self.upright_aspect < self.lying_aspect:
            raise ValueError("need 0 < upright_aspect < lying_aspect")
        if not 0 < self.cut_upright_aspect < self.cut_lying_aspect:
            raise ValueError("need 0 < cut_upright_aspect < cut_lying_aspect")
        if not 0 <= self.drop_start < self.drop_full:
            raise ValueError("need 0 <= drop_start < drop_full")
        if not 0 < self.strong_fall <= 1 or not 0 < self.fragment_inside <= 1 or not 0 <= self.fragment_below < 1:
            raise ValueError("need 0 < strong_fall <= 1, 0 < fragment_inside <= 1 and 0 <= fragment_below < 1")
        if not 0 <= self.reattach_overlap <= 1:
            raise ValueError("reattach_overlap must be in 0..1")
        if self.feet_margin < 0:
            raise ValueError("feet_margin must be >= 0")
        if not self.same_place_m > 0:
            raise ValueError("same_place_m must be > 0")
        return self


def _ramp(value: float, start: float, full: float) -> float:
    if value <= start:
        return 0.0
    if value >= full:
        return 1.0
    return (value - start) / (full - start)


def model_evidence(detection: Detection) -> float:
    """The model's Fall-class confidence; 0 when its winning class is an upright person."""
    return float(detection.score) if detection.label is DetectionClass.FALL else 0.0


def shape_evidence(box: Box, image_size: tuple[int, int], cfg: FallConfig) -> float:
    """Lying-shape evidence from width/height; a box cut at the top or bottom edge needs a much
    wider shape (a person cut at the waist looks wide, but not 2-3 times wider than tall)."""
    _, height = image_size
    if box.height <= 0:
        return 0.0
    if box.y1 <= cfg.border_px or box.y2 >= height - cfg.border_px:
        return _ramp(box.aspect, cfg.cut_upright_aspect, cfg.cut_lying_aspect)
    return _ramp(box.aspect, cfg.upright_aspect, cfg.lying_aspect)


def drop_evidence(box: Box, reference: Box | None, cfg: FallConfig) -> float:
    """Evidence that the box top fell relative to an upright reference while the feet stayed."""
    if reference is None or reference.height <= 0:
        return 0.0
    feet_moved = abs(box.y2 - reference.y2) / reference.height
    if feet_moved > cfg.feet_tolerance:
        return 0.0  # moved through the scene (walking, camera motion), not a fall on the spot
    if box.width < cfg.min_width_ratio * reference.width:
        return 0.0  # shrank as a whole: further away, not lower
    dropped = (box.y1 - reference.y1) / reference.height
    return _ramp(dropped, cfg.drop_start, cfg.drop_full)


def same_place(a: Box, b: Box, cfg: FallConfig) -> bool:
    """Whether two boxes are plausibly one person before/after falling or rising.

    Standing and lying boxes of one person overlap little, but the standing feet lie
    at (or next to) the lying body; boxes that simply overlap also count."""
    return (a.overlap(b) >= cfg.reattach_overlap or a.contains(b.bottom_centre, cfg.feet_margin)
            or b.contains(a.bottom_centre, cfg.feet_margin))


def fuse(model: float, shape: float | None, drop: float, cfg: FallConfig) -> float:
    """Weighted mean of the evidence, 0..1; shape None = unknown, left out of the mean."""
    if shape is None:
        known = cfg.model_weight + cfg.drop_weight
        return (cfg.model_weight * model + cfg.drop_weight * drop) / known if known > 0 else 0.0
    total = cfg.model_weight + cfg.shape_weight + cfg.drop_weight
    return (cfg.model_weight * model + cfg.shape_weight * shape + cfg.drop_weight * drop) / total


def cut_at_one_side(box: Box, image_size: tuple[int, int], cfg: FallConfig) -> bool:
    """The box touches the left or the right image border (not both, not the top): the person
    may go on outside the image, so the box's width says nothing about lying or standing."""
    width, _ = image_size
    left, right = box.x1 <= cfg.border_px, box.x2 >= width - cfg.border_px
    return left != right and box.y1 > cfg.border_px


def detection_score(detection: Detection, image_size: tuple[int, int], drop: float, cfg: FallConfig) -> float:
    """Fused fall score of one detection in one frame, given the drop evidence; 0 on a bed/sofa
    or when the box reaches higher than anyone lying on the floor, 1 when its top is near the
    floor (all three need the camera: the node knows it)."""
    if detection.resting_on:
        return 0.0   # lying on a bed/sofa/armchair of the site (furniture.py): resting, not fallen
    if detection.too_high:
        return 0.0   # its top is above the camera or 1 m over its feet: sitting, bending or standing
    if detection.near_floor:
        return 1.0   # its top under 0.6 m over its feet: down on the floor, even where the model saw "Normal"
    model = model_evidence(detection)
    boxes = [detection.box] + ([detection.fall_box] if detection.fall_box is not None else [])
    shape = max(shape_evidence(b, image_size, cfg) for b in boxes)
    score = fuse(model, shape, drop, cfg)
    if shape < 1.0 and all(cut_at_one_side(b, image_size, cfg) for b in boxes):
        score = max(score, fuse(model, None, drop, cfg))
    return score


def leg_fragment(fall: Detection, person: Detection, cfg: FallConfig) -> bool:
    """Whether a weak Fall box is only the lower part of a standing person's box: the model
    sometimes frames a standing person's legs again as a weak, wide "Fall" (docs/perception.md,
    dim light). Such a box lies almost wholly inside an upright person box and starts well
    below its top; a person lying beside a standing one reaches out of that box."""
    if fall.label is not DetectionClass.FALL or fall.score >= cfg.strong_fall or person.label is DetectionClass.FALL:
        return False
    if person.box.aspect > cfg.upright_aspect or fall.box.width * fall.box.height >= person.box.width * person.box.height:
        return False
    return (fall.box.overlap(person.box) >= cfg.fragment_inside
            and fall.box.y1 >= person.box.y1 + cfg.fragment_below * person.box.height)


def without_leg_fragments(detections: list[Detection], cfg: FallConfig) -> list[Detection]:
    """The detections less the weak Fall boxes that are a standing person's legs (leg_fragment)."""
    return [d for d in detections if not any(other is not d and leg_fragment(d, other, cfg) for other in detections)]


def frame_fall_score(detection: Detection, image_size: tuple[int, int], cfg: FallConfig) -> float:
    """Fall score from one image alone (no history: drop evidence 0); 0 on a bed/sofa (furniture.py)."""
    return detection_score(detection, image_size, 0.0, cfg)


def single_image_state(detection: Detection, image_size: tuple[int, int], cfg: FallConfig) -> tuple[PersonState, float]:
    """Decision for a still photo (CLI, labelled image sets): no persistence is possible."""
    score = frame_fall_score(detection, image_size, cfg)
    return (PersonState.FALLEN if score >= cfg.fall_threshold else PersonState.NORMAL), score


def single_image_states(detections: list[Detection], image_size: tuple[int, int],
                        cfg: FallConfig) -> list[tuple[Detection, PersonState, float]]:
    """Each person of a still photo with its decision and score; a standing person's legs
    framed again as a weak Fall are not a second person (without_leg_fragments)."""
    return [(d, *single_image_state(d, image_size, cfg)) for d in without_leg_fragments(detections, cfg)]


class AlertChange(enum.Enum):
    RAISED = "raised"         # a new fall incident: alert staff once
    RESOLVED = "resolved"     # the person of an incident is seen up again
    FORGOTTEN = "forgotten"   # the person was not seen again within lost_track_s; alert stays raised


@dataclass(frozen=True)
class AlertEvent:
    """A change of a fall incident for the node to publish (or log, for FORGOTTEN)."""

    change: AlertChange
    incident_id: str
    track_id: int
    stamp: float          # time of the frame that caused it, s
    box: Box
    fall_score: float
    seconds_down: float


@dataclass(frozen=True)
class PersonReport:
    """One person in one frame after the fall decision."""

    detection: Detection
    state: PersonState
    fall_score: float
    seconds_down: float
    incident_id: str = ""


@dataclass
class _Track:
    history: deque = field(default_factory=deque)   # (t, Box) of recent frames
    state: PersonState = PersonState.NORMAL
    down_since: float | None = None   # start of the current "looks fallen" episode
    up_since: float | None = None     # start of "looks up" while FALLEN
    latched_drop: float = 0.0
    last_seen: float = 0.0
    last_box: Box | None = None
    last_floor: tuple[float, float] | None = None
    last_score: float = 0.0
    incident_id: str = ""


class FallMonitor:
    """Per-track fall state machine over a stream of frames (one instance per camera)."""

    def __init__(self, cfg: FallConfig | None = None, new_id=lambda: str(uuid.uuid4())):
        self.cfg = (cfg or FallConfig()).validate()
        self._tracks: dict[int, _Track] = {}
        self._new_id = new_id
        self._previous_stamp = float("-inf")

    @property
    def open_incidents(self) -> dict[str, int]:
        """incident id -> track id, for incidents not yet resolved or forgotten."""
        return {t.incident_id: tid for tid, t in self._tracks.items() if t.incident_id}

    def reset(self) -> None:
        """Forget all tracks and incidents (new camera stream)."""
        self._tracks.clear()
        self._previous_stamp = float("-inf")

    def update(self, stamp: float, detections: list[Detection],
               image_size: tuple[int, int]) -> tuple[list[PersonReport], list[AlertEvent]]:
        """Feed one frame (stamp in s, detections, (width, height)); get reports and alert changes."""
        cfg = self.cfg
        reports: list[PersonReport] = []
        events: list[AlertEvent] = []
        detections = without_leg_fragments(detections, cfg)
        seen = {d.track_id for d in detections if d.track_id is not None}
        for det in detections:
            if det.track_id is None:
                # Unconfirmed box: no history to persist over, report the still-image score only.
                reports.append(PersonReport(det, PersonState.NORMAL, frame_fall_score(det, image_size, cfg), 0.0))
                continue
            track = self._tracks.get(det.track_id)
            if track is None:
                track = self._tracks[det.track_id] = _Track()
            if not track.incident_id and (track.last_box is None or track.last_seen < self._previous_stamp):
                self._continue_lost_incident(det, track, seen)
            if not track.history:
                self._inherit_history(det, track, stamp, seen)
            reports.append(self._step(det, track, stamp, image_size, seen, events))
        self._forget_lost(stamp, seen, events)
        self._previous_stamp = stamp
        return reports, events

    def _step(self, det: Detection, track: _Track, t: float, image_size: tuple[int, int],
              seen: set[int], events: list[AlertEvent]) -> PersonReport:
        cfg = self.cfg
        while track.history and t - track.history[0][0] > cfg.history_s:
            track.history.popleft()
        reference = max((b for _, b in track.history), key=lambda b: b.height, default=None)
        drop = drop_evidence(det.box, reference, cfg)
        if track.down_since is not None or track.state is PersonState.FALLEN:
            track.latched_drop = max(track.latched_drop, drop)
            drop = track.latched_drop
        score = detection_score(det, image_size, drop, cfg)

        if track.state is PersonState.NORMAL:
            if score >= cfg.fall_threshold:
                if track.down_since is None:
                    track.down_since = t
                    track.latched_drop = drop
            elif score < cfg.clear_threshold:
                track.down_since = None
                track.latched_drop = 0.0
            if track.down_since is not None and t - track.down_since >= cfg.persistence_s:
                track.state = PersonState.FALLEN
                track.up_since = None
                track.incident_id = self._take_over_incident(det, seen) or self._incident_nearby(det, track)
                if not track.incident_id:
                    track.incident_id = self._new_id()
                    events.append(AlertEvent(AlertChange.RAISED, track.incident_id, det.track_id, t,
                                             det.box, score, t - track.down_since))
        else:
            if score < cfg.clear_threshold:
                track.up_since = t if track.up_since is None else track.up_since
                if t - track.up_since >= cfg.clear_s:
                    events.append(AlertEvent(AlertChange.RESOLVED, track.incident_id, det.track_id, t,
                                             det.box, score, 0.0))
                    self._close_incident(track.incident_id)
                    track.state = PersonState.NORMAL
                    track.incident_id = ""
                    track.down_since = None
                    track.up_since = None
                    track.latched_drop = 0.0
                    track.history.clear()  # the lying boxes are no upright reference
            else:
                track.up_since = None

        track.history.append((t, det.box))
        track.last_seen, track.last_box, track.last_score = t, det.box, score
        track.last_floor = det.floor
        seconds_down = t - track.down_since if track.down_since is not None else 0.0
        return PersonReport(det, track.state, score, seconds_down, track.incident_id)

    def _lost_incident_at(self, det: Detection, seen: set[int]) -> int | None:
        """Track id of an unseen fallen track at this detection's place (most overlap first)."""
        candidates = [(det.box.overlap(other.last_box), tid) for tid, other in self._tracks.items()
                      if tid not in seen and other.incident_id and other.last_box is not None
                      and self._same_place(det, other)]
        return max(candidates)[1] if candidates else None

    def _continue_lost_incident(self, det: Detection, track: _Track, seen: set[int]) -> None:
        """A track that (re)appears this frame where a fallen person was lost continues that incident.

        Trackers often switch ids when a box changes shape fast (falling, getting up), or
        revive the person's id from before the fall: either way getting up resolves the
        incident, and lying on raises no second alert."""
        lost = self._lost_incident_at(det, seen)
        if lost is None:
            return
        old = self._tracks.pop(lost)
        track.state, track.incident_id = PersonState.FALLEN, old.incident_id
        track.down_since, track.up_since, track.latched_drop = old.down_since, None, old.latched_drop
        track.history.clear()

    def _inherit_history(self, det: Detection, track: _Track, t: float, seen: set[int]) -> None:
        """A track with no history takes the recent boxes of a just-lost track at the same place.

        Trackers often start a new id when a person falls (the box changes shape in a
        fraction of a second); without the boxes from before, the drop of the box top
        would be invisible to the new track."""
        candidates = [(det.box.overlap(other.last_box), t - other.last_seen, id(other), other)
                      for tid, other in self._tracks.items()
                      if tid not in seen and other is not track and other.history and other.last_box is not None
                      and t - other.last_seen <= self.cfg.history_s
                      and self._same_place(det, other)]
        if candidates:
            best = max(candidates, key=lambda c: (c[0], -c[1]))[3]
            track.history.extend(best.history)

    def _incident_nearby(self, det: Detection, track: _Track) -> str:
        """Open incident of another track at the same place: a second (often nested) box on
        the same fallen person, which agnostic NMS did not merge, shares the first alert."""
        for other in self._tracks.values():
            if other is not track and other.incident_id and other.last_box is not None \
                    and self._same_place(det, other):
                return other.incident_id
        return ""

    def _same_place(self, det: Detection, other: _Track) -> bool:
        """Whether a detection is where another track was last seen: on the map when both
        floor points are known, else in the image."""
        if det.floor is not None and other.last_floor is not None:
            return math.dist(det.floor, other.last_floor) < self.cfg.same_place_m
        return same_place(det.box, other.last_box, self.cfg)

    def _close_incident(self, incident_id: str) -> None:
        """After RESOLVED: other tracks sharing the incident (duplicate boxes) are cleared too."""
        for other in self._tracks.values():
            if other.incident_id == incident_id:
                other.incident_id = ""
                other.state, other.down_since, other.up_since, other.latched_drop = PersonState.NORMAL, None, None, 0.0

    def _take_over_incident(self, det: Detection, seen: set[int]) -> str:
        """Incident of a lost fallen track where this newly fallen one lies (tracker changed the id)."""
        lost = self._lost_incident_at(det, seen)
        return self._tracks.pop(lost).incident_id if lost is not None else ""

    def _forget_lost(self, t: float, seen: set[int], events: list[AlertEvent]) -> None:
        for tid in [tid for tid in self._tracks if tid not in seen]:
            track = self._tracks[tid]
            if t - track.last_seen <= self.cfg.lost_track_s:
                continue
            if track.incident_id and track.last_box is not None:
                events.append(AlertEvent(AlertChange.FORGOTTEN, track.incident_id, tid, t,
                                         track.last_box, track.last_score, 0.0))
            del self._tracks[tid]
