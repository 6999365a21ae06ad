"""``carebot up``: run the node set of carebot.bringup as supervised processes."""
