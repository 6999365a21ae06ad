"""sensor_msgs/Image <-> numpy, without cv_bridge (no wheel exists for it here).

Pure module: works on any object with the Image fields (height, width, encoding,
is_bigendian, step, data), so it is tested without rclpy. Decoding validates every
field and raises ``ImageFormatError`` with the reason; the caller logs and skips
the frame. Arrays returned for colour images are always BGR (OpenCV's and
ultralytics' order), so the detector never has to know the camera's encoding.
"""
from __future__ import annotations

import enum
import sys
from dataclasses import dataclass

import numpy as np


class ImageFormatError(ValueError):
    """A sensor_msgs/Image that cannot be decoded (bad encoding, step, size or data)."""


class Encoding(str, enum.Enum):
    """Encodings supported (names as in sensor_msgs/image_encodings.hpp)."""

    RGB8 = "rgb8"
    BGR8 = "bgr8"
    RGBA8 = "rgba8"
    BGRA8 = "bgra8"
    MONO8 = "mono8"
    MONO16 = "mono16"


@dataclass(frozen=True)
class _Layout:
    channels: int
    dtype: np.dtype


_LAYOUTS: dict[Encoding, _Layout] = {
    Encoding.RGB8: _Layout(3, np.dtype(np.uint8)),
    Encoding.BGR8: _Layout(3, np.dtype(np.uint8)),
    Encoding.RGBA8: _Layout(4, np.dtype(np.uint8)),
    Encoding.BGRA8: _Layout(4, np.dtype(np.uint8)),
    Encoding.MONO8: _Layout(1, np.dtype(np.uint8)),
    Encoding.MONO16: _Layout(1, np.dtype(np.uint16)),
}
# Aliases some drivers send; "8UC3" carries no channel order, bgr is OpenCV's convention.
_ALIASES = {"8uc1": Encoding.MONO8, "8uc3": Encoding.BGR8, "8uc4": Encoding.BGRA8, "16uc1": Encoding.MONO16}

MAX_SIDE_PX = 16384  # larger claims are treated as corrupt headers, not allocated


def parse_encoding(name: str) -> Encoding:
    """Encoding for a sensor_msgs/Image encoding string; raises ImageFormatError."""
    key = (name or "").strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return Encoding(key)
    except ValueError:
        known = ", ".join(e.value for e in Encoding)
        raise ImageFormatError(f"unsupported encoding {name!r} (supported: {known})") from None


def image_to_array(msg) -> tuple[np.ndarray, Encoding]:
    """Decode a sensor_msgs/Image into (array, encoding).

    The array has shape (height, width) for mono encodings and (height, width, C)
    otherwise, in the message's own channel order; it is a view on the message
    buffer where possible (no copy), so treat it as read-only.
    Raises ImageFormatError for anything inconsistent.
    """
    encoding = parse_encoding(msg.encoding)
    layout = _LAYOUTS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageFormatError(f"empty image ({width}x{height})")
    if height > MAX_SIDE_PX or width > MAX_SIDE_PX:
        raise ImageFormatError(f"implausible image size {width}x{height}")
    row_bytes = width * layout.channels * layout.dtype.itemsize
    if step < row_bytes:
        raise ImageFormatError(f"step {step} < width*bytes per pixel {row_bytes} for {encoding.value}")
    if step % layout.dtype.itemsize:
        raise ImageFormatError(f"step {step} is not a multiple of the {layout.dtype.itemsize}-byte sample size")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ImageFormatError(f"data has {data.size} bytes, expected step*height = {step * height}")
    rows = data.reshape(height, step)[:, :row_bytes]  # drops row padding, still a view
    if layout.dtype.itemsize == 1:
        pixels = rows
    else:
        # Multi-byte samples: reinterpret in the message's byte order, then make native.
        wire = layout.dtype.newbyteorder(">" if msg.is_bigendian else "<")
        pixels = np.ascontiguousarray(rows).view(wire).astype(layout.dtype, copy=False)
    shape = (height, width) if layout.channels == 1 else (height, width, layout.channels)
    return pixels.reshape(shape), encoding


def to_bgr8(array: np.ndarray, encoding: Encoding) -> np.ndarray:
    """Any supported decoded image as a contiguous HxWx3 uint8 BGR array (for the detector)."""
    if encoding is Encoding.BGR8:
        return np.ascontiguousarray(array)
    if encoding is Encoding.RGB8:
        return np.ascontiguousarray(array[:, :, ::-1])
    if encoding is Encoding.BGRA8:
        return np.ascontiguousarray(array[:, :, :3])
    if encoding is Encoding.RGBA8:
        return np.ascontiguousarray(array[:, :, 2::-1])
    if encoding is Encoding.MONO16:
        # Scale the full 16-bit range to 8 bits: a mono16 camera is rare for people detection,
        # the detector needs contrast, not absolute values.
        array = (array >> 8).astype(np.uint8)
    if array.ndim == 2:
        return np.ascontiguousarray(np.repeat(array[:, :, None], 3, axis=2))
    raise ImageFormatError(f"cannot convert {encoding.value} array of shape {array.shape} to bgr8")


def image_to_bgr(msg) -> np.ndarray:
    """Decode a sensor_msgs/Image straight to HxWx3 uint8 BGR; raises ImageFormatError."""
    array, encoding = image_to_array(msg)
    return to_bgr8(array, encoding)


def array_to_image_fields(array: np.ndarray, encoding: Encoding | str) -> dict:
    """Fields of a sensor_msgs/Image holding array (native byte order, no padding).

    Returned as a dict so this module stays ROS-free: ``Image(**fields)`` or
    setattr on an existing message. Raises ImageFormatError on a shape/dtype mismatch.
    """
    encoding = parse_encoding(encoding.value if isinstance(encoding, Encoding) else encoding)
    layout = _LAYOUTS[encoding]
    array = np.asarray(array)
    expected_ndim = 2 if layout.channels == 1 else 3
    if array.ndim != expected_ndim or (layout.channels > 1 and array.shape[2] != layout.channels):
        raise ImageFormatError(f"array of shape {array.shape} does not fit {encoding.value}")
    if array.dtype != layout.dtype:
        raise ImageFormatError(f"array dtype {array.dtype} does not fit {encoding.value} ({layout.dtype})")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageFormatError("empty array")
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    return {
        "height": height,
        "width": width,
        "encoding": encoding.value,
        "is_bigendian": int(sys.byteorder == "big" and layout.dtype.itemsize > 1),
        "step": width * layout.channels * layout.dtype.itemsize,
        "data": array.tobytes(),
    }
