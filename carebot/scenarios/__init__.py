"""The scenario runner behind ``carebot demo`` and tests/scenarios: the whole stack against the
simulation, with people and speech driven by a script and the outcomes checked.

Not part of the robot: it starts the node set (``carebot.bringup``) with the ``sim`` node in a
private ROS domain (``ros_env``), drives the simulation through ``client.StackClient`` and writes
a report. ``scenario`` has the framework (spec, context, checks, metrics), ``catalog`` the
scenarios, ``runner`` runs one, ``report`` writes the report, ``cli`` is ``carebot demo``.
"""
