"""Start carebot against the MuJoCo simulation (sim time, the sim node added).

    ros2 launch carebot sim.launch.py site:=care_home

The same as ``bringup.launch.py sim:=true``; kept as its own file so a site with
Gazebo can point this name at its own simulator launch.
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from carebot import bringup

HERE = os.path.dirname(os.path.abspath(__file__))
PASSED_ON = (
    ("site", bringup.SITES[0], f"site: {', '.join(bringup.SITES)} (world and parameters)"),
    ("namespace", "", "ROS namespace for every node (empty: the root namespace)"),
    ("config", "", "parameter file to use instead of the site's config/<site>.yaml"),
    ("only", "", "comma-separated node names to start (empty: the whole set)"),
)


def generate_launch_description() -> LaunchDescription:
    arguments = {name: LaunchConfiguration(name) for name, _, _ in PASSED_ON}
    arguments.update({"sim": "true", "use_sim_time": "true"})
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in PASSED_ON]
        + [IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(HERE, "bringup.launch.py")),
            launch_arguments=list(arguments.items()))])
