"""Engineers' tools in the ROS 2 ecosystem's own formats: record, replay and a live view.

Pure parts (no rclpy): ``msgdefs`` (full message definitions from the installed .msg
files), ``store`` (rosbag2-compatible MCAP bags: writing with limits and a full disk,
reading with clear errors), ``topics`` (which topics a recording takes and why: privacy
rules, transcript retention), ``parameters`` (the recorder's, player's and live view's
tables), ``live_view`` (what the Foxglove view shows). The ROS glue is in the
``*_node.py`` files; ``cli`` is ``carebot bag``. See docs/bag.md.
"""
