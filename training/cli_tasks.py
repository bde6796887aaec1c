"""The `evaluate` and `predict` commands: the exported model.tflite, exactly as the service runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.imaging import ImageError, prepare_image
from app.model import Classifier, load_classifier, resolve_version_dir
from app.preprocessing import prepare_batch
from training.datasets import get_dataset
from training.evaluate import classification_metrics, format_report


def load_version(models_root: Path, version: int | None) -> Classifier:
    """Load and verify a version the way the service does."""
    return load_classifier(resolve_version_dir(models_root, version))


def evaluate_version(
    models_root: Path,
    version: int | None,
    out: Path | None,
    data_dir: str | None,
    dataset: str = "fashion-mnist",
) -> dict[str, object]:
    """Test-set metrics of an exported model.tflite, independently of its metadata."""
    classifier = load_version(models_root, version)
    spec = get_dataset(dataset)
    if classifier.labels != list(spec.labels):
        raise ValueError(f"{classifier.directory} is not a {spec.name} model: labels {classifier.labels}")
    data, names = spec.load(data_dir), spec.labels
    metrics = classification_metrics(classifier.predict_pixels(data.x_test), data.y_test, names)
    print(f"{classifier.directory}:")
    print(format_report(metrics, "test"))
    if out:
        from training.plots import plot_confusion

        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
        plot_confusion(np.asarray(metrics["confusion_matrix"]), out / "confusion_matrix.png", names=names)
        print(f"written to {out}")
    return metrics


def predict_files(files: list[Path], models_root: Path, version: int | None, mode: str) -> None:
    """Print label, confidence and probabilities for each file (same preparation as the service)."""
    classifier = load_version(models_root, version)
    for path in files:
        try:
            prepared = prepare_image(path.read_bytes(), mode, profile=classifier.profile)
        except (ImageError, OSError) as error:
            print(f"{path}: error: {error}")
            continue
        probabilities = classifier.predict(prepare_batch(prepared.pixels))[0]
        best = int(probabilities.argmax())
        bars = "  ".join(
            f"{label}={p:.3f}" for label, p in zip(classifier.labels, probabilities, strict=True)
        )
        print(f"{path}: {classifier.labels[best]} ({probabilities[best]:.1%}, {prepared.mode})\n  {bars}")
