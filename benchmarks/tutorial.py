"""The tutorial way to serve a Keras model: `model.predict` on every request, in the handler.

`uvicorn benchmarks.tutorial:app`. Serves our own latest model.keras (MODEL_DIR /
MODEL_VERSION as the service reads them) with the same upload parsing and decoding as the
service, so the difference to the service is the inference runtime and how it is called.
"""

from __future__ import annotations

from typing import Annotated, Any

import keras
import numpy as np
from fastapi import FastAPI, File, UploadFile

import training.export  # noqa: F401  (registers the HorizontalFlip layer that model.keras uses)
from app.config import get_settings
from app.imaging import prepare_image
from app.model import resolve_version_dir
from app.preprocessing import LABELS, prepare_batch

settings = get_settings()
model = keras.models.load_model(
    resolve_version_dir(settings.model_dir, settings.model_version) / "model.keras"
)
app = FastAPI(title="tutorial-style Keras server")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
async def predict(file: Annotated[UploadFile, File()], preprocess: str = "auto") -> dict[str, Any]:
    data = await file.read()
    batch = prepare_batch(prepare_image(data, preprocess, settings.max_image_pixels).pixels)
    probabilities = model.predict(batch, verbose=0)[0]
    class_id = int(np.argmax(probabilities))
    return {
        "class_id": class_id,
        "label": LABELS[class_id],
        "confidence": float(probabilities[class_id]),
        "probabilities": probabilities.tolist(),
    }
