"""The camera debug view, on only when configured: a real sensor_msgs/Image published
over DDS comes out of the page as a JPEG of the same size and colour."""
import json
import urllib.request
from http.cookiejar import CookieJar

import cv2
import numpy as np
import pytest

from bringup_support import CAREBOT, PASSWORD, RosPeer, free_port, http_ok, write_config
from carebot.scenarios.ros_env import isolated_env, start, stop, wait_for

pytestmark = pytest.mark.ros


def test_debug_image_is_served_as_jpeg_when_enabled(tmp_path):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    port = free_port()
    config = write_config(tmp_path, port, camera_view="true")
    env = isolated_env()
    log = tmp_path / "up.log"
    up = start(CAREBOT + ["up", "--only", "dashboard", "--config", str(config)], env, log)
    peer = None
    try:
        assert wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 60), log.read_text()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        login = urllib.request.Request(f"http://127.0.0.1:{port}/api/login",
                                       json.dumps({"user": "nurse", "password": PASSWORD}).encode(),
                                       {"Content-Type": "application/json"}, method="POST")
        opener.open(login, timeout=10).read()
        with opener.open(f"http://127.0.0.1:{port}/api/state", timeout=10) as response:
            assert json.load(response)["camera"] is True

        peer = RosPeer(env)
        publisher = peer.node.create_publisher(Image, "perception/debug_image", qos_profile_sensor_data)
        height, width = 120, 160
        pixels = np.zeros((height, width, 3), np.uint8)
        pixels[:, :, 0] = 200                  # rgb8: strong red
        pixels[:, width // 2:, 2] = 200        # right half magenta
        msg = Image(height=height, width=width, encoding="rgb8", step=width * 3, data=pixels.tobytes())
        msg.header.frame_id = "camera_optical_frame"

        def frame():
            publisher.publish(msg)
            try:
                with opener.open(f"http://127.0.0.1:{port}/api/camera.jpg", timeout=5) as response:
                    return response.read()
            except OSError:
                return None

        assert wait_for(lambda: frame() is not None, 30), log.read_text()
        image = cv2.imdecode(np.frombuffer(frame(), np.uint8), cv2.IMREAD_COLOR)    # BGR
        assert image.shape == (height, width, 3)
        left, right = image[:, : width // 2 - 8].mean(axis=(0, 1)), image[:, width // 2 + 8:].mean(axis=(0, 1))
        assert left[2] > 150 and left[0] < 50          # red stays red (no RGB/BGR swap)
        assert right[2] > 150 and right[0] > 150        # magenta half
    finally:
        if peer is not None:
            peer.close()
        assert stop(up, timeout=30) == 0, log.read_text()
