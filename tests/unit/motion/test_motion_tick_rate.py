"""The safety tick's rate (carebot.motion.tick_rate): control rate while anything moves or a
command is followed, rest rate after standing still, back at once on a command."""
import pytest

from carebot.motion.tick_rate import TickRate


def test_starts_at_the_control_rate():
    rate = TickRate(20.0, 5.0)
    assert not rate.resting and rate.period_s == pytest.approx(0.05)


def test_rests_only_after_standing_still_without_a_command_for_settle_s():
    rate = TickRate(20.0, 5.0, settle_s=1.0)
    assert not rate.after_tick(0.0, 0.0, 0.0, following=False)
    assert not rate.after_tick(0.95, 0.0, 0.0, following=False)
    assert rate.after_tick(1.0, 0.0, 0.0, following=False)          # changed: the timer is set again
    assert rate.resting and rate.period_s == pytest.approx(0.2)
    assert not rate.after_tick(1.2, 0.0, 0.0, following=False)      # no change, no new period


@pytest.mark.parametrize("linear, angular, following", [(0.1, 0.0, False), (0.0, -0.2, False), (0.0, 0.0, True)])
def test_motion_or_a_followed_command_keeps_the_control_rate(linear, angular, following):
    rate = TickRate(20.0, 5.0, settle_s=1.0)
    for t in range(30):
        rate.after_tick(t * 0.05, 0.0, 0.0, False)
    assert rate.resting
    assert rate.after_tick(1.6, linear, angular, following)
    assert not rate.resting
    # and standing still starts counting again from there
    assert not rate.after_tick(2.0, 0.0, 0.0, False)
    assert not rate.after_tick(2.9, 0.0, 0.0, False)
    assert rate.after_tick(3.0, 0.0, 0.0, False)


def test_a_command_brings_the_control_rate_back_at_once():
    rate = TickRate(20.0, 5.0, settle_s=0.5)
    rate.after_tick(0.0, 0.0, 0.0, False)
    rate.after_tick(0.6, 0.0, 0.0, False)
    assert rate.resting
    assert rate.on_command() and not rate.resting and rate.period_s == pytest.approx(0.05)
    assert not rate.on_command()                                    # already there: nothing to change


def test_a_held_base_under_an_estop_rests_too():
    """An e-stop holds the output at zero and forgets commands: nothing to watch at 20 Hz."""
    rate = TickRate(20.0, 5.0, settle_s=1.0)
    rate.after_tick(0.0, 0.0, 0.0, following=False)
    assert rate.after_tick(1.0, 0.0, 0.0, following=False)


@pytest.mark.parametrize("control, rest", [(20.0, 0.0), (20.0, 25.0), (5.0, -1.0)])
def test_a_rest_rate_outside_zero_to_the_control_rate_is_refused(control, rest):
    with pytest.raises(ValueError):
        TickRate(control, rest)
