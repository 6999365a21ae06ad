"""Parameter files are checked against the nodes' own declarations before anything starts."""
import textwrap

import pytest

from carebot import bringup, config_check
from carebot.config_check import NodeSchema, ParamType, Rule, declared_parameters, validate

NODE_SOURCE = textwrap.dedent('''
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    from rclpy.parameter import Parameter
    DEFAULT_RATE_HZ = 10.0
    MODELS = ["a", "b"]

    def _desc(text, **kw):
        return ParameterDescriptor(description=text, **kw)

    class N:
        def __init__(self):
            self.declare_parameter("rate_hz", DEFAULT_RATE_HZ, ParameterDescriptor(
                description="rate", floating_point_range=[FloatingPointRange(from_value=0.5, to_value=30.0)]))
            self.declare_parameter("imgsz", 640, _desc("size", integer_range=[IntegerRange(from_value=32, to_value=1280, step=32)]))
            self.declare_parameter("model", "yolo", ParameterDescriptor(description="m"))
            self.declare_parameter("enabled", True)
            self.declare_parameter("models", MODELS)
            self.declare_parameter("limits", [0.1, -0.2])
            self.declare_parameter("accounts", Parameter.Type.STRING_ARRAY)
            self.declare_parameters("pid", [("kp", 1.0), ("ki", 0.0)])
''')


@pytest.fixture(scope="module")
def schema():
    return declared_parameters(NODE_SOURCE, "n")


def test_declarations_give_types_and_ranges(schema):
    rules = schema.rules
    assert not schema.open
    assert rules["rate_hz"].type is ParamType.DOUBLE and (rules["rate_hz"].min, rules["rate_hz"].max) == (0.5, 30.0)
    assert rules["imgsz"].type is ParamType.INTEGER and rules["imgsz"].max == 1280
    assert rules["model"].type is ParamType.STRING
    assert rules["enabled"].type is ParamType.BOOL
    assert rules["models"].type is ParamType.STRING_ARRAY
    assert rules["limits"].type is ParamType.DOUBLE_ARRAY
    assert rules["accounts"].type is ParamType.STRING_ARRAY
    assert rules["pid.kp"].type is ParamType.DOUBLE


def test_names_built_at_run_time_make_the_schema_open():
    source = "class N:\n    def f(self, name):\n        self.declare_parameter(name, 1)\n        self.declare_parameter('x', 2)\n"
    schema = declared_parameters(source, "n")
    assert schema.open and schema.rules["x"].type is ParamType.INTEGER


def _issues(params, schema, node="n"):
    return validate({node: {"ros__parameters": params}}, {schema.node: schema})


def test_good_values_pass(schema):
    assert _issues({"rate_hz": 5.0, "imgsz": 320, "models": ["x"], "pid": {"kp": 2.0}}, schema) == []


@pytest.mark.parametrize("params, key, words", [
    ({"rate_hz": 5}, "n.rate_hz", "decimal point"),
    ({"rate_hz": 99.0}, "n.rate_hz", "above the maximum 30.0"),
    ({"imgsz": 16}, "n.imgsz", "below the minimum 32"),
    ({"imgsz": "big"}, "n.imgsz", "expects a integer"),
    ({"enabled": "yes"}, "n.enabled", "expects a bool"),
    ({"models": []}, "n.models", "empty list"),
    ({"models": None}, "n.models", "no value"),
    ({"limits": [1.0, "x"]}, "n.limits", "not a ROS parameter value"),
    ({"colour": "blue"}, "n.colour", "unknown parameter"),
    ({"pid": {"kd": 1.0}}, "n.pid.kd", "unknown parameter"),
])
def test_bad_values_name_the_key_and_reason(schema, params, key, words):
    issues = _issues(params, schema)
    assert len(issues) == 1, issues
    assert issues[0].key == key and words in issues[0].reason


def test_open_schema_allows_unknown_keys_but_checks_known_ones():
    schema = NodeSchema("n", {"rate": Rule(ParamType.DOUBLE, min=0.0)}, open=True)
    assert _issues({"anything": 1}, schema) == []
    assert [i.key for i in _issues({"rate": -1.0}, schema)] == ["n.rate"]


def test_unknown_node_section_and_bad_structure():
    schemas = {"n": NodeSchema("n")}
    issues = validate({"nn": {"ros__parameters": {}}, "n": {"params": {}}}, schemas)
    assert [i.key for i in issues] == ["nn", "n"]
    assert "unknown node section" in issues[0].reason and "ros__parameters" in issues[1].reason


def test_wildcard_section_accepts_keys_any_node_declares(schema):
    other = NodeSchema("m", {"x": Rule(ParamType.INTEGER)})
    schemas = {"n": schema, "m": other}
    assert validate({"/**": {"ros__parameters": {"use_sim_time": True}}}, schemas) == []


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("dashboard:\n  ros__parameters:\n    port: [1, 2\n")
    issues = config_check.check_file(path)
    assert issues and issues[0].key.startswith("line ") and "YAML" in issues[0].reason


def test_missing_file_is_refused(tmp_path):
    issues = config_check.check_file(tmp_path / "nope.yaml")
    assert "does not exist" in issues[0].reason


@pytest.mark.parametrize("site", bringup.SITES)
def test_shipped_site_files_are_valid(site):
    assert config_check.check_file(bringup.site_config(site)) == []


def test_dashboard_schema_comes_from_its_node_and_role_rules(tmp_path):
    schemas = config_check.node_schemas()
    dash = schemas["dashboard"]
    assert not dash.open and dash.rules["port"].max == 65535 and dash.rules["use_sim_time"].type is ParamType.BOOL
    path = tmp_path / "c.yaml"
    path.write_text("dashboard:\n  ros__parameters:\n    port: 70000\n    staff_accounts: ['nurse:plaintext']\n"
                    "    host: 'my laptop'\n")
    with pytest.raises(config_check.ConfigError) as caught:
        config_check.require_valid(path, schemas)
    text = str(caught.value)
    assert "dashboard.port: 70000 is above the maximum 65535" in text
    assert "dashboard.staff_accounts" in text and "not a scrypt hash" in text
    assert "dashboard.host" in text
