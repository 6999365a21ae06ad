"""Publish schedules and real-time pacing (fake clocks, no sleeping)."""
import pytest

from carebot.frames import split_s
from carebot.sim.rates import Pacer, Schedule


def test_schedule_fires_at_its_rate_and_skips_missed_slots():
    schedule = Schedule(10.0)
    fired = [t for t in (i * 0.01 for i in range(100)) if schedule.due(t)]
    assert len(fired) == 10
    late = Schedule(10.0)
    assert late.due(0.0) and late.due(1.05) and not late.due(1.06)   # no burst after a gap
    assert not Schedule(0.0).due(5.0)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_pacer_holds_the_target_factor():
    clock = FakeClock()
    pacer = Pacer(2.0, clock=clock)
    pacer.reset(0.0)
    sim = 0.0
    for _ in range(300):
        sim += 0.01
        clock.now += 0.001             # the step itself takes 1 ms of wall time
        pacer.wait(sim, sleep=clock.sleep)
    assert clock.now - 100.0 == pytest.approx(1.5, abs=0.01)   # 3 s of sim at 2x
    assert pacer.real_time_factor == pytest.approx(2.0, rel=0.02)


def test_pacer_does_not_burst_after_falling_behind():
    clock = FakeClock()
    pacer = Pacer(1.0, clock=clock)
    pacer.reset(0.0)
    clock.now += 5.0                   # a 5 s stall
    pacer.wait(0.01, sleep=clock.sleep)
    before = clock.now
    pacer.wait(0.02, sleep=clock.sleep)
    assert clock.now - before == pytest.approx(0.01, abs=1e-6)   # paced again from the stall on


def test_unpaced_runs_free_and_measures():
    clock = FakeClock()
    pacer = Pacer(0.0, clock=clock)
    for i in range(1, 101):
        clock.now += 0.002
        pacer.wait(i * 0.01, sleep=clock.sleep)
    assert pacer.real_time_factor == pytest.approx(5.0, rel=0.02)


def test_stamps_never_jump_back_a_second():
    t, previous = 0.0, (0, 0)
    for _ in range(1000):
        t += 0.01                      # summed steps: 2.9999999999 instead of 3.0
        stamp = split_s(t)
        assert stamp > previous and 0 <= stamp[1] < 1_000_000_000
        previous = stamp
    assert split_s(2.9999999999999) == (3, 0)
    assert split_s(1.5) == (1, 500_000_000)
