"""The shipped version's Keras model and its LiteRT conversion give the same probabilities."""

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
    litert_probabilities = classifier.predict(prepare_batch(images))  # every output column, as is
    assert litert_probabilities.shape == (100, classifier.metadata.output_width)
    assert np.abs(keras_probabilities - litert_probabilities).max() < 1e-5
