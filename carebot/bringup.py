"""The one definition of carebot's node set.

Both starters read this module: ``launch/bringup.launch.py`` (full ROS 2 install)
and ``carebot up`` (the pip install). It is pure data: no rclpy import, so setup.py
and the tests can read it anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "carebot"
ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
SITES = ("care_home", "public_hall")


@dataclass(frozen=True)
class NodeSpec:
    """One node of the stack: its executable (console script) and how it is wired."""

    name: str                 # ROS node name, also the section in config/<site>.yaml
    executable: str           # console script installed by setup.py (ros2 run carebot <executable>)
    module: str               # python module whose main() runs the node
    remappings: tuple[tuple[str, str], ...] = ()
    sim_only: bool = False    # started only when the simulation stands in for the robot
    required: bool = True     # the stack is not healthy without it


NODES: tuple[NodeSpec, ...] = (
    NodeSpec("sim", "sim_node", "carebot.sim.sim_node", sim_only=True),
    NodeSpec("perception", "perception_node", "carebot.perception.perception_node"),
    NodeSpec("speech", "speech_node", "carebot.speech.speech_node"),
    NodeSpec("brain", "brain_node", "carebot.brain.brain_node"),
    NodeSpec("base_safety", "base_safety_node", "carebot.motion.base_safety_node"),
    NodeSpec("navigator", "navigator_node", "carebot.motion.navigator_node"),
    NodeSpec("arm_head", "arm_head_node", "carebot.motion.arm_head_node"),
    NodeSpec("dashboard", "dashboard_node", "carebot.dashboard.dashboard_node"),
)


def console_scripts() -> list[str]:
    """Entry points for setup.py: the CLI plus one executable per node."""
    scripts = ["carebot = carebot.cli:main"]
    scripts += [f"{n.executable} = {n.module}:main" for n in NODES]
    return scripts


def nodes_for(sim: bool) -> list[NodeSpec]:
    """The nodes to start on a real robot (sim=False) or against the simulation."""
    return [n for n in NODES if sim or not n.sim_only]


def site_config(site: str) -> Path:
    """Parameter file of a site; raises ValueError naming the known sites."""
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}; known sites: {', '.join(SITES)}")
    return CONFIG_DIR / f"{site}.yaml"
