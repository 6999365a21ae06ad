"""Every scenario of the catalog, the whole stack over real DDS against the MuJoCo
simulation (carebot.scenarios.catalog; the same runs as `carebot demo`). Each run's
timeline, figures and frames land in the test's tmp folder; the measured
timings are printed and attached to the test report as properties."""
import pytest

from carebot.scenarios.runner import run_scenario
from carebot.scenarios.catalog import SCENARIOS

pytestmark = [pytest.mark.slow, pytest.mark.ros]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name, tmp_path, record_property, capsys):
    result = run_scenario(SCENARIOS[name], tmp_path / name)
    with capsys.disabled():
        figures = ", ".join(f"{m.name}={m.value:g} {m.unit}" for m in result.metrics)
        print(f"\n[scenario] {name}: {result.status}, {result.sim_s:g} s sim, {result.wall_s:g} s wall "
              f"(start-up {result.startup_wall_s:g} s), real-time factor {result.real_time_factor:.2f}; {figures}")
    record_property("sim_s", result.sim_s)
    record_property("wall_s", result.wall_s)
    for metric in result.metrics:
        record_property(metric.name, metric.value)
    assert not result.skipped, f"{name} could not run: {result.skipped}"     # a missing node is a failure
    log = (tmp_path / name / "stack.log")
    assert result.passed, (f"{name} failed: {result.failure}\n--- timeline ---\n"
                           + "\n".join(f"{e.sim_time:8.2f} {e.kind:6s} {e.text}" for e in result.events)
                           + (f"\n--- stack.log (tail) ---\n{log.read_text()[-6000:]}" if log.exists() else ""))
