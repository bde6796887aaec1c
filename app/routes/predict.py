"""POST /predict and /predict/batch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile

from app.config import Settings
from app.deps import get_app_settings, get_classifier
from app.inference import classify, classify_batch
from app.model import Classifier
from app.schemas import BatchItem, BatchPrediction, ErrorResponse, ModelRef, Prediction, PreprocessMode

router = APIRouter(tags=["predict"])

ERRORS = {
    400: {"model": ErrorResponse, "description": "not a decodable PNG/JPEG/WebP/GIF/BMP/TIFF image"},
    413: {"model": ErrorResponse, "description": "body over the byte limit or image over the pixel limit"},
}
Mode = Annotated[PreprocessMode, Query(description="auto: raw for data-set-like images, photo otherwise")]
ReturnInput = Annotated[bool, Query(description="include the 28x28 image the model saw, as base64 PNG")]


@router.post("/predict", response_model=Prediction, responses=ERRORS)  # type: ignore[arg-type]
async def predict(
    request: Request,
    file: Annotated[UploadFile, File(description="the image: PNG, JPEG, WebP, GIF, BMP or TIFF")],
    classifier: Annotated[Classifier, Depends(get_classifier)],
    settings: Annotated[Settings, Depends(get_app_settings)],
    preprocess: Mode = "auto",
    return_input: ReturnInput = False,
) -> Prediction:
    """Classify one garment image."""
    data = await file.read()
    prediction = await classify(classifier, data, preprocess, settings.decode_limits, return_input)
    request.state.outcomes = [prediction]  # for the log line and metrics (app.observability)
    return prediction


@router.post("/predict/batch", response_model=BatchPrediction, responses=ERRORS)  # type: ignore[arg-type]
async def predict_batch(
    request: Request,
    files: Annotated[list[UploadFile], File(description="up to MAX_BATCH_FILES images")],
    classifier: Annotated[Classifier, Depends(get_classifier)],
    settings: Annotated[Settings, Depends(get_app_settings)],
    preprocess: Mode = "auto",
    return_input: ReturnInput = False,
) -> BatchPrediction:
    """Classify several images in one batched inference; a bad file gets its own error entry."""
    if len(files) > settings.max_batch_files:
        raise HTTPException(413, f"{len(files)} files; the limit is {settings.max_batch_files} per request")
    uploads = [await f.read() for f in files]
    outcomes = await classify_batch(classifier, uploads, preprocess, settings.decode_limits, return_input)
    request.state.outcomes = outcomes
    results = [
        BatchItem(index=i, filename=f.filename, prediction=o)
        if isinstance(o, Prediction)
        else BatchItem(index=i, filename=f.filename, error=str(o), status_code=o.status_code)
        for i, (f, o) in enumerate(zip(files, outcomes, strict=True))
    ]
    return BatchPrediction(model=ModelRef(name=classifier.name, version=classifier.version), results=results)
