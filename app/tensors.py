"""A client's ready-made model input, as the standard protocols carry it: checks shared by v2 and v1.

The model input is THE pixel contract's (app/preprocessing.py): float32 (N, 28, 28, 1) in [0, 1].
A client that sends tensors must send exactly that; values outside [0, 1] (pixels sent unscaled,
0-255) are refused rather than classified as garbage.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

import numpy as np

from app.preprocessing import IMAGE_SIZE

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


class InvalidTensor(ValueError):
    """The request's tensors do not fit the model's input; `status_code` is the HTTP answer."""

    status_code = 400


class TooManyImages(InvalidTensor):
    """More images in one request than MAX_BATCH_FILES."""

    status_code = 413


def check_count(count: int, limit: int) -> None:
    if count < 1:
        raise InvalidTensor("the request holds no image")
    if count > limit:
        raise TooManyImages(f"{count} images in one request; the limit is {limit}")


def model_input(data: object, shape: list[int] | tuple[int, ...] | None = None) -> np.ndarray:
    """Numbers (nested lists, flat with a shape, or an array) -> float32 (N, 28, 28, 1) in [0, 1].

    Without a declared shape, (N, 28, 28) is accepted too (one channel implied).
    """
    try:
        array = np.asarray(data, dtype=np.float32)
    except (ValueError, TypeError) as error:
        raise InvalidTensor(
            f"tensor data is not numbers in a regular (rectangular) layout: {error}"
        ) from error
    if shape is not None:
        declared = [int(size) for size in shape]
        if math.prod(declared) != array.size:
            raise InvalidTensor(
                f"shape {declared} holds {math.prod(declared)} values; the data has {array.size}"
            )
        array = array.reshape(declared)
    elif array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[1:] != INPUT_SHAPE:
        raise InvalidTensor(
            f"tensor shape {list(array.shape)}; the model takes [N, {IMAGE_SIZE}, {IMAGE_SIZE}, 1] "
            "float32 in [0, 1] (or send the encoded image as BYTES / b64)"
        )
    if not np.isfinite(array).all() or array.min(initial=0.0) < 0.0 or array.max(initial=0.0) > 1.0:
        raise InvalidTensor("tensor values must be finite and in [0, 1] (pixels / 255)")
    return np.ascontiguousarray(array)


def json_object(body: bytes, what: str) -> dict[str, object]:
    """A request body that must be one JSON object."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidTensor(f"the {what} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise InvalidTensor(f"the {what} must be a JSON object")
    return value


def base64_file(text: object, index: int) -> bytes:
    """The bytes of image `index`, sent as base64 text (JSON cannot carry raw bytes)."""
    if not isinstance(text, str):
        raise InvalidTensor(
            f"image {index}: expected the file's base64 as a string, got {type(text).__name__}"
        )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidTensor(f"image {index}: not valid base64") from error
