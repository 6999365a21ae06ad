"""The house's boundaries, read from the source: where rclpy may be imported, which roles
may import which, and that product code does not read the test data. A new exception must
be added here with its reason."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CAREBOT = ROOT / "carebot"
ROLES = ("bag", "brain", "dashboard", "fleet", "launcher", "motion", "perception", "sim", "speech")

# Besides the *_node.py files: the shared ROS glue, the executor and the node runner,
# the command-line tools that talk to a running stack, and the scenario client.
RCLPY_ALLOWED = {
    "ros_common.py", "node_runner.py", "executors.py", "alert_delivery.py", "doctor.py", "status_cli.py",
    "brain/cli.py", "scenarios/client.py",
}
# Role -> role imports that remain, each with its reason. Everything else shared lives in
# the neutral modules (frames, ros_common, parameters, alerts, image_convert, world, paths).
CROSS_ROLE_ALLOWED = {
    ("speech", "brain"): "barge-in, the hallucination guard and the end of speech must hear the same stop, help "
                         "and distress phrases as the brain's safety net (carebot.brain.phrases, distress)",
    ("sim", "speech"): "the simulated microphone speaks with the stack's own espeak-ng voice",
    ("fleet", "dashboard"): "the fleet view reuses the dashboard's login, handler, alert book, merge rules and store "
                            "(issue 17: one staff view, not a second one to keep in step)",
    ("fleet", "motion"): "incidents go to the nearest robot by path length on the site map: the navigator's own "
                         "A* planner (carebot.motion.planner)",
}
# Product modules that still read tests/data: the speech evaluation corpora (open: issue 15).
READS_TEST_DATA_ALLOWED = {"speech/corpus.py", "speech/room_corpus.py"}


def _modules():
    for path in sorted(CAREBOT.rglob("*.py")):
        yield path.relative_to(CAREBOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_rclpy_only_in_nodes_and_the_shared_glue():
    offenders = [rel for rel, tree in _modules()
                 if any(n == "rclpy" or n.startswith("rclpy.") for n in _imports(tree))
                 and not rel.endswith("_node.py") and rel not in RCLPY_ALLOWED]
    assert offenders == []


def test_roles_import_the_neutral_modules_not_each_other():
    found = set()
    for rel, tree in _modules():
        role = rel.split("/")[0]
        if role not in ROLES:
            continue
        for name in _imports(tree):
            parts = name.split(".")
            if parts[0] == "carebot" and len(parts) > 1 and parts[1] in ROLES and parts[1] != role:
                found.add((role, parts[1]))
    assert found <= set(CROSS_ROLE_ALLOWED), sorted(found - set(CROSS_ROLE_ALLOWED))
    assert set(CROSS_ROLE_ALLOWED) <= found, "an exception no longer needed: remove it"


def test_product_code_does_not_read_the_test_data():
    def reads_tests(tree) -> bool:      # a path built from "tests" (comments and docstrings may cite it)
        return any(isinstance(n, ast.Constant) and isinstance(n.value, str)
                   and (n.value == "tests" or n.value.startswith("tests/")) for n in ast.walk(tree))

    readers = {rel for rel, tree in _modules() if reads_tests(tree)}
    assert readers == READS_TEST_DATA_ALLOWED, sorted(readers ^ READS_TEST_DATA_ALLOWED)
