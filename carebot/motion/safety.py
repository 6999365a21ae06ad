"""The base safety layer: the only path from any command source to the wheels.

Pure logic, no ROS. ``SafetyLayer`` takes velocity commands from its sources
(teleoperation outranks navigation; the layer itself outranks both), lidar points
and person positions, and an emergency stop; ``step(now)`` returns the one command
that may reach the base and why it is held, if it is.

Guarantees (checked by property tests with random and malformed streams):

* forward speed <= the limit in force (site maximum, or ``person_slow_speed`` when a
  person is within ``person_slow_radius`` of the robot's edge), reverse speed <=
  ``max_reverse_speed``, turn rate <= ``max_angular_speed``;
* speeding up never faster than ``max_linear_accel`` / ``max_angular_accel``;
* zero output when: the latched e-stop is on (only ``reset_estop`` clears it), the
  selected source has been silent for ``cmd_timeout`` (less the tick ``horizon``), the
  lidar is stale, absent or faulty (too many NaN beams, a scan that cannot be read),
  the last command was NaN, infinite or absurd, or an obstacle or person lies inside
  the stopping distance in the direction of travel;
* no travel in a direction the lidar does not see: too few valid beams, a wide unseen gap,
  or an object closer than the lidar's ``range_min`` in the travel sector (REP 117: NaN is a
  fault, -inf and readings below range_min are objects at range_min, +inf is free);
* no turning in place unless the arm is known to be tucked inside the footprint (fresh
  ``arm`` reports): a stretched-out arm sweeps a circle round the robot;
* output is always finite.

Safety stops are immediate (the drive brakes at its own limit); ordinary slow-downs
follow ``max_linear_decel``.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields

import numpy as np

from carebot.motion import scan as scanlib
from carebot.motion.description import FOOTPRINT_RADIUS


class Source(enum.IntEnum):
    """Command sources; a higher value wins while it is fresh."""

    NAVIGATION = 1
    TELEOP = 2


class Mode(enum.IntEnum):
    """Same values as carebot_interfaces/RobotStatus MODE_*."""

    IDLE = 0
    NAVIGATING = 1
    GESTURING = 2
    TELEOP = 3
    EMERGENCY_STOP = 4
    FAULT = 5


class StopReason(str, enum.Enum):
    NONE = ""
    ESTOP = "emergency stop"
    TIMEOUT = "command timeout"
    LIDAR_STALE = "lidar stale"
    NO_LIDAR = "no lidar data yet"
    INVALID_COMMAND = "invalid command rejected"
    OBSTACLE = "obstacle in stopping distance"
    PERSON = "person in stopping distance"
    LIDAR_FAULT = "lidar fault"
    LIDAR_BLIND = "too few valid lidar beams"
    TOO_CLOSE = "object closer than the lidar's range_min"
    ARM_OUT = "arm not tucked: no turning in place"


# Output speeds below this are sent as exact zeros (no creeping).
MIN_SPEED = 0.01            # m/s
MIN_TURN = 0.01             # rad/s
MAX_STEP_DT = 0.2           # s; a late control tick never allows a bigger speed jump than this


@dataclass(frozen=True)
class SafetyConfig:
    """Limits of the safety layer. Units: m, s, rad."""

    max_linear_speed: float = 0.6        # m/s forward
    max_reverse_speed: float = 0.2       # m/s backward (the rear view is partly hidden)
    max_angular_speed: float = 1.0       # rad/s
    max_linear_accel: float = 0.5        # m/s^2 when speeding up
    max_linear_decel: float = 1.0        # m/s^2 for ordinary slow-downs
    max_angular_accel: float = 2.0       # rad/s^2
    cmd_timeout: float = 0.5             # s without a command from the selected source -> stop
    scan_timeout: float = 0.5            # s without a lidar scan -> stop
    persons_timeout: float = 1.0         # s after which a person detection is forgotten
    person_slow_radius: float = 1.5      # m from the robot's edge
    person_slow_speed: float = 0.3       # m/s near people
    person_slow_angular: float = 0.6     # rad/s near people
    person_radius: float = 0.25          # m, a person as a disc around the reported position
    person_stop_margin: float = 0.30     # m kept free around people on top of stop_margin
    footprint_radius: float = FOOTPRINT_RADIUS
    side_margin: float = 0.05            # m added to the robot radius for the travel corridor
    stop_margin: float = 0.10            # m always kept between the robot and anything ahead
    brake_decel: float = 0.8             # m/s^2 the base surely brakes at (for stopping distance)
    reaction_time: float = 0.25          # s from a scan to braking wheels
    absurd_linear_speed: float = 3.0     # m/s; above this a command is rejected, not clamped
    absurd_angular_speed: float = 6.0    # rad/s
    # Lidar health. Valid beams measure something: a return, nothing in range (+inf) or an
    # object too close to measure; NaN beams measure nothing.
    min_valid_beam_fraction: float = 0.8  # of a scan (else: lidar fault) and of the travel sector
    # Widest unseen stretch of the travel sector, rad: a 0.1 m leg at the 0.65 m the robot
    # needs to stop from 0.5 m/s spans 0.15 rad, so it cannot hide in a 0.1 rad gap.
    max_beam_gap: float = 0.1
    travel_sector_half_angle: float = 1.05  # rad (60 deg) each side of the direction of travel
    arm_state_timeout: float = 1.0       # s after which the arm's reported state is unknown

    def validate(self) -> "SafetyConfig":
        """Raise ValueError naming the first bad value."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"safety config {f.name} must be a finite number >= 0, got {value!r}")
        positive = ("max_linear_speed", "max_angular_speed", "max_linear_accel", "max_linear_decel",
                    "max_angular_accel", "cmd_timeout", "scan_timeout", "brake_decel", "footprint_radius")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"safety config {name} must be > 0")
        if self.person_slow_speed > 0.3 + 1e-9:
            raise ValueError("person_slow_speed must be <= 0.3 m/s (care-home requirement)")
        if self.absurd_linear_speed < self.max_linear_speed or self.absurd_angular_speed < self.max_angular_speed:
            raise ValueError("absurd speed thresholds must be above the maximum speeds")
        if not 0.0 < self.min_valid_beam_fraction <= 1.0:
            raise ValueError("min_valid_beam_fraction must lie in (0, 1]")
        if not 0.0 < self.max_beam_gap < 2 * self.travel_sector_half_angle:
            raise ValueError("max_beam_gap must be > 0 and narrower than the travel sector")
        if not 0.0 < self.travel_sector_half_angle <= math.pi / 2:
            raise ValueError("travel_sector_half_angle must lie in (0, pi/2] rad")
        if self.arm_state_timeout <= 0:
            raise ValueError("arm_state_timeout must be > 0")
        return self

    def stopping_distance(self, speed: float) -> float:
        """Distance (m) needed to stop from ``speed`` m/s, plus the margin."""
        v = abs(speed)
        return self.stop_margin + v * self.reaction_time + v * v / (2 * self.brake_decel)

    def speed_for_clearance(self, clearance: float) -> float:
        """Largest speed (m/s) whose stopping distance fits into ``clearance`` m."""
        free = clearance - self.stop_margin
        if free <= 0:
            return 0.0
        if math.isinf(free):
            return math.inf
        b, t = self.brake_decel, self.reaction_time
        return b * (-t + math.sqrt(t * t + 2 * free / b))


@dataclass(frozen=True)
class SafetyOutput:
    """What the layer lets through, and the state for RobotStatus."""

    linear: float               # m/s
    angular: float              # rad/s
    mode: Mode
    speed_limit: float          # m/s forward limit in force
    estop: bool
    stop_reason: str            # why the base is held ("" when free)
    source: Source | None       # the source whose command is being followed
    person_near: bool
    lidar_fault: str = ""       # why the lidar cannot be trusted at all ("" when it can)
    lidar_blind: str = ""       # a direction of travel the lidar does not see well enough ("" when none)


@dataclass
class _Command:
    linear: float
    angular: float
    stamp: float
    rejected: str = ""          # non-empty: this source's last command was invalid


def check_command(linear: float, angular: float, config: SafetyConfig) -> str:
    """Empty when the command may be clamped and used; otherwise why it is rejected."""
    for name, value in (("linear", linear), ("angular", angular)):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{name} velocity is not a finite number ({value!r})"
    if abs(linear) > config.absurd_linear_speed:
        return f"linear velocity {linear:.3g} m/s is absurd (> {config.absurd_linear_speed} m/s)"
    if abs(angular) > config.absurd_angular_speed:
        return f"angular velocity {angular:.3g} rad/s is absurd (> {config.absurd_angular_speed} rad/s)"
    return ""


class SafetyLayer:
    """State of the safety layer; feed it inputs and call ``step`` at the control rate."""

    def __init__(self, config: SafetyConfig | None = None):
        self.config = (config or SafetyConfig()).validate()
        self._commands: dict[Source, _Command] = {}
        self._points = np.zeros((0, 2))
        self._person_points = np.zeros((0, 2))     # lidar clusters that look like people
        self._scan_stamp: float | None = None
        self._beams: scanlib.Beams | None = None       # None: caller gives points only (tests, benchmarks)
        self._fault = ""                                # why the last scan cannot be used at all
        self._too_close = np.zeros(0, dtype=bool)
        self._arm_tucked = False
        self._arm_stamp = -math.inf
        self._persons = np.zeros((0, 2))
        self._persons_stamp = -math.inf
        self._estop_reason = ""
        self._last_step: float | None = None
        self._out_linear = 0.0
        self._out_angular = 0.0

    # --- inputs ---------------------------------------------------------------
    def command(self, source: Source, linear: float, angular: float, now: float) -> str:
        """A velocity command from ``source``; returns the rejection reason ('' if accepted)."""
        reason = check_command(linear, angular, self.config)
        if reason:
            self._commands[source] = _Command(0.0, 0.0, now, rejected=reason)
        else:
            self._commands[source] = _Command(float(linear), float(angular), now)
        return reason

    def scan(self, points: np.ndarray, now: float, beam_index: np.ndarray | None = None,
             static_mask: np.ndarray | None = None, beams: scanlib.Beams | None = None,
             too_close: np.ndarray | None = None) -> None:
        """Lidar points (N, 2) in the base frame, in scan order.

        ``static_mask`` (optional, N bools) marks points explained by the static site map;
        they still stop the robot but are not taken for people. ``beams`` (from
        ``scan.read_scan``) gives every beam's state, for the fault and travel-sector checks;
        ``too_close`` (N bools) marks points placed at range_min (never taken for people).
        Without ``beams`` the points are trusted as a complete view (test and benchmark use).
        """
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        finite = np.all(np.isfinite(pts), axis=1)
        pts = pts[finite]
        if beam_index is not None:
            beam_index = np.asarray(beam_index)[finite]
        close = np.zeros(len(pts), dtype=bool) if too_close is None else np.asarray(too_close, dtype=bool)[finite]
        self._points = pts
        self._scan_stamp = now
        self._beams = beams
        self._fault = "" if beams is None else beams.health(self.config.min_valid_beam_fraction)
        self._too_close = close
        # Objects closer than range_min have no measured position: they stop, they are not people.
        measured = ~close
        if static_mask is not None:
            measured &= ~np.asarray(static_mask, dtype=bool)[finite]
        candidates = pts[measured]
        index = None if beam_index is None or static_mask is not None or too_close is not None else beam_index
        people = [c.centroid for c in scanlib.clusters(candidates, index) if scanlib.person_like(c)]
        self._person_points = np.array(people, dtype=float).reshape(-1, 2)

    def persons(self, positions: np.ndarray, now: float) -> None:
        """Floor positions (N, 2) of people seen by perception, in the base frame."""
        pos = np.asarray(positions, dtype=float).reshape(-1, 2)
        self._persons = pos[np.all(np.isfinite(pos), axis=1)]
        self._persons_stamp = now

    def arm(self, tucked: bool, now: float) -> None:
        """Whether the arm is tucked inside the footprint (from joint_states); valid ``arm_state_timeout``."""
        self._arm_tucked = bool(tucked)
        self._arm_stamp = now

    def arm_tucked(self, now: float) -> bool:
        return self._arm_tucked and now - self._arm_stamp <= self.config.arm_state_timeout

    def lidar_fault(self) -> str:
        """Why the last scan cannot be trusted at all ('' when it can, or when only points were given)."""
        return self._fault

    def trigger_estop(self, reason: str = "requested") -> None:
        """Latch the emergency stop; it holds until ``reset_estop``."""
        if not self._estop_reason:
            self._estop_reason = reason or "requested"
        self._out_linear = self._out_angular = 0.0

    def reset_estop(self) -> bool:
        """Clear the e-stop; returns whether it was on. Commands from before the reset are dropped."""
        was_on = bool(self._estop_reason)
        self._estop_reason = ""
        self._commands.clear()
        return was_on

    @property
    def estop(self) -> bool:
        return bool(self._estop_reason)

    @property
    def estop_reason(self) -> str:
        return self._estop_reason

    # --- the decision ---------------------------------------------------------
    def _selected(self, now: float, horizon: float) -> tuple[Source | None, _Command | None, bool]:
        """The freshest command of the highest priority, and whether one just timed out."""
        timed_out = False
        for source in sorted(self._commands, reverse=True):
            cmd = self._commands[source]
            if abs(now - cmd.stamp) <= self.config.cmd_timeout - horizon:
                return source, cmd, timed_out
            # Forget it: a source that comes back must send a fresh command.
            del self._commands[source]
            timed_out = True
        return None, None, timed_out

    def _near_people(self, now: float) -> tuple[np.ndarray, bool]:
        """People as obstacle discs, and whether any is within the slow-down radius."""
        cfg = self.config
        fresh = (now - self._persons_stamp) <= cfg.persons_timeout
        people = np.vstack((self._persons if fresh else np.zeros((0, 2)), self._person_points))
        if len(people) == 0:
            return people, False
        edge_distance = np.hypot(people[:, 0], people[:, 1]) - cfg.footprint_radius - cfg.person_radius
        return people, bool(np.any(edge_distance <= cfg.person_slow_radius))

    def step(self, now: float, horizon: float = 0.0) -> SafetyOutput:
        """The command allowed now (call at the control rate, e.g. 20 Hz).

        ``horizon`` (s, typically 1.5 control periods): a command that will time out before
        the next tick is dropped now, so the stop comes within ``cmd_timeout`` of the last
        command rather than up to a tick later.
        """
        cfg = self.config
        dt = 0.0 if self._last_step is None else min(max(now - self._last_step, 0.0), MAX_STEP_DT)
        self._last_step = now
        source, cmd, timed_out = self._selected(now, min(max(horizon, 0.0), cfg.cmd_timeout / 2))
        people, person_near = self._near_people(now)
        limit = min(cfg.max_linear_speed, cfg.person_slow_speed) if person_near else cfg.max_linear_speed
        turn_limit = min(cfg.max_angular_speed, cfg.person_slow_angular) if person_near else cfg.max_angular_speed
        mode = {Source.TELEOP: Mode.TELEOP, Source.NAVIGATION: Mode.NAVIGATING}.get(source, Mode.IDLE)

        fault = self.lidar_fault()

        def held(reason: str, mode_now: Mode = mode) -> SafetyOutput:
            self._out_linear = self._out_angular = 0.0
            return SafetyOutput(0.0, 0.0, mode_now, limit, self.estop, reason, source, person_near, fault)

        if self._estop_reason:
            return held(f"{StopReason.ESTOP.value}: {self._estop_reason}", Mode.EMERGENCY_STOP)
        if self._scan_stamp is None:
            return held(StopReason.NO_LIDAR.value, Mode.FAULT)
        if now - self._scan_stamp > cfg.scan_timeout:
            return held(f"{StopReason.LIDAR_STALE.value} ({now - self._scan_stamp:.2f} s)", Mode.FAULT)
        if fault:
            # A lidar that sees too little anywhere is broken: hold everything, as when it is silent.
            return held(f"{StopReason.LIDAR_FAULT.value}: {fault}", Mode.FAULT)
        if cmd is None:
            return held(StopReason.TIMEOUT.value if timed_out else StopReason.NONE.value)
        if cmd.rejected:
            return held(f"{StopReason.INVALID_COMMAND.value}: {cmd.rejected}")

        linear = min(max(cmd.linear, -cfg.max_reverse_speed), limit)
        angular = min(max(cmd.angular, -turn_limit), turn_limit)
        # Speed that still stops short of anything, for each direction of travel.
        allowed = {}
        blocker = {}
        half_width = cfg.footprint_radius + cfg.side_margin
        radii = np.full(len(people), cfg.person_radius + cfg.person_stop_margin)
        for direction in (1.0, -1.0):
            speed = abs(linear) if (linear > 0) == (direction > 0) else 0.0
            horizon = cfg.stopping_distance(speed) / max(speed, 0.1)
            turn = angular * min(horizon, 2.0) * direction
            wall = scanlib.travel_clearance(self._points, None, half_width, direction, turn)
            person = scanlib.travel_clearance(people, radii, half_width, direction, turn)
            allowed[direction] = cfg.speed_for_clearance(min(wall, person))
            if allowed[direction] < MIN_SPEED:
                allowed[direction] = 0.0
            blocker[direction] = (StopReason.PERSON if person <= wall else StopReason.OBSTACLE).value
            # The sector the robot drives into (turned like the corridor) must be seen.
            sight = self._sector_problem(direction, turn)
            if sight:
                allowed[direction], blocker[direction] = 0.0, sight
        reason = StopReason.NONE.value
        blind = ""
        if abs(linear) >= MIN_SPEED:
            direction = 1.0 if linear > 0 else -1.0
            if allowed[direction] == 0.0:
                reason = blocker[direction]
                blind = reason if reason.startswith((StopReason.LIDAR_BLIND.value, StopReason.TOO_CLOSE.value)) else ""
            linear = direction * min(abs(linear), allowed[direction])
        linear = _ramp(self._out_linear, linear, cfg.max_linear_accel, cfg.max_linear_decel, dt)
        angular = _ramp(self._out_angular, angular, cfg.max_angular_accel, cfg.max_angular_accel * 2, dt)
        # Limits that dropped this tick (a person appeared, an obstacle came close) hold at
        # once, not after a ramp: the drive brakes harder than a comfortable slow-down.
        linear = min(max(linear, -min(cfg.max_reverse_speed, allowed[-1.0])), min(limit, allowed[1.0]))
        angular = min(max(angular, -turn_limit), turn_limit)
        linear = 0.0 if abs(linear) < MIN_SPEED and abs(cmd.linear) < MIN_SPEED else linear
        angular = 0.0 if abs(angular) < MIN_TURN and abs(cmd.angular) < MIN_TURN else angular
        # Turning about a point inside the footprint swings a stretched-out arm round the
        # robot, above the lidar's plane where nothing is checked: only with the arm tucked.
        # Judged on what is sent, so no output ever turns in place with the arm out.
        if angular != 0.0 and abs(linear) < cfg.footprint_radius * abs(angular) and not self.arm_tucked(now):
            angular = 0.0
            if linear == 0.0:
                reason = StopReason.ARM_OUT.value
        self._out_linear, self._out_angular = linear, angular
        return SafetyOutput(linear, angular, mode, limit, False, reason, source, person_near, fault, blind)

    def blind_directions(self) -> dict[str, str]:
        """For diagnostics: straight ahead and straight back, why each is not seen well enough."""
        out = {}
        for name, direction in (("ahead", 1.0), ("behind", -1.0)):
            why = self._sector_problem(direction, 0.0)
            if why:
                out[name] = why
        return out

    def _sector_problem(self, direction: float, turn: float) -> str:
        """Why the lidar does not show the travel sector well enough ('' when it does)."""
        if self._beams is None:
            return ""
        cfg = self.config
        centre = (0.0 if direction > 0 else math.pi) + turn / 2
        view = self._beams.sector(centre, cfg.travel_sector_half_angle)
        if view.too_close:
            return f"{StopReason.TOO_CLOSE.value} ({view.too_close} beams)"
        why = view.blind(cfg.min_valid_beam_fraction, cfg.max_beam_gap)
        return f"{StopReason.LIDAR_BLIND.value} {'ahead' if direction > 0 else 'behind'}: {why}" if why else ""


def _ramp(current: float, target: float, accel: float, decel: float, dt: float) -> float:
    """Move ``current`` toward ``target``: speeding up at most ``accel``, slowing at most ``decel``.

    Crossing zero counts as slowing to zero, then speeding up the other way.
    """
    if target == current:
        return target
    if current != 0 and (target == 0 or (target > 0) != (current > 0)):
        slowed = max(abs(current) - decel * dt, 0.0)
        if slowed > 0:
            return math.copysign(slowed, current)
        current = 0.0
        if target == 0:
            return 0.0
    if abs(target) > abs(current):
        step = accel * dt
    else:
        step = decel * dt
    if abs(target - current) <= step:
        return target
    return current + math.copysign(step, target - current)
