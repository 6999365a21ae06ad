"""Settings every test process shares.

The stack's nodes run with carebot's Fast DDS profile (``carebot up``, the launch files
and the scenario runner all set it; see carebot.bringup.node_environment): camera
frames travel in shared memory instead of as UDP fragments. Tests run their nodes and
their own publishers the same way, so what passes here is what runs on the robot.
"""
import os

from carebot import bringup

os.environ.update(bringup.node_environment(os.environ))
