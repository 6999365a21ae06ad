"""``carebot up``: start the stack from a pip install, as ``ros2 launch`` would.

Reads the node set from ``carebot.bringup`` (the same plan the launch files use),
validates the parameter file first (nothing starts when a key is wrong), then runs
every node as a supervised process: a crashed node is restarted with back-off; Ctrl-C
or SIGTERM stops all of them cleanly.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from carebot import bringup, config_check, dds_confinement
from carebot.launcher.supervisor import STOP_GRACE_S, ChildSpec, Supervisor

EXIT_CONFIG = 2            # refused: bad configuration or missing node


def node_command(launch: bringup.NodeLaunch, python: str = sys.executable) -> list[str]:
    """Command line of one node: its console script when installed, else the module."""
    script = Path(python).parent / launch.spec.executable
    if script.is_file():
        head = [str(script)]
    else:  # run main() of the module: the same entry point setup.py installs
        head = [python, "-c", "import importlib, sys; "
                "sys.exit(importlib.import_module(sys.argv[1]).main())", launch.spec.module]
    return head + launch.ros_arguments()


def missing_modules(plan: list[bringup.NodeLaunch]) -> list[str]:
    """Node modules of the plan that cannot be found (another role not built yet)."""
    missing = []
    for launch in plan:
        try:
            found = importlib.util.find_spec(launch.spec.module) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(f"{launch.spec.name} ({launch.spec.module})")
    return missing


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "up", help="start the robot stack (supervised processes)",
        description="Start carebot's nodes as `ros2 launch carebot bringup.launch.py` would: "
                    "validated parameters, restart on crash, clean stop on Ctrl-C/SIGTERM.")
    parser.add_argument("--site", default=bringup.SITES[0], choices=bringup.SITES,
                        help="site whose config/<site>.yaml is used (default %(default)s)")
    parser.add_argument("--config", type=Path, help="parameter file instead of the site's")
    parser.add_argument("--sim", action="store_true", help="run against the simulation (adds sim node, sim time)")
    parser.add_argument("--namespace", default="", help="ROS namespace of every node (default: root)")
    parser.add_argument("--use-sim-time", choices=("true", "false"),
                        help="override use_sim_time (default: true with --sim)")
    parser.add_argument("--only", nargs="+", metavar="NODE",
                        help=f"start only these nodes ({', '.join(n.name for n in bringup.NODES)})")
    parser.add_argument("--grace", type=float, default=STOP_GRACE_S,
                        help="seconds a node gets to stop after SIGINT before it is killed")
    parser.add_argument("--log-dir", type=Path, help="also write each node's output to DIR/<node>.log")
    parser.add_argument("--live-view", action="store_true",
                        help="also start the Foxglove live view (WebSocket on loopback:8765 unless the site file's "
                             "live_view section says otherwise; docs/bag.md)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, start nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The namespaced copy of the parameter file (if any) lives as long as the stack.
    with tempfile.TemporaryDirectory(prefix="carebot-up-") as params_dir:
        return _run(args, Path(params_dir))


def _run(args: argparse.Namespace, params_dir: Path) -> int:
    try:
        plan = bringup.launch_plan(
            site=args.site, sim=args.sim, namespace=args.namespace, config=args.config,
            use_sim_time=None if args.use_sim_time is None else bringup.parse_bool(args.use_sim_time),
            only=args.only, params_dir=params_dir)
    except ValueError as exc:
        print(f"carebot up: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    params_file = plan[0].config_file if plan else args.config
    issues = config_check.check_file(params_file) if params_file else []
    if issues:
        print(config_check.ConfigError(params_file, issues), file=sys.stderr)
        return EXIT_CONFIG
    missing = missing_modules(plan)
    if missing:
        print("carebot up: node module(s) not found, the stack is not started: "
              f"{', '.join(missing)}; start the others with --only", file=sys.stderr)
        return EXIT_CONFIG
    # DDS on this computer only, in the site's domain (carebot.dds_confinement, docs/security.md).
    env = dds_confinement.stack_environment(os.environ, params_file)
    launches = list(plan)
    if args.live_view and plan:
        # Same parameter file, namespace and clock as the stack: the view is one more node of it.
        launches.append(replace(plan[0], spec=bringup.LIVE_VIEW))
    enclaves = {launch.spec.name: dds_confinement.enclave_of(launch.namespace, launch.spec.name) for launch in launches}
    supervisor_enclave = [dds_confinement.enclave_of(plan[0].namespace, "supervisor")] if plan else []
    problems = dds_confinement.security_problems(env, list(enclaves.values()) + supervisor_enclave)
    if problems:
        print("carebot up: SROS2 is switched on (ROS_SECURITY_ENABLE=true) but cannot work, the stack is not "
              "started:\n  - " + "\n  - ".join(problems), file=sys.stderr)
        return EXIT_CONFIG
    secure = dds_confinement.security_enabled(env)
    specs = [ChildSpec(launch.spec.name, tuple(node_command(launch) + (["--enclave", enclaves[launch.spec.name]]
                                                                        if secure else [])), env=env,
                       nice=launch.spec.nice)
             for launch in launches]
    if args.dry_run:
        for spec in specs:
            print(f"{spec.name}: {' '.join(spec.argv)}")
        return 0
    print(f"[carebot up] ROS domain {env[dds_confinement.DOMAIN_VARIABLE]}, DDS profile "
          f"{env[bringup.DDS_PROFILE_VARIABLE]}{', SROS2 enclaves' if secure else ''}", flush=True)
    for finding in dds_confinement.environment_findings(env):
        print(f"[carebot up] warning: DDS is not confined to this computer: {finding}", file=sys.stderr, flush=True)
    supervision = start_supervision(launches, env)
    supervisor = Supervisor(specs, grace_s=args.grace, log_dir=args.log_dir,
                            on_event=supervision.on_child_event if supervision else None)

    def on_signal(signum, _frame):
        if supervision is not None:
            supervision.stopping()   # nodes that end from here on are not incidents
        if supervisor.stopping:   # asked twice: do not wait out the grace period
            supervisor.log(f"{signal.Signals(signum).name} received again: killing the nodes")
            supervisor.hurry()
        else:
            supervisor.log(f"{signal.Signals(signum).name} received")
            supervisor.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor.log(f"site {args.site if not args.config else args.config}, "
                   f"{len(specs)} node(s), parameters {params_file}")
    try:
        supervisor.run()
    finally:
        if supervision is not None:
            supervision.close()
    return 0


def start_supervision(plan: list[bringup.NodeLaunch], env: dict[str, str]):
    """The ROS node that raises SYSTEM alerts for the children (carebot.launcher.supervision_node),
    or None, with a warning, where ROS cannot start: supervision goes on without alerts."""
    if not plan:
        return None
    try:
        from carebot.launcher.supervision_node import NODE_NAME, SupervisionRuntime

        runtime = SupervisionRuntime([launch.spec.name for launch in plan], plan[0].params_file,
                                     namespace=plan[0].namespace,
                                     env=_supervision_environment(plan[0].namespace, env))
    except Exception as exc:  # noqa: BLE001 - no ROS here: keep supervising the processes
        print(f"[carebot up] warning: no SYSTEM alerts for staff (the supervision node did not start: "
              f"{type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
        return None
    print(f"[carebot up] SYSTEM alerts from node {plan[0].namespace}/{NODE_NAME}", flush=True)
    return runtime


def _supervision_environment(namespace: str, env: dict[str, str]) -> dict[str, str]:
    """What the in-process supervision node needs of the stack's environment: the same DDS
    profile and domain, and under SROS2 its own enclave (rcl reads the override variable)."""
    out = {key: env[key] for key in (bringup.DDS_PROFILE_VARIABLE, dds_confinement.DOMAIN_VARIABLE) if key in env}
    if dds_confinement.security_enabled(env):
        out["ROS_SECURITY_ENCLAVE_OVERRIDE"] = dds_confinement.enclave_of(namespace, "supervisor")
    return out
