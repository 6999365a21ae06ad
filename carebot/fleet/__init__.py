"""Fleet: many robots and many sites on Zenoh, one staff view, incidents sent to the free robot."""
