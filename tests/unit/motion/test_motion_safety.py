"""The base safety layer without ROS: limits, timeouts, e-stop, people, obstacles, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from carebot.motion import scan as scanlib
from carebot.motion.safety import MAX_STEP_DT, Mode, SafetyConfig, SafetyLayer, Source, check_command

CFG = SafetyConfig()
DT = 0.05


_ANGLES = np.linspace(-math.pi, math.pi, 360, endpoint=False)
FAR = np.column_stack((8 * np.cos(_ANGLES), 8 * np.sin(_ANGLES)))
NEAR = FAR * (0.35 / 8)           # a ring 0.35 m from the centre: 8 cm from the robot's edge
NAN_SCAN = FAR.copy()
NAN_SCAN[::3] = np.nan


def far_wall() -> np.ndarray:
    """A lidar ring 8 m away: nothing near."""
    return FAR


def run(layer: SafetyLayer, source: Source, linear: float, angular: float, t0: float, seconds: float,
        points=None, arm_tucked: bool = True):
    out = None
    t = t0
    while t < t0 + seconds - 1e-9:
        layer.scan(far_wall() if points is None else points, t)
        layer.arm(arm_tucked, t)
        layer.command(source, linear, angular, t)
        out = layer.step(t)
        t += DT
    return out, t


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        SafetyConfig(max_linear_speed=float("nan")).validate()
    with pytest.raises(ValueError):
        SafetyConfig(person_slow_speed=0.5).validate()
    with pytest.raises(ValueError):
        SafetyConfig(cmd_timeout=0).validate()


def test_stopping_distance_and_speed_for_clearance_are_inverse():
    for v in (0.1, 0.3, 0.6):
        assert CFG.speed_for_clearance(CFG.stopping_distance(v)) == pytest.approx(v)
    assert CFG.speed_for_clearance(CFG.stop_margin / 2) == 0.0


def test_no_lidar_holds_the_base():
    layer = SafetyLayer()
    layer.command(Source.NAVIGATION, 0.5, 0.0, 0.0)
    out = layer.step(0.0)
    assert out.linear == 0 and out.mode is Mode.FAULT


def test_accelerates_within_limit_to_max_speed():
    layer = SafetyLayer()
    out, _ = run(layer, Source.NAVIGATION, 5.0 * 0 + 2.0, 0.0, 0.0, 0.5)
    assert 0 < out.linear <= CFG.max_linear_accel * 0.5 + 1e-9
    out, _ = run(layer, Source.NAVIGATION, 2.0, 0.0, 0.5, 3.0)
    assert out.linear == pytest.approx(CFG.max_linear_speed)
    assert out.mode is Mode.NAVIGATING and out.stop_reason == ""


def test_command_timeout_stops_within_half_a_second():
    layer = SafetyLayer()
    _, t = run(layer, Source.NAVIGATION, 0.5, 0.3, 0.0, 3.0)
    last_command = t - DT
    stopped_at = None
    while t < last_command + 1.0:
        layer.scan(far_wall(), t)
        out = layer.step(t)
        if out.linear == 0 and out.angular == 0 and stopped_at is None:
            stopped_at = t
        t += DT
    assert stopped_at is not None and stopped_at - last_command <= CFG.cmd_timeout + DT + 1e-9


def test_teleop_outranks_navigation_then_navigation_resumes():
    layer = SafetyLayer()
    t = 0.0
    for _ in range(80):
        layer.scan(far_wall(), t)
        layer.arm(True, t)
        layer.command(Source.NAVIGATION, 0.5, 0.0, t)
        layer.command(Source.TELEOP, 0.0, 0.5, t)
        out = layer.step(t)
        t += DT
    assert out.source is Source.TELEOP and out.linear == 0 and out.angular == pytest.approx(0.5)
    assert out.mode is Mode.TELEOP
    for _ in range(40):      # teleop falls silent; navigation keeps going
        layer.scan(far_wall(), t)
        layer.command(Source.NAVIGATION, 0.5, 0.0, t)
        out = layer.step(t)
        t += DT
    assert out.source is Source.NAVIGATION and out.linear > 0.3


def test_estop_latches_until_reset_and_drops_old_commands():
    layer = SafetyLayer()
    _, t = run(layer, Source.NAVIGATION, 0.5, 0.0, 0.0, 2.0)
    layer.trigger_estop("button")
    out, t = run(layer, Source.NAVIGATION, 0.5, 0.0, t, 2.0)
    assert out.linear == 0 and out.estop and out.mode is Mode.EMERGENCY_STOP
    assert "button" in out.stop_reason
    assert layer.reset_estop() is True
    layer.scan(far_wall(), t)
    assert layer.step(t).linear == 0          # the command from before the reset is gone
    out, t = run(layer, Source.NAVIGATION, 0.5, 0.0, t, 2.0)
    assert out.linear > 0 and not out.estop
    assert layer.reset_estop() is False


def test_person_near_caps_speed_and_person_ahead_stops():
    layer = SafetyLayer()
    _, t = run(layer, Source.NAVIGATION, 0.6, 0.0, 0.0, 3.0)
    layer.persons(np.array([[0.5, 1.5]]), t)        # beside, 1.5 m away from the centre
    out, t = run(layer, Source.NAVIGATION, 0.6, 0.0, t, 0.2)
    assert out.person_near and out.speed_limit <= 0.3 and 0 < out.linear <= 0.3
    layer.persons(np.array([[0.7, 0.0]]), t)        # right in front
    out, t = run(layer, Source.NAVIGATION, 0.6, 0.0, t, 0.1)
    assert out.linear == 0 and out.stop_reason.startswith("person")
    # Detections expire: the person left the camera view long ago.
    out, t = run(layer, Source.NAVIGATION, 0.6, 0.0, t + 2.0, 3.0)
    assert out.linear == pytest.approx(0.6)


def test_lidar_leg_cluster_counts_as_a_person():
    layer = SafetyLayer()
    leg = np.column_stack((np.full(5, 1.2), np.linspace(0.6, 0.72, 5)))   # a 12 cm leg 1.2 m ahead-left
    out, _ = run(layer, Source.NAVIGATION, 0.6, 0.0, 0.0, 3.0, points=np.vstack((far_wall(), leg)))
    assert out.person_near and out.linear <= 0.3


def test_obstacle_ahead_slows_then_stops_but_turning_in_place_is_free():
    wall = np.column_stack((np.full(40, 0.9), np.linspace(-1, 1, 40)))
    layer = SafetyLayer()
    out, t = run(layer, Source.NAVIGATION, 0.6, 0.0, 0.0, 3.0, points=wall)
    assert out.linear < CFG.speed_for_clearance(0.9 - CFG.footprint_radius) + 1e-9
    close = wall - [0.5, 0.0]
    out, t = run(layer, Source.NAVIGATION, 0.6, 0.0, t, 0.2, points=close)
    assert out.linear == 0 and out.stop_reason.startswith("obstacle")
    out, t = run(layer, Source.NAVIGATION, 0.0, 0.5, t, 1.0, points=close)
    assert out.angular > 0
    out, t = run(layer, Source.NAVIGATION, -0.2, 0.0, t, 1.0, points=close)
    assert out.linear < 0                     # backing away from it is allowed


def test_stale_lidar_stops():
    layer = SafetyLayer()
    _, t = run(layer, Source.NAVIGATION, 0.5, 0.0, 0.0, 2.0)
    layer.command(Source.NAVIGATION, 0.5, 0.0, t + 0.6)
    out = layer.step(t + 0.6)
    assert out.linear == 0 and "lidar stale" in out.stop_reason and out.mode is Mode.FAULT


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 50.0, -4.0])
def test_malformed_command_is_rejected_with_a_stop(bad):
    layer = SafetyLayer()
    _, t = run(layer, Source.NAVIGATION, 0.5, 0.0, 0.0, 2.0)
    assert check_command(bad, 0.0, CFG)
    layer.scan(far_wall(), t)
    assert layer.command(Source.NAVIGATION, bad, 0.0, t)
    out = layer.step(t)
    assert out.linear == 0 and out.angular == 0 and "invalid" in out.stop_reason
    layer.command(Source.NAVIGATION, 0.0, bad * 10, t + DT)     # -4 rad/s is legal, -40 is not
    assert layer.step(t + DT).angular == 0


# --- property tests: random and malformed streams -----------------------------
BEAMS = 360
RANGE_MIN, RANGE_MAX = 0.12, 12.0


def lidar(ranges, angle_min=-math.pi, increment=2 * math.pi / BEAMS, range_min=RANGE_MIN, range_max=RANGE_MAX):
    """A LaserScan read the way base_safety reads it: keyword arguments for SafetyLayer.scan."""
    reading = scanlib.read_scan(ranges, angle_min, increment, range_min, range_max, (0.14, 0.0), 0.0, 0.25)
    return dict(points=reading.points, beam_index=reading.index, beams=reading.beams, too_close=reading.too_close)


def ring(value: float) -> np.ndarray:
    return np.full(BEAMS, value, dtype=float)


def with_front(value: float, half_width_deg: int = 60) -> np.ndarray:
    """A clear 8 m ring whose beams within half_width_deg of straight ahead read ``value``."""
    ranges = ring(8.0)
    ahead = np.abs((np.arange(BEAMS) - BEAMS // 2)) <= half_width_deg    # beam 180 points ahead (+x)
    ranges[ahead] = value
    return ranges


SCANS = {
    "scan": lidar(ring(8.0)),
    "scan_near": dict(points=NEAR),               # boxed in (points only: a complete view)
    "nan_scan": lidar(np.where(np.arange(BEAMS) % 3 == 0, np.nan, 8.0)),     # 1 in 3 NaN: a fault
    "all_nan": lidar(ring(np.nan)),
    "all_neg_inf": lidar(ring(-np.inf)),
    "all_below_min": lidar(ring(0.05)),
    "all_pos_inf": lidar(ring(np.inf)),           # nothing in range: free
    "front_nan": lidar(with_front(np.nan, 30)),   # half the forward sector blind, the scan healthy
}
TOO_CLOSE_OR_BLIND_AHEAD = ("all_neg_inf", "all_below_min", "front_nan", "scan_near")

values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.floats(min_value=-1.5, max_value=1.5))
event = st.tuples(
    st.sampled_from(["nav", "teleop", "person", "estop", "reset", "silence", "arm_in", "arm_out", *SCANS]),
    values, values, st.floats(min_value=0.0, max_value=0.7))


@settings(max_examples=300, deadline=None)
@given(st.lists(event, min_size=1, max_size=60))
def test_no_output_ever_exceeds_a_limit(events):
    layer = SafetyLayer()
    t = 0.0
    prev_linear = 0.0
    last_cmd = {Source.NAVIGATION: -math.inf, Source.TELEOP: -math.inf}
    last_scan = -math.inf
    scan_kind = None
    arm_in_at = -math.inf
    estop = False
    step = 0.0
    for kind, a, b, gap in events:
        if kind == "nav" or kind == "teleop":
            src = Source.NAVIGATION if kind == "nav" else Source.TELEOP
            layer.command(src, a, b, t)
            last_cmd[src] = t
        elif kind in SCANS:
            layer.scan(now=t, **SCANS[kind])
            last_scan, scan_kind = t, kind
        elif kind == "person":
            layer.persons(np.array([[a, b]]) if math.isfinite(a) and math.isfinite(b) else np.array([[a, 0.0]]), t)
        elif kind == "estop":
            layer.trigger_estop("test")
            estop = True
        elif kind == "reset":
            layer.reset_estop()
            estop = False
            last_cmd = {s: -math.inf for s in last_cmd}
        elif kind in ("arm_in", "arm_out"):
            layer.arm(kind == "arm_in", t)
            arm_in_at = t if kind == "arm_in" else -math.inf
        out = layer.step(t)
        assert math.isfinite(out.linear) and math.isfinite(out.angular)
        assert -CFG.max_reverse_speed - 1e-9 <= out.linear <= out.speed_limit + 1e-9
        assert out.speed_limit <= CFG.max_linear_speed + 1e-9
        assert abs(out.angular) <= CFG.max_angular_speed + 1e-9
        if out.person_near:
            assert abs(out.linear) <= CFG.person_slow_speed + 1e-9
        # Speeding up is rate limited (slowing down may be immediate).
        if abs(out.linear) > abs(prev_linear) + 1e-9:
            assert abs(out.linear) - abs(prev_linear) <= CFG.max_linear_accel * min(step, MAX_STEP_DT) + 1e-9
        if estop or t - max(last_cmd.values()) > CFG.cmd_timeout or t - last_scan > CFG.scan_timeout:
            assert out.linear == 0 and out.angular == 0
        # Fail closed: a broken lidar holds everything; too-close or unseen space ahead is never driven into.
        if scan_kind in ("all_nan", "nan_scan"):
            assert out.linear == 0 and out.angular == 0 and out.lidar_fault
        if scan_kind in TOO_CLOSE_OR_BLIND_AHEAD:
            assert out.linear <= 0
        if scan_kind in ("all_neg_inf", "all_below_min", "scan_near"):
            assert out.linear == 0           # too close all round / boxed in: no direction of travel is free
        # No turning in place unless the arm was reported tucked within arm_state_timeout.
        if out.angular != 0 and abs(out.linear) < CFG.footprint_radius * abs(out.angular):
            assert t - arm_in_at <= CFG.arm_state_timeout
        prev_linear = out.linear
        t += gap
        step = gap


def test_tick_horizon_brings_the_timeout_stop_forward():
    """With the node's horizon (1.5 ticks) the stop never comes later than cmd_timeout."""
    for horizon, moving_at_045 in ((0.0, True), (0.075, False)):
        layer = SafetyLayer()
        for i in range(60):                       # up to speed, last command at t = 2.95
            t = i * DT
            layer.scan(far_wall(), t)
            layer.command(Source.NAVIGATION, 0.5, 0.0, t)
            layer.step(t, horizon)
        layer.scan(far_wall(), t + 0.45)
        out = layer.step(t + 0.45, horizon)
        assert (out.linear > 0) is moving_at_045, (horizon, out)


# --- fail-closed lidar (REP 117) ---------------------------------------------------
def drive(layer, scan, linear, angular=0.0, seconds=1.0, t0=0.0, arm_tucked=True):
    out, t = None, t0
    while t < t0 + seconds - 1e-9:
        layer.scan(now=t, **scan)
        layer.arm(arm_tucked, t)
        layer.command(Source.NAVIGATION, linear, angular, t)
        out = layer.step(t)
        t += DT
    return out, t


def test_nothing_in_range_is_free():
    out, _ = drive(SafetyLayer(), lidar(ring(np.inf)), 0.6, seconds=3.0)
    assert out.linear == pytest.approx(CFG.max_linear_speed) and not out.lidar_fault


@pytest.mark.parametrize("value", [np.nan, -np.inf, 0.05, 0.0, -1.0])
def test_a_lidar_that_sees_nothing_never_lets_the_base_drive_forward(value):
    layer = SafetyLayer()
    _, t = drive(layer, lidar(ring(8.0)), 0.4, seconds=2.0)
    out, t = drive(layer, lidar(ring(value)), 0.4, seconds=0.5, t0=t)
    assert out.linear == 0
    if np.isnan(value):
        assert out.mode is Mode.FAULT and out.angular == 0
        assert out.lidar_fault.startswith("360 of 360 beams NaN") and out.stop_reason.startswith("lidar fault")
    else:                       # an object closer than range_min, all round: no travel either way
        assert out.stop_reason.startswith("object closer than the lidar's range_min"), out.stop_reason
        out, _ = drive(layer, lidar(ring(value)), -0.15, seconds=0.5, t0=t)
        assert out.linear == 0


def test_too_close_ahead_stops_forward_but_backing_away_is_allowed():
    layer = SafetyLayer()
    out, t = drive(layer, lidar(with_front(-np.inf, 20)), 0.4)
    assert out.linear == 0 and "range_min (41 beams)" in out.stop_reason
    out, _ = drive(layer, lidar(with_front(-np.inf, 20)), -0.15, t0=t)
    assert out.linear < 0


def test_too_few_valid_beams_ahead_stop_forward_and_say_why():
    layer = SafetyLayer()
    scan = lidar(with_front(np.nan, 30))              # 61 of ~120 forward beams NaN; 83% of the scan valid
    out, t = drive(layer, scan, 0.4)
    assert not out.lidar_fault
    assert out.linear == 0 and out.stop_reason.startswith("too few valid lidar beams ahead: 60 of 120 beams valid")
    assert out.lidar_blind == out.stop_reason
    assert layer.blind_directions() == {"ahead": out.stop_reason}
    out, t = drive(layer, scan, -0.15, t0=t)          # behind is seen
    assert out.linear < 0
    out, _ = drive(layer, scan, 0.0, 0.5, t0=t)       # a round base may turn in place
    assert out.angular > 0


@pytest.mark.parametrize("run_length, stops", [(3, False), (8, True)])
def test_a_run_of_nan_beams_wider_than_max_beam_gap_stops(run_length, stops):
    ranges = ring(8.0)
    ranges[175:175 + run_length] = np.nan             # just left of straight ahead
    out, _ = drive(SafetyLayer(), lidar(ranges), 0.4, seconds=2.0)
    assert (out.linear == 0) is stops, out
    if stops:
        assert "deg unseen" in out.stop_reason


def test_unreadable_scans_are_faults():
    for bad in (dict(ranges=[]), dict(ranges=ring(8.0), increment=np.nan), dict(ranges=ring(8.0), increment=0.0),
                dict(ranges=ring(8.0), range_min=np.nan), dict(ranges=ring(8.0), range_max=0.05)):
        ranges = bad.pop("ranges")
        out, _ = drive(SafetyLayer(), lidar(ranges, **bad), 0.4)
        assert out.linear == 0 and out.angular == 0 and out.mode is Mode.FAULT and out.lidar_fault, bad


def test_a_270_degree_lidar_cannot_back_up():
    ranges = ring(8.0)[45:315]                        # -135 .. +135 deg
    scan = lidar(ranges, angle_min=-math.radians(135))
    out, t = drive(SafetyLayer(), scan, 0.4, seconds=2.0)
    assert out.linear > 0.3
    out, _ = drive(SafetyLayer(), scan, -0.15, seconds=1.0)
    assert out.linear == 0 and "behind" in out.stop_reason


# --- arm and turning in place ----------------------------------------------------------
def test_turning_in_place_needs_a_tucked_arm():
    layer = SafetyLayer()
    out, t = drive(layer, lidar(ring(8.0)), 0.0, 0.5, arm_tucked=False)
    assert out.angular == 0 and out.stop_reason == "arm not tucked: no turning in place"
    out, t = drive(layer, lidar(ring(8.0)), 0.0, 0.5, t0=t, arm_tucked=True)
    assert out.angular == pytest.approx(0.5)
    # A stale report is no report: held again.
    layer.command(Source.NAVIGATION, 0.0, 0.5, t)
    layer.scan(now=t, **lidar(ring(8.0)))
    assert layer.step(t + 0.0).angular > 0
    late = t + CFG.arm_state_timeout + 0.1
    layer.scan(now=late, **lidar(ring(8.0)))
    layer.command(Source.NAVIGATION, 0.0, 0.5, late)
    assert layer.step(late).angular == 0


def test_arcs_wider_than_the_footprint_are_allowed_with_the_arm_out():
    out, _ = drive(SafetyLayer(), lidar(ring(8.0)), 0.4, 0.3, seconds=2.0, arm_tucked=False)
    assert out.linear > 0.3 and out.angular == pytest.approx(0.3)
