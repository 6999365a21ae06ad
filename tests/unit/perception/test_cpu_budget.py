"""carebot.perception.cpu_budget.CpuBudget: rest after a frame so that CPU / wall time over
the frame and its rest stays within the budget."""
import time

import pytest

from carebot.perception.cpu_budget import CpuBudget


class Clocks:
    def __init__(self):
        self.wall = 100.0
        self.cpu = 5.0


def budget(cores: float, clocks: Clocks) -> CpuBudget:
    return CpuBudget(cores, wall_clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)


def test_a_frame_that_used_more_than_the_budget_rests_for_the_difference():
    clocks = Clocks()
    paced = budget(1.0, clocks)
    paced.frame_started()
    clocks.wall += 0.2
    clocks.cpu += 0.3           # 0.3 s of CPU in 0.2 s: two threads busy
    assert paced.rest_s() == pytest.approx(0.1)   # 0.3 s of CPU over 0.3 s = one core


def test_half_a_core_doubles_the_frame_period():
    clocks = Clocks()
    paced = budget(0.5, clocks)
    paced.frame_started()
    clocks.wall += 0.25
    clocks.cpu += 0.25
    assert paced.rest_s() == pytest.approx(0.25)


def test_a_frame_within_the_budget_does_not_rest():
    clocks = Clocks()
    paced = budget(1.0, clocks)
    paced.frame_started()
    clocks.wall += 0.4          # waited on I/O most of the time
    clocks.cpu += 0.1
    assert paced.rest_s() == 0.0


def test_no_budget_never_rests():
    clocks = Clocks()
    paced = budget(0.0, clocks)
    paced.frame_started()
    clocks.cpu += 10.0
    assert paced.rest_s() == 0.0


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match=">= 0 cores"):
        CpuBudget(-1.0)


def test_real_clocks_a_busy_loop_at_half_a_core_rests_about_as_long_as_it_ran():
    paced = CpuBudget(0.5)
    paced.frame_started()
    end = time.process_time() + 0.1
    while time.process_time() < end:
        pass
    assert 0.05 < paced.rest_s() < 0.2


def test_while_speech_hears_someone_vision_keeps_to_the_smaller_budget():
    from carebot.perception.cpu_budget import HEARING_MAX_S, HearingBudget

    now = [100.0]
    budget = HearingBudget(1.0, 0.3, clock=lambda: now[0])
    assert budget.now() == 1.0
    budget.heard(True)
    assert budget.now() == 0.3 and budget.hearing
    budget.heard(False)
    assert budget.now() == 1.0
    budget.heard(True)
    now[0] += HEARING_MAX_S + 1.0           # speech died mid-utterance: not trusted for good
    assert budget.now() == 1.0 and not budget.hearing
    assert HearingBudget(1.0, 0.0).now() == 1.0                  # 0: unchanged while hearing
    unlimited = HearingBudget(0.0, 0.3, clock=lambda: now[0])
    unlimited.heard(True)
    assert unlimited.now() == 0.3           # no budget otherwise, the hearing one still applies
