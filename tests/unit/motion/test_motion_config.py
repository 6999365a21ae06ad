"""The motion sections of the site files pass `carebot config-check`; mistakes in them do not."""
from __future__ import annotations

import yaml

from carebot.bringup import SITES, site_config
from carebot.config_check import check_file


def test_site_files_are_valid_for_the_motion_nodes():
    for site in SITES:
        issues = [str(i) for i in check_file(site_config(site))]
        assert not [i for i in issues if i.split(".")[0] in ("base_safety", "navigator", "arm_head")], issues


def test_typos_ranges_and_sites_are_caught(tmp_path):
    data = yaml.safe_load(site_config("care_home").read_text())
    data["base_safety"]["ros__parameters"]["max_linear_sped"] = 0.5
    data["base_safety"]["ros__parameters"]["person_slow_speed"] = 0.5
    data["navigator"]["ros__parameters"]["site"] = "moon_base"
    data["arm_head"]["ros__parameters"]["speed_scale"] = 1            # an int where a double is declared
    data["arm_head"]["ros__parameters"]["gesture_person_distance"] = 0.2   # inside the arm's reach
    data["base_safety"]["ros__parameters"]["min_valid_beam_fraction"] = 0.1
    data["base_safety"]["ros__parameters"]["state_dir"] = "state"     # relative: would follow the cwd
    data["base_safety"]["ros__parameters"]["allow_anonymous_reset"] = "yes"
    data["navigator"]["ros__parameters"]["tuck_timeout"] = 0.0
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    issues = "\n".join(str(i) for i in check_file(path))
    assert "base_safety.max_linear_sped" in issues
    assert "base_safety.person_slow_speed" in issues
    assert "navigator.site" in issues and "moon_base" in issues
    assert "arm_head.speed_scale" in issues
    for key in ("arm_head.gesture_person_distance", "base_safety.min_valid_beam_fraction", "base_safety.state_dir",
                "base_safety.allow_anonymous_reset", "navigator.tuck_timeout"):
        assert key in issues, key
