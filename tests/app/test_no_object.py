"""`PreparedImage.no_object`: blank, uniform, gradient and pure-noise uploads are flagged in every
preparation; garments (data-set images, shop photos, thin line drawings) never are."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image, ImageFilter

from app.imaging import prepare_image
from tests.helpers import image_bytes
from training.data import FashionMNIST
from training.shop_photos import shop_photos

MODES = ("auto", "raw", "photo")
LOSSLESS_AND_LOSSY = (("PNG", {}), ("JPEG", {"quality": 60}), ("WEBP", {"quality": 60}))


def surfaces(size: int) -> Iterator[tuple[str, np.ndarray]]:
    """Blank, uniform and gradient images of size x size."""
    ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    radius = np.sqrt((xs - 0.5) ** 2 + (ys - 0.5) ** 2) / np.sqrt(0.5)
    yield "black", np.zeros((size, size), np.uint8)
    yield "white", np.full((size, size), 255, np.uint8)
    yield "grey", np.full((size, size), 128, np.uint8)
    yield "colour", np.full((size, size, 3), (200, 30, 90), np.uint8)
    yield "horizontal", (xs * 255).astype(np.uint8)
    yield "vertical", (ys * 200 + 30).astype(np.uint8)
    yield "diagonal", ((xs + ys) * 127).astype(np.uint8)
    yield "radial", (radius * 255).astype(np.uint8)
    yield "radial-inverted", (255 - radius * 255).astype(np.uint8)
    yield "colour-gradient", np.stack([xs * 255, ys * 255, (1 - xs) * 255], axis=-1).astype(np.uint8)


def noises(size: int, rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray]]:
    """Gaussian, uniform and salt-and-pepper noise, grey and colour, of size x size."""
    for colour in (False, True):
        shape = (size, size, 3) if colour else (size, size)
        tag = "colour" if colour else "grey"
        for mean, sigma in ((128, 50), (20, 30), (230, 30), (128, 6)):
            yield (
                f"gaussian-{mean}-{sigma}-{tag}",
                np.clip(rng.normal(mean, sigma, shape), 0, 255).astype(np.uint8),
            )
        yield f"uniform-{tag}", rng.integers(0, 256, shape, dtype=np.uint8)
        for base, share in ((255, 0.05), (0, 0.05), (128, 0.5)):
            pixels = np.full(shape, base, np.uint8)
            hit, salt = rng.random((size, size)) < share, rng.random((size, size)) < 0.5
            pixels[hit & salt], pixels[hit & ~salt] = 255, 0
            yield f"salt-and-pepper-{base}-{share}-{tag}", pixels


@pytest.mark.parametrize("size", [28, 64, 300, pytest.param(1000, marks=pytest.mark.slow)])
def test_blank_uniform_and_gradients_are_no_object_in_every_mode(size: int) -> None:
    for name, pixels in surfaces(size):
        for format, options in LOSSLESS_AND_LOSSY:
            data = image_bytes(pixels, format, **options)
            for mode in MODES:
                assert prepare_image(data, mode).no_object, (name, format, mode)


@pytest.mark.parametrize("size", [28, 29, 64, 300, pytest.param(1000, marks=pytest.mark.slow)])
def test_pure_noise_is_no_object_in_every_mode(size: int) -> None:
    rng = np.random.default_rng(size)
    for name, pixels in noises(size, rng):
        for format, options in LOSSLESS_AND_LOSSY:
            if "-128-6-" in name and format != "PNG":
                continue  # faint noise that JPEG/WebP turn into blotches: a known gap (FLAT_CONTRAST)
            data = image_bytes(pixels, format, **options)
            for mode in MODES:
                assert prepare_image(data, mode).no_object, (name, format, mode)


def test_a_black_or_white_28x28_square_is_no_object() -> None:
    black = prepare_image(image_bytes(np.zeros((28, 28), np.uint8)))
    white = prepare_image(image_bytes(np.full((28, 28), 255, np.uint8)))
    assert (black.mode, black.no_object) == ("raw", True)
    assert white.no_object


def test_a_garment_is_an_object_in_every_mode(dataset: FashionMNIST) -> None:
    for pixels in dataset.x_test[:20]:
        for mode in MODES:
            assert not prepare_image(image_bytes(pixels), mode).no_object


def outline_drawing(pixels: np.ndarray, side: int, pen: int) -> np.ndarray:
    """The garment's outline drawn with a (2 * pen)-pixel pen in black on white, side x side."""
    shape = (
        Image.fromarray(pixels)
        .resize((side, side), Image.Resampling.BILINEAR)
        .point(lambda v: 255 * (v > 20))
    )
    outer = np.asarray(shape.filter(ImageFilter.MaxFilter(2 * pen + 1))) > 0
    inner = np.asarray(shape.filter(ImageFilter.MinFilter(2 * pen + 1))) > 0
    return np.where(outer & ~inner, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("pen", [1, 2])  # an outline 2 to 4 pixels wide
def test_thin_line_drawings_of_garments_are_objects(dataset: FashionMNIST, pen: int) -> None:
    for pixels in dataset.x_test[::250]:
        drawing = outline_drawing(pixels, 400, pen)
        assert (drawing == 0).mean() < 0.1  # really a thin outline
        for format in ("PNG", "JPEG"):
            assert not prepare_image(image_bytes(drawing, format)).no_object


@pytest.mark.slow
def test_no_fashion_mnist_test_image_is_no_object(dataset: FashionMNIST) -> None:
    """All 10,000 test images, each uploaded as its 28x28 PNG."""
    flagged = [i for i, pixels in enumerate(dataset.x_test) if prepare_image(image_bytes(pixels)).no_object]
    assert flagged == []


@pytest.mark.slow
def test_no_shop_photo_is_no_object(dataset: FashionMNIST) -> None:
    photos = shop_photos(dataset.x_test, seed=3, indices=np.arange(0, 10_000, 20))
    flagged = [photo.size for photo in photos if prepare_image(photo.data).no_object]
    assert flagged == []
