"""carebot's brain: dialogue and task decisions under a deterministic safety layer.

Pure modules (no rclpy): phrases, safety_rules, tools, llm_client, knowledge,
fall_response, reminders, memory, dialogue. ``brain_node`` is the thin ROS adapter.
"""
