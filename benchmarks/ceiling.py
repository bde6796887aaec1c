"""The framework ceiling: FastAPI's upload parsing, our decoding and pixel scaling, no model.

`uvicorn benchmarks.ceiling:app`. The handler does everything /predict does except
inference and shaping the answer, and returns a constant prediction of the same size,
so its throughput is the most any FastAPI service can reach on this machine for these uploads.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import FastAPI, File, Response, UploadFile

from app.config import get_settings
from app.imaging import prepare_image
from app.preprocessing import LABELS, prepare_batch

# A real /predict answer's shape and size, serialised once.
CONSTANT_ANSWER = json.dumps(
    {
        "class_id": 9,
        "label": LABELS[9],
        "confidence": 0.9812345,
        "probabilities": [0.002087345] * 9 + [0.9812345],
        "preprocess": "raw",
        "model": {"name": "fashion-mnist", "version": 1},
        "input_png": None,
    }
).encode()

app = FastAPI(title="framework ceiling")
max_pixels = get_settings().max_image_pixels


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
async def predict(file: Annotated[UploadFile, File()], preprocess: str = "auto") -> Response:
    data = await file.read()
    prepare_batch(prepare_image(data, preprocess, max_pixels).pixels)
    return Response(CONSTANT_ANSWER, media_type="application/json")
