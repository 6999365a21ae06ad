"""sensor_msgs/Image <-> numpy without cv_bridge: encodings, padding, byte order, bad input."""
from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from carebot.image_convert import (Encoding, ImageFormatError, array_to_image_fields, image_to_array,
                                              image_to_bgr, parse_encoding)

RNG = np.random.default_rng(7)


def msg(**fields):
    base = dict(height=0, width=0, encoding="", is_bigendian=0, step=0, data=b"")
    base.update(fields)
    return SimpleNamespace(**base)


def test_bgr8_round_trip_is_exact():
    bgr = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    back = image_to_bgr(msg(**array_to_image_fields(bgr, Encoding.BGR8)))
    np.testing.assert_array_equal(back, bgr)


def test_rgb8_is_swapped_to_bgr():
    rgb = RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    back = image_to_bgr(msg(**array_to_image_fields(rgb, "rgb8")))
    np.testing.assert_array_equal(back, rgb[:, :, ::-1])


def test_rgba8_and_bgra8_drop_alpha():
    rgba = RNG.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    np.testing.assert_array_equal(image_to_bgr(msg(**array_to_image_fields(rgba, "rgba8"))), rgba[:, :, 2::-1])
    np.testing.assert_array_equal(image_to_bgr(msg(**array_to_image_fields(rgba, "bgra8"))), rgba[:, :, :3])


def test_mono8_becomes_three_equal_channels():
    mono = RNG.integers(0, 256, (3, 5), dtype=np.uint8)
    bgr = image_to_bgr(msg(**array_to_image_fields(mono, "mono8")))
    assert bgr.shape == (3, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(bgr[:, :, c], mono)


@pytest.mark.parametrize("bigendian", [0, 1])
def test_mono16_respects_byte_order(bigendian):
    mono = RNG.integers(0, 65536, (4, 3), dtype=np.uint16)
    wire = mono.astype(">u2" if bigendian else "<u2")
    m = msg(height=4, width=3, encoding="mono16", is_bigendian=bigendian, step=6, data=wire.tobytes())
    array, enc = image_to_array(m)
    assert enc is Encoding.MONO16
    np.testing.assert_array_equal(array, mono)
    np.testing.assert_array_equal(image_to_bgr(m)[:, :, 0], (mono >> 8).astype(np.uint8))


def test_row_padding_is_skipped():
    bgr = RNG.integers(0, 256, (3, 2, 3), dtype=np.uint8)
    step = 2 * 3 + 4  # 4 padding bytes per row
    padded = np.zeros((3, step), np.uint8)
    padded[:, :6] = bgr.reshape(3, 6)
    padded[:, 6:] = 99
    out = image_to_bgr(msg(height=3, width=2, encoding="bgr8", step=step, data=padded.tobytes()))
    np.testing.assert_array_equal(out, bgr)


def test_driver_aliases():
    assert parse_encoding("8UC3") is Encoding.BGR8
    assert parse_encoding("8UC1") is Encoding.MONO8
    assert parse_encoding(" RGB8 ") is Encoding.RGB8


@pytest.mark.parametrize("fields, reason", [
    (dict(height=2, width=2, encoding="yuv422", step=4, data=bytes(8)), "unsupported encoding"),
    (dict(height=2, width=2, encoding="", step=6, data=bytes(12)), "unsupported encoding"),
    (dict(height=0, width=0, encoding="rgb8", step=0, data=b""), "empty"),
    (dict(height=2, width=2, encoding="rgb8", step=5, data=bytes(10)), "step 5"),
    (dict(height=2, width=2, encoding="rgb8", step=6, data=bytes(11)), "11 bytes"),
    (dict(height=2, width=2, encoding="rgb8", step=6, data=bytes(13)), "13 bytes"),
    (dict(height=2, width=2, encoding="mono16", step=5, data=bytes(10)), "multiple"),
    (dict(height=100000, width=2, encoding="mono8", step=2, data=b""), "implausible"),
])
def test_malformed_images_raise_a_typed_error_with_the_reason(fields, reason):
    with pytest.raises(ImageFormatError, match=reason):
        image_to_bgr(msg(**fields))


def test_image_format_error_is_a_value_error():
    assert issubclass(ImageFormatError, ValueError)


def test_array_to_fields_rejects_mismatches():
    with pytest.raises(ImageFormatError):
        array_to_image_fields(np.zeros((2, 2), np.uint8), "rgb8")
    with pytest.raises(ImageFormatError):
        array_to_image_fields(np.zeros((2, 2, 3), np.float32), "rgb8")
    with pytest.raises(ImageFormatError):
        array_to_image_fields(np.zeros((0, 2, 3), np.uint8), "rgb8")


def test_fields_fit_a_real_sensor_msgs_image():
    from sensor_msgs.msg import Image    # the ROS wheels are part of the stack: no skip

    bgr = RNG.integers(0, 256, (6, 4, 3), dtype=np.uint8)
    ros = Image(**array_to_image_fields(bgr, "bgr8"))
    assert ros.step == 12 and ros.is_bigendian == 0          # 8-bit samples have no byte order
    np.testing.assert_array_equal(image_to_bgr(ros), bgr)
    # 16-bit samples go out in this machine's byte order, and the flag says which
    depth = RNG.integers(0, 65536, (3, 5), dtype=np.uint16)
    ros16 = Image(**array_to_image_fields(depth, "mono16"))
    assert ros16.step == 10 and ros16.is_bigendian == int(sys.byteorder == "big")
    assert bytes(ros16.data) == depth.tobytes()
