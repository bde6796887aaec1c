"""POST /predict and /predict/batch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError

from app.config import Settings
from app.deps import ClassifierDep, NamedClassifierDep, SettingsDep
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
Upload = Annotated[
    UploadFile | None,
    File(
        description="the image: PNG, JPEG, WebP, GIF, BMP or TIFF (or send the image itself as the body, "
        "with Content-Type image/png, image/jpeg, ...)"
    ),
]
# The second door: the image as the whole body, no multipart (what other frameworks' users send).
RAW_BODY_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")
RAW_BODY = {  # merged into the route's OpenAPI operation beside the multipart form
    "requestBody": {
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in RAW_BODY_TYPES}
    }
}
Uploads = Annotated[list[UploadFile], File(description="up to MAX_BATCH_FILES images")]
NAMED_ERRORS = {
    **ERRORS,
    404: {"model": ErrorResponse, "description": "no such model, or no such loaded version"},
}


@router.post("/predict", response_model=Prediction, responses=ERRORS, openapi_extra=RAW_BODY)  # type: ignore[arg-type]
async def predict(
    request: Request,
    classifier: ClassifierDep,
    settings: SettingsDep,
    file: Upload = None,
    preprocess: Mode = "auto",
    return_input: ReturnInput = False,
) -> Prediction:
    """Classify one garment image with the default model's newest version.

    The image is a multipart form's `file` field, or the whole body with an image Content-Type
    (`curl --data-binary @boot.png -H "Content-Type: image/png"`).
    """
    return await predict_one(request, file, classifier, settings, preprocess, return_input)


@router.post("/predict/batch", response_model=BatchPrediction, responses=ERRORS)  # type: ignore[arg-type]
async def predict_batch(
    request: Request,
    files: Uploads,
    classifier: ClassifierDep,
    settings: SettingsDep,
    preprocess: Mode = "auto",
    return_input: ReturnInput = False,
) -> BatchPrediction:
    """Classify several images in one batched inference; a bad file gets its own error entry."""
    return await predict_many(request, files, classifier, settings, preprocess, return_input)


@router.post(
    "/models/{name}/predict",
    response_model=Prediction,
    responses=NAMED_ERRORS,  # type: ignore[arg-type]
    openapi_extra=RAW_BODY,
)
@router.post(
    "/models/{name}/versions/{version}/predict",
    response_model=Prediction,
    responses=NAMED_ERRORS,  # type: ignore[arg-type]
    openapi_extra=RAW_BODY,
)
async def predict_named(
    request: Request,
    classifier: NamedClassifierDep,
    settings: SettingsDep,
    file: Upload = None,
    preprocess: Mode = "auto",
    return_input: ReturnInput = False,
) -> Prediction:
    """/predict with a model chosen by name, and a version by number (default: its newest)."""
    return await predict_one(request, file, classifier, settings, preprocess, return_input)


@router.post(
    "/models/{name}/predict/batch",
    response_model=BatchPrediction,
    responses=NAMED_ERRORS,  # type: ignore[arg-type]
)
@router.post(
    "/models/{name}/versions/{version}/predict/batch",
    response_model=BatchPrediction,
    responses=NAMED_ERRORS,  # type: ignore[arg-type]
)
async def predict_batch_named(
    request: Request,
    files: Uploads,
    classifier: NamedClassifierDep,
    settings: SettingsDep,
    preprocess: Mode = "auto",
    return_input: ReturnInput = False,
) -> BatchPrediction:
    """/predict/batch with a model chosen by name, and a version by number (default: its newest)."""
    return await predict_many(request, files, classifier, settings, preprocess, return_input)


def is_image_body(content_type: str) -> bool:
    """Whether a Content-Type declares the body to be the image itself (the raw-body door)."""
    return content_type.partition(";")[0].strip().lower() in RAW_BODY_TYPES


async def upload_bytes(request: Request, file: UploadFile | None) -> bytes:
    """The multipart `file`, or the body itself when its Content-Type is an image type."""
    if file is not None:
        return await file.read()
    if is_image_body(request.headers.get("content-type", "")):
        return await request.body()
    # as FastAPI answers a form without its required field
    raise RequestValidationError(
        [{"type": "missing", "loc": ("body", "file"), "msg": "Field required", "input": None}]
    )


async def predict_one(
    request: Request,
    file: UploadFile | None,
    classifier: Classifier,
    settings: Settings,
    preprocess: str,
    return_input: bool,
) -> Prediction:
    data = await upload_bytes(request, file)
    prediction = await classify(classifier, data, preprocess, settings.decode_limits, return_input)
    request.state.outcomes = [prediction]  # for the log line (app.observability)
    return prediction


async def predict_many(
    request: Request,
    files: list[UploadFile],
    classifier: Classifier,
    settings: Settings,
    preprocess: str,
    return_input: bool,
) -> BatchPrediction:
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
