"""The node set is defined once and every executable it names is installed."""
import importlib.util
from importlib.metadata import distribution
from pathlib import Path

from carebot import bringup

ROOT = Path(__file__).resolve().parents[3]


def test_installed_executables_are_the_node_set():
    """What pip installed (the package metadata setup.py wrote) against bringup's node set:
    a node added to bringup without reinstalling, or an executable setup.py invents, fails."""
    installed = {ep.name: ep.value for ep in distribution("carebot").entry_points if ep.group == "console_scripts"}
    expected = {"carebot": "carebot.cli:main"} | {n.executable: f"{n.module}:main" for n in bringup.NODES}
    assert installed == expected
    for node in bringup.NODES:
        assert importlib.util.find_spec(node.module) is not None, node.module
        assert "\ndef main(" in Path(importlib.util.find_spec(node.module).origin).read_text(), node.module


def test_node_names_and_executables_are_unique():
    names = [n.name for n in bringup.NODES]
    executables = [n.executable for n in bringup.NODES]
    assert len(set(names)) == len(names) and len(set(executables)) == len(executables)


def test_sim_nodes_only_with_sim():
    assert all(not n.sim_only for n in bringup.nodes_for(sim=False))
    assert len(bringup.nodes_for(sim=True)) > len(bringup.nodes_for(sim=False))


def test_unknown_site_is_refused_with_the_known_ones():
    try:
        bringup.site_config("moon_base")
    except ValueError as exc:
        assert "care_home" in str(exc) and "public_hall" in str(exc)
    else:
        raise AssertionError("unknown site must raise")
