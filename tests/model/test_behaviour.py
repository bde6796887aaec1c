"""Behavioural tests of the shipped model (Made-With-ML's tests/model): invariance, minimum
functionality and direction, on test images through LiteRT and the service's own preparation.

The bars are set a little below what the served version (MODEL_VERSION, else the highest) measures;
each version's own accuracy is pinned in test_shipped_model.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.config import Settings
from app.imaging import prepare_image
from app.model import Classifier, load_classifier, resolve_version_dir
from app.preprocessing import LABELS
from tests.helpers import image_bytes

SAMPLE = 2000  # test images for the invariance tests
CLEAREST = 25  # per class, for minimum functionality
PHOTOS = 150  # garments for the directional test


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    settings = Settings()
    return load_classifier(resolve_version_dir(settings.model_dir, settings.model_version))


def classes(classifier: Classifier, images: np.ndarray) -> np.ndarray:
    return classifier.predict_pixels(np.ascontiguousarray(images)).argmax(axis=1)


def require(value: float, bar: float, what: str) -> None:
    """Fail with the measured value when it is under the bar."""
    assert value >= bar, f"{what} is {value:.3f}; the bar is {bar}"


def shifted(images: np.ndarray, down: int, right: int) -> np.ndarray:
    """Images moved by whole pixels, the uncovered edge filled with background (black)."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    return padded[:, 1 - down : 29 - down, 1 - right : 29 - right]


# ---- invariance ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("down", "right"), [(0, 1), (0, -1), (1, 0), (-1, 0)])
def test_one_pixel_shift_keeps_the_class(classifier: Classifier, dataset, down: int, right: int) -> None:
    images = dataset.x_test[:SAMPLE]
    same = np.mean(classes(classifier, shifted(images, down, right)) == classes(classifier, images))
    require(float(same), 0.95, f"share of classes kept under a ({down}, {right}) shift")


def test_horizontal_flip_keeps_the_class(classifier: Classifier, dataset) -> None:
    images = dataset.x_test[:SAMPLE]
    same = np.mean(classes(classifier, images[:, :, ::-1]) == classes(classifier, images))
    require(float(same), 0.9, "share of classes kept under a horizontal flip")


# ---- minimum functionality ----------------------------------------------------------------------


def clearest_examples(dataset, label: int, count: int) -> np.ndarray:
    """Test images of a class nearest its training mean relative to every other class's mean."""
    means = np.stack([dataset.x_train[dataset.y_train == c].mean(axis=0) for c in range(len(LABELS))])
    indices = np.flatnonzero(dataset.y_test == label)
    images = dataset.x_test[indices].astype(np.float32)
    distances = ((images[:, None] - means[None]) ** 2).sum(axis=(2, 3))  # (n, classes)
    margin = distances[:, label] - np.delete(distances, label, axis=1).min(axis=1)
    return dataset.x_test[indices[np.argsort(margin)[:count]]]


@pytest.mark.parametrize("label", range(len(LABELS)), ids=LABELS)
def test_each_class_is_recognised_on_its_clearest_examples(
    classifier: Classifier, dataset, label: int
) -> None:
    accuracy = np.mean(classes(classifier, clearest_examples(dataset, label, CLEAREST)) == label)
    require(float(accuracy), 0.8, f"{LABELS[label]} accuracy on its {CLEAREST} clearest examples")


# ---- direction ----------------------------------------------------------------------------------


def garment_photo(pixels: np.ndarray, background: float, garment: float) -> bytes:
    """The garment enlarged to 252 px in a 320x280 frame, off-centre, from `background` to `garment` level."""
    strength = np.asarray(
        Image.fromarray(pixels.astype(np.float32) / 255).resize((252, 252), Image.Resampling.BICUBIC)
    )
    photo = np.full((320, 280), background, np.float32)
    photo[50:302, 8:260] += (garment - background) * np.clip(strength, 0, 1)
    return image_bytes(np.clip(np.rint(photo), 0, 255).astype(np.uint8))


def test_a_garment_on_white_and_on_black_get_the_same_class(classifier: Classifier, dataset) -> None:
    images = dataset.x_test[:PHOTOS]
    on_white = np.stack([prepare_image(garment_photo(p, 250, 25)).pixels for p in images])
    on_black = np.stack([prepare_image(garment_photo(p, 0, 230)).pixels for p in images])
    white, black = classes(classifier, on_white), classes(classifier, on_black)
    require(float(np.mean(white == black)), 0.95, "share of classes agreeing on white and black")
    native = classes(classifier, images)
    require(
        float(np.mean(white == native)),
        0.9,
        "share of photo classes agreeing with the 28x28 image",
    )
