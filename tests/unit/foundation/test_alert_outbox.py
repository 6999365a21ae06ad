"""The alert outbox: every change is re-sent with back-off until its receipt, never flooding."""
import pytest

from carebot.alert_outbox import ChangeKey, Outbox

RAISED, ESCALATED, RESOLVED = 0, 2, 3


def key(alert_id="fall-1", state=RAISED, stamp_ns=1_000):
    return ChangeKey(alert_id, state, stamp_ns)


def outbox(**kw):
    kw.setdefault("jitter", 0.0)
    return Outbox(**kw)


def resend_times(box, until, step=0.1):
    """Times at which due() handed something out, polling every ``step`` s like the node."""
    times = []
    for i in range(int(round(until / step)) + 1):
        if box.due(i * step):
            times.append(round(i * step, 1))
    return times


def test_resends_back_off_doubling_to_the_cap_and_never_give_up():
    box = outbox(initial_s=2.0, factor=2.0, max_s=30.0)
    box.add(key(), "msg", now=0.0)
    times = resend_times(box, until=600.0)
    gaps = [round(b - a, 1) for a, b in zip([0.0] + times, times)]
    assert gaps[:5] == [2.0, 4.0, 8.0, 16.0, 30.0]
    assert set(gaps[4:]) == {30.0}                      # ten minutes down: still re-sending, every 30 s
    assert times[:4] == [2.0, 6.0, 14.0, 30.0] and len(times) == 4 + 19   # 60, 90 ... 600
    assert box.pending()[0].attempts == len(times) + 1


def test_a_receipt_stops_the_resends_and_only_the_exact_change_counts():
    box = outbox()
    box.add(key(stamp_ns=5), "raised", now=0.0)
    assert box.confirm(key(stamp_ns=4)) is None          # an older change of the incident
    assert box.confirm(key("fall-2", stamp_ns=5)) is None  # another sender's alert
    assert box.confirm(key(state=ESCALATED, stamp_ns=5)) is None
    assert box.due(2.0) == ["raised"]
    settled = box.confirm(key(stamp_ns=5))
    assert settled is not None and settled.attempts == 2 and settled.message == "raised"
    assert len(box) == 0 and box.due(1e6) == []
    assert box.confirm(key(stamp_ns=5)) is None          # a repeated receipt settles nothing
    assert (box.stats.sent, box.stats.resent, box.stats.confirmed) == (1, 1, 1)


def test_a_newer_change_of_the_same_incident_replaces_the_pending_one():
    box = outbox()
    box.add(key(stamp_ns=1), "raised", now=0.0)
    box.add(key(stamp_ns=2), "up again", now=1.0)        # same state, later stamp
    assert len(box) == 1 and box.stats.superseded == 1
    assert box.confirm(key(stamp_ns=1)) is None          # the receipt of the replaced change: not enough
    assert box.due(3.0) == ["up again"]
    assert box.confirm(key(stamp_ns=2)) is not None


def test_never_a_flood_at_most_burst_per_call_and_a_bounded_outbox():
    box = outbox(burst=5, capacity=8)
    dropped = []
    for i in range(10):
        dropped += box.add(key(f"a{i}"), f"m{i}", now=0.0)
    assert len(box) == 8 and [d.key.alert_id for d in dropped] == ["a0", "a1"]   # oldest went first
    assert box.stats.dropped == 2
    first = box.due(10.0)
    second = box.due(10.1)
    assert len(first) == 5 and len(second) == 3 and set(first).isdisjoint(second)
    assert box.due(10.2) == []


def test_the_dashboard_appearing_brings_everything_forward_and_restarts_the_back_off():
    box = outbox(initial_s=2.0, max_s=30.0)
    box.add(key(), "msg", now=0.0)
    resend_times(box, until=100.0)                       # the dashboard is down: back-off at 30 s
    assert box.pending()[0].delay_s == 30.0
    assert box.peer_appeared(now=101.0, settle_s=1.0) == 1
    assert box.due(101.5) == [] and box.due(102.0) == ["msg"]
    assert box.pending()[0].next_at == pytest.approx(102.0 + 4.0)   # back to the short steps


def test_jitter_spreads_the_delays_within_bounds():
    values = iter([0.0, 0.999])
    box = Outbox(initial_s=10.0, jitter=0.2, rng=lambda: next(values))
    box.add(key("a"), "a", now=0.0)
    box.add(key("b"), "b", now=0.0)
    a, b = (e.next_at for e in box.pending())
    assert a == pytest.approx(8.0) and b == pytest.approx(12.0, abs=0.01)


def test_oldest_age_and_bad_settings():
    box = outbox()
    assert box.oldest_age(5.0) == 0.0
    box.add(key("a"), "a", now=1.0)
    box.add(key("b"), "b", now=3.0)
    assert box.oldest_age(10.0) == 9.0
    with pytest.raises(ValueError):
        Outbox(initial_s=0.0)
    with pytest.raises(ValueError):
        Outbox(initial_s=5.0, max_s=1.0)
    with pytest.raises(ValueError):
        Outbox(burst=0)
