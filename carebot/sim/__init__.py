"""The simulation: MuJoCo worlds generated from the site descriptions, the robot from
its URDF, people from real photographs, and a node that publishes what Gazebo with
ros_gz_bridge would. See docs/sim.md."""
