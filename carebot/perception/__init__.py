"""carebot's eyes: people, tracks and falls from the camera (see docs/perception.md).

Pure modules (no rclpy): detection, detector, fall_logic, geometry,
latest, settings, annotate, scenes, evaluate. The ROS node: perception_node. CLI:
``carebot perceive`` (cli.py).
"""
