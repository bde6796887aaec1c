"""Make tests/fixtures/open-set/1: a tiny, real open-set model version for the service's tests.

`.venv/bin/python scripts/make_open_set_test_model.py` (needs the `train` extra: TensorFlow converts
the model; about a minute). A softmax regression (784 -> 11, ~35 KB) trained on 12,000 Fashion-MNIST
training images (classes 0-9) and 4,000 procedurally drawn non-garments (noise, blobs, gradients,
stripes, text: class 10, "not a known object"), exported by the model-version contract exactly
as a shipped open-set version: model.tflite whose last output column is "not a known object",
metadata.json with `open_set` (threshold chosen on held-out validation images) and reference inputs.
It is a test fixture, not a model to serve: its accuracy is a linear model's (~0.8).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

from app.model import Classifier, load_classifier
from app.model_version import (
    METADATA_FILE,
    REFERENCE_COUNT,
    TFLITE_FILE,
    ModelMetadata,
    make_references,
    sha256_file,
)
from app.preprocessing import INPUT_SPEC, LABELS, PREPROCESSING, prepare_batch
from training.data import load_fashion_mnist

TARGET = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "open-set" / "1"
SEED = 7
KEEP_GARMENTS = 0.95  # the threshold keeps this share of validation garments


def non_garment(rng: np.random.Generator) -> np.ndarray:
    """One 28x28 light-on-black non-garment: noise, a blob, a gradient, stripes or text."""
    kind = rng.integers(5)
    if kind == 0:
        return rng.integers(0, 256, (28, 28), dtype=np.uint8)
    ys, xs = np.mgrid[0:28, 0:28].astype(np.float32)
    if kind == 1:
        cy, cx, r = rng.uniform(6, 22), rng.uniform(6, 22), rng.uniform(2, 7)
        return (255 * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r * r))).astype(np.uint8)
    if kind == 2:
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * xs + np.sin(angle) * ys
        return (255 * (ramp - ramp.min()) / np.ptp(ramp)).astype(np.uint8)
    if kind == 3:
        period = rng.integers(3, 8)
        lines = (xs if rng.random() < 0.5 else ys) % period < period / 2
        return (lines * rng.integers(120, 256)).astype(np.uint8)
    image = Image.new("L", (28, 28))
    text = "".join(rng.choice(list("ABCXYZ0123456789hello?!"), size=rng.integers(1, 4)))
    ImageDraw.Draw(image).text(
        (rng.integers(0, 10), rng.integers(0, 14)), text, fill=255, font=ImageFont.load_default()
    )
    return np.asarray(image)


def main() -> None:
    rng = np.random.default_rng(SEED)
    data = load_fashion_mnist(download=False)
    order = rng.permutation(len(data.x_train))
    garments, labels = data.x_train[order[:14000]], data.y_train[order[:14000]].astype(np.int64)
    negatives = np.stack([non_garment(rng) for _ in range(5000)])
    x = np.concatenate([garments[:12000], negatives[:4000]])
    y = np.concatenate([labels[:12000], np.full(4000, 10)])
    shuffle = rng.permutation(len(x))
    x, y = x[shuffle], y[shuffle]

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    outputs = keras.layers.Dense(11, activation="softmax", name="probabilities")(
        keras.layers.Flatten()(inputs)
    )
    model = keras.Model(inputs, outputs, name="open_set_test")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(prepare_batch(x), y, epochs=8, batch_size=256, verbose=0)

    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, format="tf_saved_model", verbose=False)
        tflite = bytes(tf.lite.TFLiteConverter.from_saved_model(saved).convert())

    tmp = Path(tempfile.mkdtemp())
    tmp.chmod(0o755)  # mkdtemp makes it private
    (tmp / TFLITE_FILE).write_bytes(tflite)
    provisional = ModelMetadata.model_construct(name="open-set", version=1, labels=list(LABELS))
    classifier = Classifier(tmp, provisional, tflite)
    val_garments, val_labels, val_negatives = garments[12000:], labels[12000:], negatives[4000:]
    garment_scores = 1.0 - classifier.predict(prepare_batch(val_garments))[:, -1]
    threshold = float(np.quantile(garment_scores, 1.0 - KEEP_GARMENTS))
    negative_scores = 1.0 - classifier.predict(prepare_batch(val_negatives))[:, -1]
    accuracy = float((classifier.predict(prepare_batch(val_garments))[:, :-1].argmax(1) == val_labels).mean())
    flagged = float((negative_scores < threshold).mean())
    references = (
        val_garments[: REFERENCE_COUNT // 2].tolist() + val_negatives[: REFERENCE_COUNT // 2].tolist()
    )
    reference_pixels = np.asarray(references, np.uint8)
    metadata = {
        "name": "open-set",
        "version": 1,
        "labels": list(LABELS),
        "input": INPUT_SPEC,
        "preprocessing": PREPROCESSING,
        "output": "float32 (N, 11): the ten classes' probabilities, then 'not a known object'",
        "metrics": {
            "validation": {"accuracy": round(accuracy, 4), "non_garments_flagged": round(flagged, 4)}
        },
        "open_set": {
            "method": "background_class",
            "threshold": threshold,
            "chosen_on": f"{len(val_garments)} held-out training garments: keeps {KEEP_GARMENTS:.0%} of them",
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training": {"command": "python scripts/make_open_set_test_model.py", "note": "a test fixture"},
        "artifacts": {TFLITE_FILE: sha256_file(tmp / TFLITE_FILE)},
        "references": make_references(
            reference_pixels,
            classifier.predict(prepare_batch(reference_pixels)),
            "8 held-out training garments and 8 drawn non-garments",
        ).model_dump(),
    }
    ModelMetadata.model_validate(metadata)
    (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=1))
    shutil.rmtree(TARGET, ignore_errors=True)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(tmp, TARGET)
    load_classifier(TARGET)
    print(f"{TARGET}: accuracy {accuracy:.3f}, threshold {threshold:.3f}, non-garments flagged {flagged:.3f}")


if __name__ == "__main__":
    main()
