"""The node set is defined once and every executable it names is installed."""
import runpy
from pathlib import Path

from carebot import bringup

ROOT = Path(__file__).resolve().parents[3]


def test_setup_py_entry_points_come_from_bringup():
    scripts = bringup.console_scripts()
    assert scripts[0] == "carebot = carebot.cli:main"
    for node in bringup.NODES:
        assert f"{node.executable} = {node.module}:main" in scripts


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
