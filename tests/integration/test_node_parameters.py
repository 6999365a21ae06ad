"""Every running node declares exactly its parameter table (carebot/parameters.py).

One ``carebot up --sim`` of the care-home file: for each node, and for carebot up's own
supervision node, the parameters asked over its ROS parameter services must be the
table's names, with the table's types, ranges, descriptions and constraints, and hold the
value the site file gives (the table's default where the file says nothing). So what
``carebot config-check`` checks a file against is what the nodes really run with.
"""
import pytest
import yaml

from bringup_support import CAREBOT, free_port, is_ros_own, node_parameters
from carebot import bringup, config_check
from carebot.ros_common import descriptor
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]
STARTUP_S = 300.0          # YOLO and Whisper loading on two busy cores
NODES = [spec.name for spec in bringup.CONFIGURED_NODES]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("params")
    data = yaml.safe_load(bringup.site_config("care_home").read_text(encoding="utf-8"))
    # Only what a test machine needs: no LLM server, speech from the simulation's microphone,
    # a free port and a private database for the dashboard. Every other value is the site's.
    data["brain"]["ros__parameters"].update(llm_enabled=False, safety_similarity=False)
    data["speech"]["ros__parameters"]["audio_source"] = "topic"
    data["dashboard"]["ros__parameters"].update(port=free_port(), database=str(folder / "dashboard.sqlite3"))
    config = folder / "site.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert config_check.check_file(config) == []
    env = isolated_env(MUJOCO_GL="osmesa", HF_HUB_OFFLINE="1")
    log = folder / "up.log"
    up = start(CAREBOT + ["up", "--sim", "--config", str(config)], env, log)
    declared = {}
    try:
        for name in NODES:   # the first answer may take minutes (models load); the rest follow
            assert wait_for(lambda: _ask(env, name, declared), STARTUP_S, interval=2.0), \
                f"{name} did not answer on its parameter services\n{log.read_text()[-4000:]}"
        yield data, declared
    finally:
        stop(up, timeout=30)


def _ask(env, name, declared) -> bool:
    try:
        declared[name] = node_parameters(env, f"/{name}", timeout=5.0)
    except AssertionError:          # services not up yet
        return False
    return True


@pytest.mark.parametrize("node", NODES)
def test_the_running_node_declares_its_table(stack, node):
    data, declared = stack
    table = config_check.node_tables([bringup.node_by_name(node) if node != "supervisor" else bringup.SUPERVISOR])[node]
    given = data.get(node, {}).get("ros__parameters", {})
    ours = {name: d for name, d in declared[node].items() if not is_ros_own(name)}
    assert set(ours) == set(table.names), (sorted(set(ours) - set(table.names)), sorted(set(table.names) - set(ours)))
    for param in table.params:
        got, want = ours[param.name], descriptor(param)
        ranges = list(want.floating_point_range) or list(want.integer_range)
        assert got.type == want.type, param.name
        assert got.range == ((ranges[0].from_value, ranges[0].to_value) if ranges else None), param.name
        assert got.description == want.description, param.name
        assert got.constraints == want.additional_constraints, param.name
        expected = given.get(param.name, param.default)
        assert got.value == expected, (param.name, got.value, expected)
