"""Small helpers for tests: encoding arrays as image files."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def image_bytes(pixels: np.ndarray, format: str = "PNG", **options: object) -> bytes:
    """Encode a uint8 array (H, W) or (H, W, C) in the given Pillow format."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **options)
    return buffer.getvalue()
