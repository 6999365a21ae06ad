"""The simulation: MuJoCo worlds generated from the site descriptions, the robot from
its URDF, people from real photographs, and a node that publishes what Gazebo with
ros_gz_bridge would. See docs/sim.md."""
import os

# MuJoCo chooses its OpenGL platform once, when ``mujoco`` is first imported, so the choice
# is made here, before any module of this package imports it (a node's main() runs too
# late: `carebot up --sim` on a machine without a display lost its camera that way).
# Software OSMesa unless the caller chose (MUJOCO_GL=egl on a GPU machine, glfw on a desktop).
os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
