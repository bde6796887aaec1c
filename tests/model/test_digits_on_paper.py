"""The digit model through the real service: a digit written dark on paper, as a photo shows it, is read.

The photos are made from the test split's digits: inverted (dark ink on light paper), scaled up
3-12 times, placed off-centre on a larger sheet of a random light grey, with a little sensor noise,
sent as JPEG or PNG. POST /models/mnist/predict with the default `auto` preparation must read at
least 90 % of them (the model reads its 28x28 test digits at 98-99 %).
"""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.helpers import image_bytes
from training.digits import Digits

COUNT = 300
SEED = 18
REQUIRED = 0.90


def paper_photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """One MNIST digit as a photo of dark ink on paper: scaled, off-centre, noisy, JPEG or PNG."""
    side = int(28 * rng.uniform(3, 12))
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC), np.float64) / 255
    width, height = (int(side * rng.uniform(1.3, 2.5)) for _ in range(2))
    left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    paper, pen = rng.uniform(190, 250), rng.uniform(0, 70)
    sheet = np.zeros((height, width))
    sheet[top : top + side, left : left + side] = np.clip(ink, 0, 1)
    photo = paper - sheet * (paper - pen) + rng.normal(0, 3, sheet.shape)
    pixels = np.clip(photo, 0, 255).astype(np.uint8)
    if rng.uniform() < 0.5:
        return image_bytes(pixels, "JPEG", quality=int(rng.integers(70, 95)))
    return image_bytes(pixels)


def test_digits_written_dark_on_paper_are_read(client: TestClient, digits: Digits) -> None:
    rng = np.random.default_rng(SEED)
    correct, modes = 0, set()
    for pixels, label in zip(digits.x_test[:COUNT], digits.y_test[:COUNT], strict=True):
        answer = client.post("/models/mnist/predict", files={"file": ("digit.jpg", paper_photo(pixels, rng))})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"]["name"] == "mnist"
        correct += body["label"] == str(label)
        modes.add(body["preprocess"])
    assert modes == {"photo"}  # none of them looks like a 28x28 data-set image
    accuracy = correct / COUNT
    print(f"digits on paper: {accuracy:.1%} of {COUNT} read correctly")
    if accuracy < REQUIRED:
        pytest.fail(f"{accuracy:.1%} of {COUNT} digits on paper read correctly; required {REQUIRED:.0%}")
