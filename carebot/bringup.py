"""The one definition of carebot's node set.

Both starters read this module: ``launch/bringup.launch.py`` (full ROS 2 install)
and ``carebot up`` (the pip install). It is pure data: no rclpy import, so setup.py
and the tests can read it anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

PACKAGE = "carebot"
# carebot.paths.ROOT again: setup.py runs this file on its own (runpy), before carebot is importable.
ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
# care_home_gz: the care home's building with a Chinese-speaking staff and residents (its own
# parameter file; world and knowledge are care_home's).
SITES = ("care_home", "public_hall", "care_home_gz")
# Fast DDS profile for camera images between processes on one computer: a 640x480 frame
# is bigger than Fast DDS's default 512 KB shared-memory segment, so it would cross as
# UDP fragments, and a frame loses itself when one fragment is dropped (measured: most
# 0.6-0.9 MB frames lost on a 2-core machine). See the comment in the file.
DDS_PROFILE = "fastdds_large_messages.xml"
DDS_PROFILE_VARIABLE = "FASTRTPS_DEFAULT_PROFILES_FILE"


@dataclass(frozen=True)
class NodeSpec:
    """One node of the stack: its executable (console script) and how it is wired."""

    name: str                 # ROS node name, also the section in config/<site>.yaml
    executable: str           # console script installed by setup.py (ros2 run carebot <executable>)
    module: str               # python module whose main() runs the node
    remappings: tuple[tuple[str, str], ...] = ()
    sim_only: bool = False    # started only when the simulation stands in for the robot
    required: bool = True     # the stack is not healthy without it
    parameters: str = ""      # "module:TABLE", its carebot.parameters.ParamTable (config-check, docs)
    enabled_by: str = ""      # a bool parameter of its section: started only when the file sets it true
    # CPU priority (nice increment) `carebot up` starts it with: on two cores the nodes that
    # answer a person (speech, brain) and keep them safe (base_safety) must not wait behind
    # vision or the simulated world (docs/budget.md).
    nice: int = 0
    # False for a node whose timers all run on the steady clock and whose stamps come from its
    # inputs: it keeps its own clock under use_sim_time and is never woken by /clock (10 Hz),
    # which is most of a waiting node's wake-ups (docs/budget.md).
    follows_sim_clock: bool = True


NODES: tuple[NodeSpec, ...] = (
    NodeSpec("sim", "sim_node", "carebot.sim.sim_node", sim_only=True, parameters="carebot.sim.parameters:SIM",
             nice=5),          # the world, not the robot: it never takes CPU from the robot's nodes
    NodeSpec("perception", "perception_node", "carebot.perception.perception_node",
             parameters="carebot.perception.settings:PERCEPTION", nice=5),   # drops frames when behind
    NodeSpec("speech", "speech_node", "carebot.speech.speech_node", parameters="carebot.speech.parameters:SPEECH"),
    NodeSpec("brain", "brain_node", "carebot.brain.brain_node", parameters="carebot.brain.parameters:BRAIN"),
    NodeSpec("base_safety", "base_safety_node", "carebot.motion.base_safety_node",
             parameters="carebot.motion.parameters:BASE_SAFETY", follows_sim_clock=False),
    NodeSpec("navigator", "navigator_node", "carebot.motion.navigator_node",
             parameters="carebot.motion.parameters:NAVIGATOR"),
    NodeSpec("arm_head", "arm_head_node", "carebot.motion.arm_head_node",
             parameters="carebot.motion.parameters:ARM_HEAD"),
    NodeSpec("dashboard", "dashboard_node", "carebot.dashboard.dashboard_node",
             parameters="carebot.dashboard.parameters:DASHBOARD"),
    # Off unless the site joins a fleet (fleet_bridge: enabled: true; docs/fleet.md).
    NodeSpec("fleet_bridge", "fleet_bridge_node", "carebot.fleet.fleet_bridge_node", required=False,
             enabled_by="enabled", parameters="carebot.fleet.parameters:FLEET_BRIDGE"),
)


# Not a child process: `carebot up` runs this node inside its own process, because it
# watches the children (deaths, restarts, silence on /diagnostics) and raises SYSTEM
# alerts for them. Its parameters are a `supervisor:` section of the site file like any
# node's; `ros2 launch` has no such node (launch_ros respawns without alerts).
SUPERVISOR = NodeSpec("supervisor", "", "carebot.launcher.supervision_node",
                      parameters="carebot.launcher.parameters:SUPERVISOR")
# Not started by default: `carebot up --live-view` adds the Foxglove live view (docs/bag.md).
LIVE_VIEW = NodeSpec("live_view", "live_view_node", "carebot.bag.live_view_node", required=False,
                     parameters="carebot.bag.parameters:LIVE_VIEW")
# Every section a parameter file may hold.
CONFIGURED_NODES: tuple[NodeSpec, ...] = NODES + (SUPERVISOR, LIVE_VIEW)


def console_scripts() -> list[str]:
    """Entry points for setup.py: the CLI plus one executable per node."""
    scripts = ["carebot = carebot.cli:main"]
    scripts += [f"{n.executable} = {n.module}:main" for n in NODES]
    return scripts


def nodes_for(sim: bool) -> list[NodeSpec]:
    """The nodes to start on a real robot (sim=False) or against the simulation."""
    return [n for n in NODES if sim or not n.sim_only]


def config_dir() -> Path:
    """Folder of the site parameter files: the source tree, else the installed share folder."""
    if CONFIG_DIR.is_dir():
        return CONFIG_DIR
    try:  # a colcon install keeps config/ under share/carebot
        from ament_index_python.packages import get_package_share_directory
    except ImportError:
        return CONFIG_DIR
    try:
        return Path(get_package_share_directory(PACKAGE)) / "config"
    except Exception:  # PackageNotFoundError: not installed with colcon either
        return CONFIG_DIR


def node_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the stack's nodes run in: ``env`` plus carebot's DDS transport
    profile, unless the operator has set a profile of their own."""
    out = dict(env)
    if not out.get(DDS_PROFILE_VARIABLE):
        out[DDS_PROFILE_VARIABLE] = str(config_dir() / DDS_PROFILE)
    return out


def site_config(site: str) -> Path:
    """Parameter file of a site; raises ValueError naming the known sites."""
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}; known sites: {', '.join(SITES)}")
    return config_dir() / f"{site}.yaml"


def node_by_name(name: str) -> NodeSpec:
    """The spec of one node; raises ValueError naming the known nodes."""
    for spec in NODES:
        if spec.name == name:
            return spec
    raise ValueError(f"unknown node {name!r}; known nodes: {', '.join(n.name for n in NODES)}")


def parse_bool(text: str | bool) -> bool:
    """A launch argument or CLI value as a bool ('true'/'false', '1'/'0', 'yes'/'no')."""
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r} (use true or false)")


def normalize_namespace(namespace: str) -> str:
    """'' (root) or an absolute namespace without a trailing slash: 'carebot' -> '/carebot'."""
    namespace = namespace.strip().strip("/")
    return f"/{namespace}" if namespace else ""


@dataclass(frozen=True)
class NodeLaunch:
    """One node as both starters run it: the same name, namespace, parameters and remaps."""

    spec: NodeSpec
    params_file: Path         # what the node is given (namespaced copy when namespace is set)
    namespace: str            # '' = root namespace
    use_sim_time: bool
    source_file: Path | None = None   # the site file as written (validated); None = params_file

    @property
    def config_file(self) -> Path:
        return self.source_file or self.params_file

    def ros_arguments(self) -> list[str]:
        """``--ros-args ...`` as ``ros2 launch`` would pass them to the node's process."""
        args = ["--ros-args", "-r", f"__node:={self.spec.name}"]
        if self.namespace:
            args += ["-r", f"__ns:={self.namespace}"]
        args += ["--params-file", str(self.params_file),
                 "-p", f"use_sim_time:={'true' if self.use_sim_time else 'false'}"]
        for source, target in self.spec.remappings:
            args += ["-r", f"{source}:={target}"]
        return args


def launch_plan(site: str = SITES[0], sim: bool = False, namespace: str = "",
                use_sim_time: bool | None = None, config: str | Path | None = None,
                only: list[str] | tuple[str, ...] | None = None,
                params_dir: str | Path | None = None) -> list[NodeLaunch]:
    """The nodes to start and how: read by ``launch/bringup.launch.py`` and ``carebot up``.

    ``config`` overrides the site's file; ``use_sim_time`` defaults to ``sim`` (nodes that do not
    follow the sim clock keep their own); ``only``
    restricts the set to the named nodes (unknown names raise ValueError). With a
    namespace, the nodes get a namespaced copy of the file, written to ``params_dir``
    (a new temporary folder when None).
    """
    source = Path(config) if config else site_config(site)
    sim_time = sim if use_sim_time is None else use_sim_time
    specs = [spec for spec in nodes_for(sim) if switched_on(spec, source)]
    if only:
        wanted = [node_by_name(name) for name in only]
        specs = [spec for spec in NODES if spec in wanted]
    namespace = normalize_namespace(namespace)
    params_file = namespaced_params_file(source, namespace, params_dir) if namespace and specs else source
    return [NodeLaunch(spec, params_file, namespace, sim_time and spec.follows_sim_clock, source) for spec in specs]


def file_parameter(source: Path, node: str, name: str):
    """A node's parameter as a parameter file sets it (None when it does not). Raises OSError,
    yaml.YAMLError, or AttributeError for a file that is not a parameter file."""
    import yaml

    data = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
    return data.get(node, {}).get("ros__parameters", {}).get(name)


def switched_on(spec: NodeSpec, source: Path) -> bool:
    """Whether a node that is off unless configured (``enabled_by``) is switched on in a file;
    nodes without ``enabled_by`` always are. An unreadable file counts as off (the check names it)."""
    if not spec.enabled_by:
        return True
    import yaml

    try:
        return file_parameter(source, spec.name, spec.enabled_by) is True
    except (OSError, yaml.YAMLError, AttributeError):
        return False


def namespaced_params_file(source: Path, namespace: str, out_dir: Path | None = None) -> Path:
    """A copy of a parameter file whose node sections match nodes inside ``namespace``.

    ROS reads a section ``dashboard:`` as the node ``/dashboard`` only; under the
    namespace ``/carebot`` the node is ``/carebot/dashboard``. Site files stay
    namespace-free, and both starters hand the nodes this rewritten copy instead
    (absolute keys such as ``/**`` are kept as written). Unreadable files are returned
    unchanged: the config check reports them.
    """
    import tempfile

    import yaml

    try:
        data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return Path(source)
    if not isinstance(data, dict):
        return Path(source)
    rewritten = {(key if str(key).startswith("/") else f"{namespace}/{key}"): section
                 for key, section in data.items()}
    folder = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="carebot-params-"))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{Path(source).stem}{namespace.replace('/', '.')}.yaml"
    target.write_text(f"# {source} for nodes in {namespace} (written by carebot.bringup)\n"
                      + yaml.safe_dump(rewritten, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target
