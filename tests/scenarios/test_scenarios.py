"""The four scenarios of issue 7, the whole stack over real DDS against the MuJoCo
simulation (carebot.scenarios.catalog; the same runs as `carebot demo`). Each run's
timeline, figures and frames land in the test's tmp folder; the measured
timings are printed and attached to the test report as properties."""
import pytest

from carebot.scenarios.runner import run_scenario
from carebot.scenarios.catalog import SCENARIOS

pytestmark = [pytest.mark.slow, pytest.mark.ros]

# Scenarios that fail on a diagnosed defect of another node (not of the simulation or of
# the scenario): they still run, and report XPASS once the defect is fixed.
KNOWN_DEFECTS: dict[str, str] = {}   # name -> diagnosis; none open now


def _param(name):
    if name in KNOWN_DEFECTS:
        return pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_DEFECTS[name], strict=False))
    return name


@pytest.mark.parametrize("name", [_param(n) for n in SCENARIOS])
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
    if result.skipped:
        pytest.skip(f"{name}: {result.skipped}")
    log = (tmp_path / name / "stack.log")
    assert result.passed, (f"{name} failed: {result.failure}\n--- timeline ---\n"
                           + "\n".join(f"{e.sim_time:8.2f} {e.kind:6s} {e.text}" for e in result.events)
                           + (f"\n--- stack.log (tail) ---\n{log.read_text()[-6000:]}" if log.exists() else ""))
