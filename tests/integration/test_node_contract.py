"""The running nodes against what the project says about them: their parameter tables and
the topic contract (docs/interfaces.md).

One ``carebot up --sim`` of the care-home file:

- for each node, and for carebot up's own supervision node, the parameters asked over its
  ROS parameter services must be the table's names (carebot/parameters.py), with the table's
  types, ranges, descriptions and constraints, and hold the value the site file gives (the
  table's default where the file says nothing): what ``carebot config-check`` checks a file
  against is what the nodes run with;
- every topic, service and action a node uses, read from the ROS graph, must be in
  docs/interfaces.md with that node on the right side of its row, and every node a row
  names must use it (unless the row marks it "(when `parameter`)": off in the site file).
"""
import re
from pathlib import Path

import pytest
import yaml

from bringup_support import CAREBOT, free_port, is_ros_own, node_parameters
from carebot import bringup, config_check
from carebot.ros_common import descriptor
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DOC = Path(__file__).resolve().parents[2] / "docs" / "interfaces.md"
STARTUP_S = 300.0          # YOLO and Whisper loading on two busy cores
# Nodes that are off unless configured (the fleet bridge) do not run in the site file's stack; the fleet
# bridge's table is checked against the running node in tests/integration/test_fleet_link.py. The live
# view runs only with `carebot up --live-view` (tests/integration/test_bag_live_view.py runs it).
NODES = [spec.name for spec in bringup.CONFIGURED_NODES if not spec.enabled_by and spec is not bringup.LIVE_VIEW]


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
        yield data, declared, env
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
    data, declared, _ = stack
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
        # An array no file gives is declared empty (carebot.ros_common.declare_table).
        expected = given.get(param.name, [] if param.default is None and param.type.is_array else param.default)
        assert got.value == expected, (param.name, got.value, expected)


# ----------------------------------------------------------------------------- the topic contract
ROS_INTERNAL = re.compile(r"^/(rosout|parameter_events)$|/(describe_parameters|get_parameters|get_parameter_types|"
                          r"list_parameters|set_parameters|set_parameters_atomically|get_type_description)$"
                          r"|/_action/(get_result|cancel_goal|feedback|status)$")


def _graph(env) -> dict[str, dict[str, set[str]]]:
    """node -> {"publishes", "subscribes", "serves", "calls"} names, from the ROS graph; actions as
    their names (a server serves, a client calls)."""
    import os
    import time

    import rclpy
    from rclpy.context import Context

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = env["ROS_AUTOMATIC_DISCOVERY_RANGE"]
    context = Context()
    rclpy.init(context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    try:
        peer = rclpy.create_node("contract_reader", context=context)
        deadline = time.monotonic() + 60.0    # discovery of every node, then of its endpoints
        while not set(NODES) <= set(peer.get_node_names()) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3.0)
        out = {}
        for name in NODES:
            kinds = {"publishes": peer.get_publisher_names_and_types_by_node(name, "/"),
                     "subscribes": peer.get_subscriber_names_and_types_by_node(name, "/"),
                     "serves": peer.get_service_names_and_types_by_node(name, "/"),
                     "calls": peer.get_client_names_and_types_by_node(name, "/")}
            node = {kind: set() for kind in kinds}
            for kind, pairs in kinds.items():
                for topic, _ in pairs:
                    if ROS_INTERNAL.search(topic):
                        continue
                    action = topic.endswith("/_action/send_goal")
                    node[kind].add((topic[:-len("/_action/send_goal")] if action else topic).lstrip("/")
                                   if topic != "/diagnostics" and topic != "/clock" else topic)
            out[name] = node
        return out
    finally:
        context.try_shutdown()


def _contract() -> dict[str, tuple[set[str], set[str], set[str]]]:
    """name -> (nodes on the left of its row, nodes on the right, nodes marked "(when ...)")."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`") or "→" not in cells[-1]:
            continue
        left, _, right = cells[-1].partition("→")
        names = lambda text: {n for n in NODES if re.search(rf"(?<![\w/]){n}(?![\w/])", text)}  # noqa: E731
        conditional = {n for n in NODES if re.search(rf"{n}`? \(when `", cells[-1])}
        every = "every node" in left
        rows[cells[0].strip("`")] = (set(NODES) if every else names(left), names(right), conditional)
    return rows


def test_the_topic_contract_is_what_the_nodes_do(stack):
    _, _, env = stack
    graph, contract = _graph(env), _contract()
    problems = []
    for node, uses in graph.items():
        for kind, side in (("publishes", 0), ("serves", 0), ("subscribes", 1), ("calls", 1)):
            for name in sorted(uses[kind]):
                if name == "/clock" and kind == "subscribes":
                    if node == "base_safety":       # keeps its own clock (bringup.NodeSpec.follows_sim_clock)
                        problems.append("base_safety subscribes /clock: it should keep its own clock")
                    continue                        # every other node under use_sim_time
                if name not in contract:
                    problems.append(f"{node} {kind} {name}: not in docs/interfaces.md")
                elif node not in contract[name][side]:
                    problems.append(f"{node} {kind} {name}: docs/interfaces.md does not name it there")
    for name, (left, right, conditional) in contract.items():
        for node in (left | right) - conditional:
            used = {k: n for k, n in graph[node].items()}
            if node in left and not (name in used["publishes"] or name in used["serves"]) and name != "/diagnostics":
                problems.append(f"docs/interfaces.md: {node} publishes/serves {name}, but it does not")
            if node in right and not (name in used["subscribes"] or name in used["calls"]):
                problems.append(f"docs/interfaces.md: {node} subscribes/calls {name}, but it does not")
    assert problems == [], "\n".join(problems)
