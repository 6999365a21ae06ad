"""Start carebot on a robot with a full ROS 2 install.

    ros2 launch carebot bringup.launch.py site:=care_home
    ros2 launch carebot bringup.launch.py site:=public_hall sim:=true namespace:=carebot

The node set, parameter file, remappings and namespace come from carebot.bringup,
the same plan ``carebot up`` runs on a pip install; this file only turns that plan
into launch_ros Node actions. The parameter file is validated first
(carebot.config_check): a bad key stops the launch before any node starts. The nodes
get carebot's Fast DDS profile (DDS on loopback only, camera frames in shared memory)
unless one is set, and the site's ROS domain unless ROS_DOMAIN_ID is set. With
ROS_SECURITY_ENABLE=true (SROS2, a full ROS 2 install) each node runs in its own enclave,
its fully qualified name (docs/security.md).
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from carebot import bringup, config_check, dds_confinement

RESPAWN_DELAY_S = 2.0   # a crashed node comes back, as under `carebot up`

ARGUMENTS = (
    ("site", bringup.SITES[0], f"site whose config/<site>.yaml is used: {', '.join(bringup.SITES)}"),
    ("sim", "false", "true: also start the MuJoCo simulation node and run on its /clock"),
    ("namespace", "", "ROS namespace for every node, e.g. carebot (empty: the root namespace)"),
    ("use_sim_time", "", "true/false to override; empty: the same as sim"),
    ("config", "", "parameter file to use instead of the site's config/<site>.yaml"),
    ("only", "", "comma-separated node names to start (empty: the whole set)"),
)


def _nodes(context, *args, **kwargs):
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context).strip()

    plan = bringup.launch_plan(
        site=arg("site"), sim=bringup.parse_bool(arg("sim")), namespace=arg("namespace"),
        use_sim_time=bringup.parse_bool(arg("use_sim_time")) if arg("use_sim_time") else None,
        config=arg("config") or None,
        only=[name.strip() for name in arg("only").split(",") if name.strip()] or None)
    if plan:
        config_check.require_valid(plan[0].config_file)   # ConfigError names every bad key
    env = dds_confinement.stack_environment(os.environ, plan[0].config_file if plan else None)
    enclaves = {launch.spec.name: dds_confinement.enclave_of(launch.namespace, launch.spec.name) for launch in plan}
    problems = dds_confinement.security_problems(env, list(enclaves.values()))
    if problems:
        raise RuntimeError("SROS2 is switched on (ROS_SECURITY_ENABLE=true) but cannot work: " + "; ".join(problems))
    secure = dds_confinement.security_enabled(env)
    return [SetEnvironmentVariable(name, env[name])
            for name in (bringup.DDS_PROFILE_VARIABLE, dds_confinement.DOMAIN_VARIABLE)] + [
        Node(package=bringup.PACKAGE, executable=launch.spec.executable, name=launch.spec.name,
             namespace=launch.namespace,
             parameters=[str(launch.params_file), {"use_sim_time": launch.use_sim_time}],
             remappings=list(launch.spec.remappings), output="screen",
             ros_arguments=["--enclave", enclaves[launch.spec.name]] if secure else [],
             respawn=True, respawn_delay=RESPAWN_DELAY_S,
             prefix=f"nice -n {launch.spec.nice}" if launch.spec.nice else None)   # as carebot up does
        for launch in plan
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)])
