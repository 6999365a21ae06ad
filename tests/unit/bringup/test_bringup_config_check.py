"""Parameter files are checked against the nodes' parameter tables before anything starts."""
import subprocess
import sys

import pytest

from carebot import bringup, config_check
from carebot.config_check import validate
from carebot.parameters import CrossRule, Param, ParameterError, ParamTable, ParamType

TABLE = ParamTable("n", (
    Param("rate_hz", ParamType.DOUBLE, 10.0, "rate", "Hz", 0.5, 30.0),
    Param("imgsz", ParamType.INTEGER, 640, "size", "px", 32, 1280,
          check=lambda v: None if v % 32 == 0 else f"{v} is not a multiple of 32"),
    Param("model", ParamType.STRING, "yolo", "m", choices=("yolo", "detr")),
    Param("enabled", ParamType.BOOL, True, "on"),
    Param("models", ParamType.STRING_ARRAY, ["a", "b"], "list"),
    Param("limits", ParamType.DOUBLE_ARRAY, [0.1, -0.2], "limits"),
    Param("accounts", ParamType.STRING_ARRAY, None, "no default"),
    Param("low", ParamType.DOUBLE, 0.2, "low"),
    Param("high", ParamType.DOUBLE, 0.8, "high"),
), rules=(CrossRule(("low", "high"), lambda lo, hi: lo < hi, "low must be below high"),))


def _issues(params, table=TABLE, node="n"):
    return validate({node: {"ros__parameters": params}}, {table.node: table})


def test_good_values_pass():
    assert _issues({"rate_hz": 5.0, "imgsz": 320, "models": ["x"], "model": "detr", "accounts": ["a:b"]}) == []


@pytest.mark.parametrize("params, key, words", [
    ({"rate_hz": 5}, "n.rate_hz", "decimal point"),
    ({"rate_hz": 99.0}, "n.rate_hz", "above the maximum 30.0"),
    ({"rate_hz": float("nan")}, "n.rate_hz", "not a finite number"),
    ({"imgsz": 16}, "n.imgsz", "below the minimum 32"),
    ({"imgsz": 100}, "n.imgsz", "not a multiple of 32"),
    ({"imgsz": "big"}, "n.imgsz", "expects a integer"),
    ({"model": "sam"}, "n.model", "'sam' is not one of 'yolo', 'detr'"),
    ({"enabled": "yes"}, "n.enabled", "expects a bool"),
    ({"models": []}, "n.models", "empty list"),
    ({"models": None}, "n.models", "no value"),
    ({"limits": [1.0, "x"]}, "n.limits", "not a ROS parameter value"),
    ({"colour": "blue"}, "n.colour", "unknown parameter"),
    ({"pid": {"kd": 1.0}}, "n.pid.kd", "unknown parameter"),
    ({"low": 0.9}, "n.low, high", "low must be below high"),
    ({"use_sim_time": "true"}, "n.use_sim_time", "expects a bool"),
])
def test_bad_values_name_the_key_and_reason(params, key, words):
    issues = _issues(params)
    assert len(issues) == 1, issues
    assert issues[0].key == key and words in issues[0].reason


def test_every_bad_key_is_named_at_once():
    issues = _issues({"rate_hz": 99.0, "model": "sam", "colour": "blue", "low": 0.9})
    assert [i.key for i in issues] == ["n.rate_hz", "n.model", "n.colour", "n.low, high"]
    # a rule over a value that is bad on its own is not judged (its words would mislead)
    assert [i.key for i in _issues({"low": "x", "high": 0.1})] == ["n.low"]


def test_the_node_and_the_check_give_the_same_verdict():
    """ParamTable.load (the node) raises exactly the issues ParamTable.issues (the check) lists."""
    with pytest.raises(ParameterError) as caught:
        TABLE.load({"rate_hz": 99.0, "model": "sam"})
    assert caught.value.issues == TABLE.issues({"rate_hz": 99.0, "model": "sam"})
    assert TABLE.load({"rate_hz": 2.0})["rate_hz"] == 2.0


def test_a_default_its_own_rules_refuse_is_a_programming_error():
    with pytest.raises(ValueError, match="default of x"):
        Param("x", ParamType.DOUBLE, 5.0, "x", min=0.0, max=1.0)


def test_unknown_node_section_and_bad_structure():
    tables = {"n": TABLE}
    issues = validate({"nn": {"ros__parameters": {}}, "n": {"params": {}}}, tables)
    assert [i.key for i in issues] == ["nn", "n"]
    assert "unknown node section" in issues[0].reason and "ros__parameters" in issues[1].reason


def test_wildcard_section_checks_keys_where_nodes_declare_them():
    other = ParamTable("m", (Param("rate_hz", ParamType.INTEGER, 1, "rate"),))
    tables = {"n": TABLE, "m": other}
    assert validate({"/**": {"ros__parameters": {"use_sim_time": True}}}, tables) == []
    issues = validate({"/**": {"ros__parameters": {"rate_hz": 2}}}, tables)
    assert [i.reason for i in issues] == ["(n) expects a double, got integer 2 (write it with a decimal point, e.g. 2.0)"]


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("dashboard:\n  ros__parameters:\n    port: [1, 2\n")
    issues = config_check.check_file(path)
    assert issues and issues[0].key.startswith("line ") and "YAML" in issues[0].reason


def test_missing_file_is_refused(tmp_path):
    issues = config_check.check_file(tmp_path / "nope.yaml")
    assert "does not exist" in issues[0].reason


def test_every_configured_node_has_a_table():
    tables = config_check.node_tables()
    assert set(tables) == {spec.name for spec in bringup.CONFIGURED_NODES}
    for name, table in tables.items():
        assert table.node == name
        assert all(p.description for p in table.params), name


@pytest.mark.parametrize("site", bringup.SITES)
def test_shipped_site_files_are_valid(site):
    assert config_check.check_file(bringup.site_config(site)) == []


def test_dashboard_values_are_refused_with_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dashboard:\n  ros__parameters:\n    port: 70000\n    staff_accounts: ['nurse:plaintext']\n"
                    "    host: 'my laptop'\n")
    with pytest.raises(config_check.ConfigError) as caught:
        config_check.require_valid(path)
    text = str(caught.value)
    assert "dashboard.port: 70000 is above the maximum 65535" in text
    assert "dashboard.staff_accounts" in text and "not a scrypt hash" in text
    assert "dashboard.host" in text


BAD_VALUES = """
perception:
  ros__parameters:
    conf: 5.0
    imgsz: 33
speech:
  ros__parameters:
    language: klingon
brain:
  ros__parameters:
    language: fr
    llm_backend: nonsense
"""


def test_config_check_command_names_every_bad_value(tmp_path):
    """The values of issue 15: each one is named with its key, and the command fails."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_VALUES)
    run = subprocess.run([sys.executable, "-m", "carebot.cli", "config-check", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"{path}: 5 problem(s)"
    for expected in ("perception.conf: 5.0 is above the maximum 1.0",
                     "perception.imgsz: 33 must be a positive multiple of 32",
                     "speech.language: 'klingon' is not one of",
                     "brain.language: 'fr' is not one of 'en', 'zh'",
                     "brain.llm_backend: 'nonsense' is not one of"):
        assert any(line.startswith(f"  - {expected}") for line in lines), (expected, run.stdout)
