"""Limbs and body: robot description, base safety, navigation, arm and head (docs/motion.md).

Pure modules (no rclpy): description, safety, scan, planner, controller, navigation,
kinematics, trajectory, gestures. Thin nodes: base_safety_node, navigator_node, arm_head_node.
"""
