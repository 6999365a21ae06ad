"""The newest-frame-wins mailbox between the image callback and the inference worker."""
from __future__ import annotations

import threading
import time

from carebot.perception.latest import LatestSlot


def test_newest_item_wins_and_replaced_items_are_counted():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(0.1) == 4
    assert slot.take(0.05) is None  # nothing new: no backlog of old frames
    assert (slot.received, slot.dropped) == (5, 4)


def test_take_waits_for_a_put_from_another_thread():
    slot = LatestSlot()
    threading.Timer(0.05, slot.put, args=("frame",)).start()
    start = time.monotonic()
    assert slot.take(2.0) == "frame"
    assert time.monotonic() - start < 1.0


def test_close_wakes_a_waiting_worker():
    slot = LatestSlot()
    got = []
    worker = threading.Thread(target=lambda: got.append(slot.take(10.0)))
    worker.start()
    time.sleep(0.05)
    slot.close()
    worker.join(2.0)
    assert not worker.is_alive() and got == [None] and slot.closed


def test_slow_consumer_only_ever_sees_recent_items():
    slot = LatestSlot()
    stop = threading.Event()

    def producer():
        i = 0
        while not stop.is_set():
            slot.put(i)
            i += 1
            time.sleep(0.001)

    thread = threading.Thread(target=producer)
    thread.start()
    seen = []
    for _ in range(5):
        item = slot.take(1.0)
        seen.append((item, slot.received))
        time.sleep(0.03)  # "inference"
    stop.set()
    thread.join()
    # Each item taken is at most a few puts behind the newest: nothing queued up.
    assert all(received - 1 - item <= 3 for item, received in seen)
    assert slot.dropped > 0
