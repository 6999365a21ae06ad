"""carebot.dds_confinement: the checks on a stack's DDS environment (pure; the behaviour
itself is proven between network namespaces in tests/integration/test_dds_confinement.py)."""
from pathlib import Path

import pytest

from carebot import bringup, dds_confinement as dds

SHIPPED = bringup.config_dir() / bringup.DDS_PROFILE


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text()
    assert old in text
    path = tmp_path / "profile.xml"
    path.write_text(text.replace(old, new))
    return path


def test_the_shipped_profile_is_confined():
    assert dds.profile_problems(SHIPPED) == []


@pytest.mark.parametrize("old, new, words", [
    ("<address>127.0.0.1</address>", "<address>192.168.1.20</address>", "allowed beyond loopback: 192.168.1.20"),
    ("<address>127.0.0.1</address>", "<address>127.0.0.1</address><address>10.0.0.5</address>", "10.0.0.5"),
    ("<interfaceWhiteList>\n        <address>127.0.0.1</address>\n      </interfaceWhiteList>", "",
     "no interfaceWhiteList"),
    ("<useBuiltinTransports>false</useBuiltinTransports>", "<useBuiltinTransports>true</useBuiltinTransports>",
     "useBuiltinTransports is not false"),
    ("<useBuiltinTransports>false</useBuiltinTransports>", "", "useBuiltinTransports is not false"),
    ('is_default_profile="true"', "", "no participant profile with is_default_profile"),
    ("<transport_id>carebot_udp</transport_id>\n      </userTransports>",
     "<transport_id>other</transport_id>\n      </userTransports>", "'other' has no transport_descriptor"),
    ("<profiles", "<broken", "cannot read"),
])
def test_a_profile_that_opens_dds_is_named_with_the_reason(tmp_path, old, new, words):
    problems = dds.profile_problems(_variant(tmp_path, old, new))
    assert problems and any(words in p for p in problems), problems


def test_loopback_in_any_spelling_is_confined(tmp_path):
    for address in ("127.0.0.5", "::1", "lo"):
        assert dds.profile_problems(_variant(tmp_path, "127.0.0.1", address)) == [], address


def test_environment_findings_name_what_opens_the_stack(tmp_path):
    good = {dds.PROFILE_VARIABLE: str(SHIPPED), dds.DOMAIN_VARIABLE: "42"}
    assert dds.environment_findings(good) == []
    assert dds.environment_findings({**good, dds.RMW_VARIABLE: "rmw_fastrtps_cpp"}) == []
    [finding] = dds.environment_findings({**good, dds.RMW_VARIABLE: "rmw_cyclonedds_cpp"})
    assert "rmw_cyclonedds_cpp" in finding and "confine" in finding
    [finding] = dds.environment_findings({**good, dds.DOMAIN_VARIABLE: "0"})
    assert "default domain" in finding
    [finding] = dds.environment_findings({dds.DOMAIN_VARIABLE: "42"})
    assert "not set" in finding
    open_profile = _variant(tmp_path, "<address>127.0.0.1</address>", "<address>0.0.0.0</address>")
    [finding] = dds.environment_findings({**good, dds.PROFILE_VARIABLE: str(open_profile)})
    assert "0.0.0.0" in finding


def test_site_domain_from_the_supervisor_section(tmp_path):
    assert dds.site_domain_id(bringup.site_config("care_home")) not in (None, 0)
    assert dds.site_domain_id(bringup.site_config("care_home")) != dds.site_domain_id(bringup.site_config("public_hall"))
    path = tmp_path / "site.yaml"
    path.write_text("/carebot/supervisor:\n  ros__parameters:\n    ros_domain_id: 17\n")
    assert dds.site_domain_id(path) == 17         # a namespaced section counts too
    path.write_text("dashboard:\n  ros__parameters:\n    port: 1\n")
    assert dds.site_domain_id(path) is None
    assert dds.site_domain_id(tmp_path / "missing.yaml") is None


def test_stack_environment_sets_profile_and_site_domain_but_keeps_the_operators(tmp_path):
    site = bringup.site_config("public_hall")
    env = dds.stack_environment({"PATH": "/bin"}, site)
    assert env["ROS_DOMAIN_ID"] == str(dds.site_domain_id(site)) and env["PATH"] == "/bin"
    assert Path(env[dds.PROFILE_VARIABLE]) == SHIPPED
    assert dds.stack_environment({"PATH": "/bin"}, None)["ROS_DOMAIN_ID"] == str(dds.DEFAULT_DOMAIN_ID)
    own = dds.stack_environment({"ROS_DOMAIN_ID": "5", dds.PROFILE_VARIABLE: "/x.xml"}, site)
    assert own["ROS_DOMAIN_ID"] == "5" and own[dds.PROFILE_VARIABLE] == "/x.xml"


def test_default_domain_is_the_supervisor_tables_default_and_within_its_range():
    from carebot.launcher.parameters import SUPERVISOR

    param = SUPERVISOR["ros_domain_id"]
    assert param.default == dds.DEFAULT_DOMAIN_ID and param.min >= 1 and param.max <= 101
    assert SUPERVISOR.issues({"ros_domain_id": 0})


def test_sros2_problems_before_anything_starts(tmp_path, monkeypatch):
    assert dds.security_problems({}, ["/dashboard"]) == []                     # off: nothing to check
    assert dds.security_problems({"ROS_SECURITY_ENABLE": "True"}, ["/x"]) == []   # rcl wants exactly "true"
    # These wheels: no DDS Security in Fast DDS, said plainly.
    assert dds.dds_security_available() is False
    [plain, keystore] = dds.security_problems({"ROS_SECURITY_ENABLE": "true"}, ["/dashboard"])
    assert "PyPI wheel set" in plain and "full ROS 2 install" in plain and "ROS_SECURITY_KEYSTORE" in keystore
    # A full install: each node needs its enclave.
    monkeypatch.setattr(dds, "dds_security_available", lambda: True)
    env = {"ROS_SECURITY_ENABLE": "true", "ROS_SECURITY_KEYSTORE": str(tmp_path)}
    [missing] = dds.security_problems(env, ["/carebot/dashboard"])
    assert f"ros2 security create_enclave {tmp_path} /carebot/dashboard" in missing
    folder = tmp_path / "enclaves" / "carebot" / "dashboard"
    folder.mkdir(parents=True)
    for name in dds.ENCLAVE_FILES:
        (folder / name).write_text("x")
    assert dds.security_problems(env, ["/carebot/dashboard"]) == []
    assert dds.enclave_of("", "dashboard") == "/dashboard" and dds.enclave_of("/carebot", "brain") == "/carebot/brain"
