"""Bytes in, predictions out: the work one request does off the event loop (no HTTP here)."""

from __future__ import annotations

import base64

import numpy as np

from app.imaging import ImageError, PreparedImage, encode_png, prepare_image
from app.model import Classifier
from app.preprocessing import prepare_batch
from app.schemas import ModelRef, Prediction


def to_prediction(
    classifier: Classifier, probabilities: np.ndarray, prepared: PreparedImage, return_input: bool
) -> Prediction:
    """One row of probabilities -> the response model."""
    class_id = int(np.argmax(probabilities))
    return Prediction(
        class_id=class_id,
        label=classifier.labels[class_id],
        confidence=float(probabilities[class_id]),
        probabilities=[float(p) for p in probabilities],
        preprocess=prepared.mode,  # type: ignore[arg-type]
        model=ModelRef(name=classifier.name, version=classifier.version),
        input_png=base64.b64encode(encode_png(prepared.pixels)).decode() if return_input else None,
    )


def classify_one(
    classifier: Classifier, data: bytes, mode: str, max_pixels: int, return_input: bool
) -> Prediction:
    """Decode, prepare and classify one upload (raises ImageError for the client's mistakes)."""
    prepared = prepare_image(data, mode, max_pixels)
    probabilities = classifier.predict(prepare_batch(prepared.pixels))[0]
    return to_prediction(classifier, probabilities, prepared, return_input)


def classify_many(
    classifier: Classifier, uploads: list[bytes], mode: str, max_pixels: int, return_input: bool
) -> list[Prediction | ImageError]:
    """Decode every upload, classify the good ones in one batched inference, keep upload order."""
    prepared: list[PreparedImage | ImageError] = []
    for data in uploads:
        try:
            prepared.append(prepare_image(data, mode, max_pixels))
        except ImageError as error:
            prepared.append(error)
    good = [p for p in prepared if isinstance(p, PreparedImage)]
    probabilities = classifier.predict(prepare_batch(np.stack([p.pixels for p in good]))) if good else []
    rows = iter(probabilities)
    return [
        to_prediction(classifier, next(rows), p, return_input) if isinstance(p, PreparedImage) else p
        for p in prepared
    ]
