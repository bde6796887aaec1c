"""Training-time augmentation on float batches (N, 28, 28, 1): flips, shifts, random erasing."""

from __future__ import annotations

import tensorflow as tf

SHIFT_PIXELS = 2
ERASE_PROBABILITY = 0.3


def random_flip(images: tf.Tensor) -> tf.Tensor:
    """Mirror about half of the images left-right."""
    flip = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[2]), images)


def random_shift(images: tf.Tensor, pixels: int = SHIFT_PIXELS) -> tf.Tensor:
    """Translate each image by up to `pixels` in x and y, filling with background (0)."""
    size = images.shape[1]
    padded = tf.pad(images, [[0, 0], [pixels, pixels], [pixels, pixels], [0, 0]])
    n = tf.shape(images)[0]
    offsets = tf.random.uniform([n, 2], 0, 2 * pixels + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(size)[tf.newaxis, :]  # (n, size)
    cols = offsets[:, 1:] + tf.range(size)[tf.newaxis, :]
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(shifted, cols, axis=2, batch_dims=1)


def random_erasing(
    images: tf.Tensor, probability: float = ERASE_PROBABILITY, area: tuple[float, float] = (0.02, 0.25)
) -> tf.Tensor:
    """Random erasing (Zhong et al.): replace a random rectangle with noise."""
    size = images.shape[1]
    n = tf.shape(images)[0]
    fraction = tf.random.uniform([n], area[0], area[1])
    aspect = tf.exp(tf.random.uniform([n], -1.0, 1.0))  # ratio in [1/e, e]
    heights = tf.clip_by_value(tf.sqrt(fraction * aspect) * size, 1, size)
    widths = tf.clip_by_value(tf.sqrt(fraction / aspect) * size, 1, size)
    top = tf.random.uniform([n]) * (size - heights)
    left = tf.random.uniform([n]) * (size - widths)
    grid = tf.cast(tf.range(size), tf.float32)
    in_rows = (grid[None, :] >= top[:, None]) & (grid[None, :] < (top + heights)[:, None])
    in_cols = (grid[None, :] >= left[:, None]) & (grid[None, :] < (left + widths)[:, None])
    mask = in_rows[:, :, None] & in_cols[:, None, :]
    mask &= (tf.random.uniform([n]) < probability)[:, None, None]
    noise = tf.random.uniform(tf.shape(images))
    return tf.where(mask[..., None], noise, images)


def augment(
    images: tf.Tensor, labels: tf.Tensor, erasing: float = ERASE_PROBABILITY, flip: bool = True
) -> tuple[tf.Tensor, tf.Tensor]:
    """The full training augmentation, applied to a batch (erasing off when its probability is 0)."""
    images = random_shift(random_flip(images) if flip else images)
    if erasing > 0:
        images = random_erasing(images, erasing)
    return images, labels
