"""Preparation profiles: a digit written dark on paper reaches the model as MNIST draws its digits
(light strokes on black, box fitted into 20x20, centre of mass at the centre, no sharpening)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.imaging import PROFILES, get_profile, prepare_image
from tests.helpers import image_bytes
from training.digits import load_digits

ROWS, COLS = np.indices((28, 28))


def centre_of_mass(pixels: np.ndarray) -> tuple[float, float]:
    weights = pixels.astype(np.float64)
    return float((ROWS * weights).sum() / weights.sum()), float((COLS * weights).sum() / weights.sum())


def box_side(pixels: np.ndarray) -> int:
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    return int(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))


def seven(width: int, height: int, left: int, top: int, scale: float, ink: int, paper: int) -> np.ndarray:
    """A handwritten-like "7" (a bar and a slanted stroke) in `ink` on `paper`, height x width."""
    image = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(image)
    pen = max(2, round(8 * scale))
    points = [(left, top), (left + 100 * scale, top), (left + 40 * scale, top + 160 * scale)]
    draw.line(points, fill=ink, width=pen, joint="curve")
    return np.asarray(image)


@pytest.mark.parametrize(
    ("width", "height", "left", "top", "scale"),
    [(400, 300, 150, 60, 1.0), (1200, 900, 40, 500, 2.0), (300, 500, 10, 10, 0.6), (800, 800, 600, 300, 2.5)],
)
def test_a_digit_dark_on_paper_is_fitted_in_20x20_and_centred_by_mass(
    width: int, height: int, left: int, top: int, scale: float
) -> None:
    for ink, paper in ((20, 240), (235, 15)):  # dark on paper, and inverted
        data = image_bytes(seven(width, height, left, top, scale, ink, paper), "JPEG", quality=90)
        prepared = prepare_image(data, "auto", profile="mnist")
        assert prepared.mode == "photo" and not prepared.no_object
        assert box_side(prepared.pixels) == 20
        row, col = centre_of_mass(prepared.pixels)
        assert abs(row - 14) <= 0.6 and abs(col - 14) <= 0.6  # MNIST: 14.0 +- 0.3
        assert prepared.pixels.max() == 255 and prepared.pixels[0].max() == 0  # light strokes on black


def test_the_fashion_profile_fills_the_box_and_is_the_default() -> None:
    data = image_bytes(seven(400, 300, 150, 60, 1.0, 20, 240))
    default, fashion = prepare_image(data), prepare_image(data, profile="fashion-mnist")
    assert np.array_equal(default.pixels, fashion.pixels)
    assert box_side(default.pixels) == 28


def test_profiles_differ_only_in_geometry_and_sharpening() -> None:
    assert get_profile("mnist").sharpen == 0 and get_profile("mnist").box == 20
    assert get_profile("fashion-mnist").box == 28
    assert set(PROFILES) >= {"fashion-mnist", "mnist"}
    with pytest.raises(ValueError, match="unknown preparation profile 'emnist'"):
        get_profile("emnist")


def test_a_28x28_digit_on_black_is_raw_under_the_mnist_profile_too() -> None:
    digit = np.zeros((28, 28), np.uint8)
    digit[5:23, 12:16] = 255
    prepared = prepare_image(image_bytes(digit), "auto", profile="mnist")
    assert prepared.mode == "raw" and np.array_equal(prepared.pixels, digit)


def photo_of_paper(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """An MNIST digit written dark on light paper: scaled 3-12x, placed off-centre, with noise, as JPEG."""
    side = int(28 * rng.uniform(3, 12))
    strength = (
        np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
    )
    width, height = int(side * rng.uniform(1.1, 2.5)), int(side * rng.uniform(1.1, 2.0))
    paper, ink = rng.uniform(190, 250), rng.uniform(10, 90)
    canvas = np.full((height, width), paper, np.float32)
    top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
    canvas[top : top + side, left : left + side] = paper * (1 - strength) + ink * strength
    canvas += rng.normal(0, 2, canvas.shape)
    return image_bytes(np.clip(canvas, 0, 255).astype(np.uint8), "JPEG", quality=90)


def test_mnist_digits_photographed_on_paper_come_back_like_mnist() -> None:
    digits = load_digits(download=False).x_test[:100]
    rng = np.random.default_rng(0)
    similarity, offsets = [], []
    for digit in digits:
        prepared = prepare_image(photo_of_paper(digit, rng), "auto", profile="mnist")
        assert not prepared.no_object and box_side(prepared.pixels) <= 20
        similarity.append(np.corrcoef(prepared.pixels.ravel(), digit.ravel())[0, 1])
        offsets.append(np.subtract(centre_of_mass(prepared.pixels), 14.0))
    assert np.percentile(similarity, 10) > 0.8  # the same digit, in the same place, at the same size
    assert np.abs(offsets).max() <= 0.6
