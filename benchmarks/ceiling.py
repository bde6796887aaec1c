"""The framework ceiling: FastAPI's upload parsing, our decoding and pixel scaling, no model.

`uvicorn benchmarks.ceiling:app`. The handler does everything /predict does except
inference and shaping the answer, and returns a constant prediction of the same size,
so its throughput is the most any FastAPI service can reach on this machine for these uploads.
`/predict/raw` takes the image as the request body instead of a multipart form: the difference
between the two is what FastAPI's form parsing and UploadFile cost. The v2 infer path parses an Open
Inference Protocol request with the service's own parser and prepares its tensor or image the same way.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import FastAPI, File, Request, Response, UploadFile

from app.config import get_settings
from app.imaging import prepare_image
from app.oip import HEADER_LENGTH, parse_request
from app.preprocessing import LABELS, prepare_batch
from benchmarks.uploads import V2_PATH

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

# A real v2 infer answer's shape and size (JSON outputs), serialised once.
CONSTANT_V2_ANSWER = json.dumps(
    {
        "model_name": "fashion-mnist",
        "model_version": "4",
        "outputs": [
            {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": [1, 10],
                "data": [0.002087345] * 9 + [0.98],
            },
            {"name": "label", "datatype": "BYTES", "shape": [1], "data": [LABELS[9]]},
            {"name": "is_garment", "datatype": "BOOL", "shape": [1], "data": [True]},
            {"name": "garment_score", "datatype": "FP32", "shape": [1], "data": [0.9991234]},
            {"name": "reason", "datatype": "BYTES", "shape": [1], "data": [""]},
        ],
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


@app.post("/predict/raw")
async def predict_raw(request: Request, preprocess: str = "auto") -> Response:
    """The same without multipart: the image is the body (Content-Type image/png), as a raw-body door."""
    data = await request.body()
    prepare_batch(prepare_image(data, preprocess, max_pixels).pixels)
    return Response(CONSTANT_ANSWER, media_type="application/json")


@app.post(V2_PATH)
async def infer(request: Request) -> Response:
    """A v2 infer request, parsed; its FP32 tensor taken as is, or its image prepared like an upload."""
    inference = parse_request(await request.body(), request.headers.get(HEADER_LENGTH))
    if inference.tensor is None:
        prepare_batch(prepare_image(inference.images[0], inference.preprocess, max_pixels).pixels)
    return Response(CONSTANT_V2_ANSWER, media_type="application/json")
