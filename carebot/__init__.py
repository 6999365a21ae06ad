"""carebot: a ROS 2 control stack for service robots in care homes and public service halls."""

__version__ = "0.1.0"
