"""THE pixel contract shared by training and serving.

A model input is float32, shape (N, 28, 28, 1), values in [0, 1]: the uint8
grayscale image divided by 255. Nothing else touches pixel scaling.
"""

from __future__ import annotations

import numpy as np

IMAGE_SIZE = 28
NUM_CLASSES = 10
LABELS: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
INPUT_SPEC: dict[str, object] = {
    "shape": [None, IMAGE_SIZE, IMAGE_SIZE, 1],
    "dtype": "float32",
    "range": [0.0, 1.0],
    "layout": "NHWC, grayscale, light garment on black like Fashion-MNIST",
}
PREPROCESSING = "uint8 grayscale 28x28 -> float32 / 255 -> shape (N, 28, 28, 1)"


def prepare_batch(pixels: np.ndarray) -> np.ndarray:
    """Turn uint8 images (28, 28) or (N, 28, 28) into the model's float32 (N, 28, 28, 1)."""
    array = np.asarray(pixels)
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {array.dtype}")
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected (N, 28, 28) pixels, got shape {array.shape}")
    batch = array.astype(np.float32) / np.float32(255.0)
    return batch[..., np.newaxis]
