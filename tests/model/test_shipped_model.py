"""The shipped model, evaluated independently on all 10,000 test images through LiteRT."""

from __future__ import annotations

import json

import pytest

from app.config import Settings
from app.model import list_versions, load_classifier
from training.evaluate import classification_metrics

# Issue #2's bar. Issue #3 aims at 0.95; the shipped v1 reaches 0.9401, so that goal is open (README).
ACCURACY_BAR = 0.93


@pytest.mark.slow
def test_highest_version_meets_the_quality_bar(dataset) -> None:
    root = Settings().model_dir
    classifier = load_classifier(root / str(list_versions(root)[-1]))
    metrics = classification_metrics(classifier.predict_pixels(dataset.x_test), dataset.y_test)
    assert metrics["accuracy"] >= ACCURACY_BAR
    assert metrics["ece"] <= 0.02
    recorded = json.loads((classifier.directory / "metadata.json").read_text())["metrics"]["test"]
    assert abs(recorded["accuracy"] - metrics["accuracy"]) < 1e-9  # metadata tells the truth
