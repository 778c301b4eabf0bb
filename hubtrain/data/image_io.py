"""Decoding image files and normalising image arrays to RGB, with errors that name the input.

Files are read as bytes and decoded with OpenCV (`cv2.imdecode`, the decoder behind
`cv2.imread`; reading the bytes ourselves also handles non-ASCII paths and lets us check that
a JPEG is complete: OpenCV decodes a truncated JPEG without an error, filling the missing rows
with grey)."""
from __future__ import annotations

import os
from typing import Optional

import cv2
import numpy as np

__all__ = ["ImageReadError", "read_image", "to_rgb_uint8", "jpeg_is_complete"]


class ImageReadError(ValueError):
    """An image file that is missing, empty, truncated or not an image."""


def _where(path: str, source: Optional[str]) -> str:
    return f"{path} (listed at {source})" if source else path


def read_image(path: str, source: Optional[str] = None) -> np.ndarray:
    """The image at `path` as RGB uint8 (H, W, 3). `source` ("list_file:line") goes in errors."""
    where = _where(path, source)
    if not os.path.isfile(path):
        raise ImageReadError(f"{where}: image file not found; fix the path in the list or restore the file.")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ImageReadError(f"{where}: the image file is empty; replace it or remove its line from the list.")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageReadError(f"{where}: OpenCV cannot decode this file (corrupt, or not an image format it "
                             f"reads: JPEG, PNG, BMP, TIFF, WebP ...); replace it or remove its line.")
    if data[:2] == b"\xff\xd8" and not jpeg_is_complete(data):
        raise ImageReadError(f"{where}: the JPEG is truncated (no end-of-image marker after its image data); "
                             f"the file was cut short while copying or downloading; replace it or remove "
                             f"its line.")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def jpeg_is_complete(data: bytes) -> bool:
    """Whether a JPEG has an end-of-image marker (FFD9) after the main image's first scan.

    Markers are walked by their lengths up to the first start-of-scan, so an EXIF thumbnail's own
    end marker (inside APP1) does not count. Inside entropy-coded data a 0xFF byte is always
    followed by 0x00 or a restart marker, so FFD9 found after the scan is the real end; data
    appended after it (e.g. a motion-photo trailer) does not matter."""
    pos, size = 2, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return False  # not a marker where one must be: damaged header
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:
            return data.find(b"\xff\xd9", pos + 2) != -1
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return False


def to_rgb_uint8(image: np.ndarray, source: Optional[str] = None) -> np.ndarray:
    """An image array as 3-channel (H, W, 3): grayscale (H, W) / (H, W, 1) is repeated, an alpha
    channel dropped. uint8 stays uint8 (0-255); other integer types must hold 0-255; float arrays
    must be 0-1 and stay float32. Channels of 3-channel arrays are taken as RGB."""
    where = source or "image array"
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageReadError(f"{where}: an image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
                             f"got shape {tuple(np.shape(image))}.")
    if image.dtype == np.uint8:
        return image
    if np.issubdtype(image.dtype, np.integer) or image.dtype == np.bool_:
        low, high = int(image.min()), int(image.max())
        if low < 0 or high > 255:
            raise ImageReadError(f"{where}: integer image values must be 0-255, got {low}..{high}; scale the "
                                 f"array to 0-255 (uint8) first.")
        return image.astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        low, high = float(image.min()), float(image.max())
        if not (np.isfinite(low) and np.isfinite(high)) or low < 0.0 or high > 1.0:
            raise ImageReadError(f"{where}: float image values must be 0-1, got {low:g}..{high:g}; divide "
                                 f"0-255 values by 255 or pass uint8.")
        return image.astype(np.float32, copy=False)
    raise ImageReadError(f"{where}: unsupported image dtype {image.dtype}; pass uint8 (0-255) or float (0-1).")
