"""Start carebot against Gazebo (gz-sim, Harmonic) instead of the MuJoCo sim node.

    ros2 launch carebot gazebo.launch.py site:=care_home

Gazebo loads the generated world (models/gazebo/worlds/<site>.sdf), the robot
model (models/gazebo/carebot/model.sdf, from urdf/carebot.urdf) is spawned at the
site's robot_start, ros_gz_bridge maps Gazebo's topics to the names the MuJoCo
sim node publishes (config/ros_gz_bridge.yaml), and the rest of the stack starts
from the same plan as bringup.launch.py, on sim time, without the sim node.
Regenerate the Gazebo files after changing a world or the URDF:
``python -m carebot.sim.world_sdf``. Scenario control (sim/control: people
falling, scripted speech) exists only in the MuJoCo sim node.
"""
import os

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction,
                            SetEnvironmentVariable)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from carebot import bringup
from carebot.world import load_world

HERE = os.path.dirname(os.path.abspath(__file__))
SHARE = os.path.dirname(HERE)                      # the package share (or the source tree)
GAZEBO_DIR = os.path.join(SHARE, "models", "gazebo")
BRIDGE_CONFIG = os.path.join(SHARE, "config", "ros_gz_bridge.yaml")

ARGUMENTS = (
    ("site", bringup.SITES[0], f"site: {', '.join(bringup.SITES)} (world, robot start, parameters)"),
    ("namespace", "", "ROS namespace for every node and the bridge (empty: the root namespace)"),
    ("config", "", "parameter file to use instead of the site's config/<site>.yaml"),
    ("gui", "false", "true: open Gazebo's window; false: server only (headless)"),
)


def _gazebo(context, *args, **kwargs):
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context).strip()

    site = arg("site")
    world = load_world(site)
    x, y, yaw = world.robot_start
    world_file = os.path.join(GAZEBO_DIR, "worlds", f"{world.name}.sdf")
    gz_args = "-r " + ("" if bringup.parse_bool(arg("gui")) else "-s ") + world_file   # -r: run at once
    from ament_index_python.packages import get_package_share_directory

    gz_sim = os.path.join(get_package_share_directory("ros_gz_sim"), "launch", "gz_sim.launch.py")
    namespace = bringup.normalize_namespace(arg("namespace"))
    return [
        IncludeLaunchDescription(PythonLaunchDescriptionSource(gz_sim),
                                 launch_arguments=[("gz_args", gz_args)]),
        Node(package="ros_gz_sim", executable="create", output="screen",
             arguments=["-world", world.name, "-file", os.path.join(GAZEBO_DIR, "carebot", "model.sdf"),
                        "-name", "carebot", "-x", f"{x:.3f}", "-y", f"{y:.3f}", "-z", "0.0",
                        "-Y", f"{yaw:.4f}"]),
        Node(package="ros_gz_bridge", executable="parameter_bridge", name="gz_bridge", namespace=namespace,
             output="screen", parameters=[{"config_file": BRIDGE_CONFIG, "use_sim_time": True}]),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(HERE, "bringup.launch.py")),
            launch_arguments=[("site", site), ("sim", "false"), ("use_sim_time", "true"),
                              ("namespace", arg("namespace")), ("config", arg("config"))]),
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        # Gazebo finds model:// URIs (the people's photo textures) on this path.
        + [SetEnvironmentVariable("GZ_SIM_RESOURCE_PATH",
                                  GAZEBO_DIR + os.pathsep + os.environ.get("GZ_SIM_RESOURCE_PATH", "")),
           OpaqueFunction(function=_gazebo)])
