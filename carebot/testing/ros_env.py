"""TEMPORARY: the old path of ``carebot.scenarios.ros_env``, kept until the files other
engineers were editing import the new one (issue 15); then carebot/testing goes."""
from carebot.scenarios.ros_env import *  # noqa: F401,F403
from carebot.scenarios.ros_env import isolated_env, python_module, start, stop, wait_for  # noqa: F401
