"""The base safety layer without ROS: limits, timeouts, e-stop, people, obstacles, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

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
        points=None):
    out = None
    t = t0
    while t < t0 + seconds - 1e-9:
        layer.scan(far_wall() if points is None else points, t)
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
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.floats(min_value=-1.5, max_value=1.5))
event = st.tuples(
    st.sampled_from(["nav", "teleop", "scan", "scan_near", "person", "estop", "reset", "silence", "nan_scan"]),
    values, values, st.floats(min_value=0.0, max_value=0.7))


@settings(max_examples=200, deadline=None)
@given(st.lists(event, min_size=1, max_size=60))
def test_no_output_ever_exceeds_a_limit(events):
    layer = SafetyLayer()
    t = 0.0
    prev_linear = 0.0
    last_cmd = {Source.NAVIGATION: -math.inf, Source.TELEOP: -math.inf}
    last_scan = -math.inf
    estop = False
    step = 0.0
    for kind, a, b, gap in events:
        if kind == "nav" or kind == "teleop":
            src = Source.NAVIGATION if kind == "nav" else Source.TELEOP
            layer.command(src, a, b, t)
            last_cmd[src] = t
        elif kind in ("scan", "scan_near", "nan_scan"):
            layer.scan({"scan": FAR, "scan_near": NEAR, "nan_scan": NAN_SCAN}[kind], t)
            last_scan = t
        elif kind == "person":
            layer.persons(np.array([[a, b]]) if math.isfinite(a) and math.isfinite(b) else np.array([[a, 0.0]]), t)
        elif kind == "estop":
            layer.trigger_estop("test")
            estop = True
        elif kind == "reset":
            layer.reset_estop()
            estop = False
            last_cmd = {s: -math.inf for s in last_cmd}
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
        if kind == "scan_near":
            assert out.linear == 0           # boxed in: no direction of travel is free
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
