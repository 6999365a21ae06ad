"""A scenario may run another site file of the same building: resident_fall runs the
Chinese-speaking care home (config/care_home_gz.yaml) in the care home's world."""
import yaml

from carebot import bringup
from carebot.scenarios.catalog import SCENARIOS
from carebot.scenarios.runner import merged_params


def test_resident_fall_runs_the_chinese_site_in_the_care_home_world(tmp_path):
    spec = SCENARIOS["resident_fall"]
    assert spec.site == "care_home" and spec.config == "care_home_gz"
    params = yaml.safe_load(merged_params(spec.site, spec, tmp_path).read_text())
    assert params["dashboard"]["ros__parameters"]["language"] == "zh-CN"
    assert params["perception"]["ros__parameters"]["alert_language"] == "zh-CN"
    assert params["brain"]["ros__parameters"]["language"] == "zh"
    assert params["sim"]["ros__parameters"]["site"] == "care_home"        # the building: care_home's world
    assert params["sim"]["ros__parameters"]["sync_topic"] == "perception/persons"   # the scenario's own overrides


def test_the_other_scenarios_keep_their_sites_own_file(tmp_path):
    spec = SCENARIOS["fetch_water"]
    assert spec.config == ""
    params = yaml.safe_load(merged_params(spec.site, spec, tmp_path).read_text())
    assert params["brain"]["ros__parameters"]["language"] == "en"
    assert "care_home_gz" in bringup.SITES and bringup.site_config("care_home_gz").is_file()
