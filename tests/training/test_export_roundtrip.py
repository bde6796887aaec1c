"""The shipped version's Keras model and its LiteRT conversion give the same answers.

A float conversion must match to 1e-5; an int8 one (metadata "quantization") must keep every top-1
answer on these 100 images and stay within a few hundredths in probability.
"""

from __future__ import annotations

import keras
import numpy as np

from app.config import Settings
from app.model import load_classifier, resolve_version_dir
from app.preprocessing import prepare_batch
from training.export import KERAS_FILE  # also registers the flip layer model.keras uses


def test_keras_and_litert_agree_on_100_test_images(dataset) -> None:
    settings = Settings()
    classifier = load_classifier(resolve_version_dir(settings.model_dir, settings.model_version))
    images = dataset.x_test[:100]
    keras_probabilities = keras.models.load_model(classifier.directory / KERAS_FILE).predict(
        prepare_batch(images), verbose=0
    )
    litert_probabilities = classifier.predict_pixels(images)
    assert litert_probabilities.shape == (100, 10)
    difference = np.abs(keras_probabilities - litert_probabilities).max()
    if classifier.metadata["training"].get("quantization", "none") == "none":
        assert difference < 1e-5
    else:
        assert (keras_probabilities.argmax(1) == litert_probabilities.argmax(1)).all()
        assert difference < 0.05
