"""KServe Open Inference Protocol (v2) REST routes: thin adapters over the one prediction path.

Bodies are read raw (no Content-Type needed: the Triton client sends none) and decoded by app/oip.py.
Errors are `{"error": ...}` (app/envelopes.py rewrites the native envelope under /v2).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app import oip
from app.config import Settings
from app.deps import ModelsDep, SettingsDep
from app.inference import all_or_error, classify_tensor, classify_uploads
from app.model import Classifier
from app.repository import ModelRepository, UnknownModel
from app.schemas import Prediction
from app.tensors import check_count

router = APIRouter(prefix="/v2", tags=["KServe Open Inference Protocol v2"])

SERVER_NAME = "fashion-mnist-service"
SERVER_VERSION = "1.0.0"
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": 'malformed request: {"error": "..."}'},
    404: {"description": 'no such model or version: {"error": "..."}'},
    413: {
        "description": 'body over the batch byte limit, or more images than MAX_BATCH_FILES: {"error": "..."}'
    },
}


MAX_VERSION_DIGITS = 9


def is_version_number(text: str) -> bool:
    """Digits only, and few enough to be a version (int() of thousands of digits raises)."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_VERSION_DIGITS


def version_number(version: str) -> int:
    if not is_version_number(version):
        raise UnknownModel(f"model version {version[:20]!r} is not a version number")
    return int(version)


def resolve(models: ModelRepository, name: str, version: str | None) -> Classifier:
    """A model by name and a version by its path segment (the newest when None); 404 otherwise."""
    return models.get(name, None if version is None else version_number(version))


@router.get("", summary="Server metadata")
async def server_metadata() -> dict[str, object]:
    return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": oip.EXTENSIONS}


@router.get("/health/live", summary="Server live")
async def server_live() -> dict[str, bool]:
    return {"live": True}


@router.get(
    "/health/ready", summary="Server ready", responses={503: {"description": "default model not loaded"}}
)
async def server_ready(models: ModelsDep) -> JSONResponse:
    ready = models.is_ready()
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


@router.get("/models/{name}", summary="Model metadata", responses=ERRORS)
@router.get("/models/{name}/versions/{version}", summary="Model metadata (one version)", responses=ERRORS)
async def model_metadata(models: ModelsDep, name: str, version: str | None = None) -> dict[str, object]:
    classifier = resolve(models, name, version)
    versions = sorted(models.models().get(name, {})) if version is None else [classifier.version]
    return oip.model_metadata(name, versions, classifier)


@router.get("/models/{name}/ready", summary="Model ready", responses=ERRORS)
@router.get("/models/{name}/versions/{version}/ready", summary="Model ready (one version)", responses=ERRORS)
async def model_ready(models: ModelsDep, name: str, version: str | None = None) -> dict[str, object]:
    classifier = resolve(models, name, version)
    return {"name": name, "version": str(classifier.version), "ready": True}


INFER_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERRORS,
    200: {
        "description": "the outputs: JSON, or a JSON header followed by binary tensors",
        "content": {"application/json": {"schema": {"type": "object"}}, "application/octet-stream": {}},
    },
}
INFER_BODY = {
    "requestBody": {
        "description": "an inference request (JSON), or its JSON header followed by binary tensors",
        "content": {"application/json": {"schema": {"type": "object"}}, "application/octet-stream": {}},
    }
}


@router.post("/models/{name}/infer", summary="Inference", responses=INFER_RESPONSES, openapi_extra=INFER_BODY)
@router.post(
    "/models/{name}/versions/{version}/infer",
    summary="Inference (one version)",
    responses=INFER_RESPONSES,
    openapi_extra=INFER_BODY,
)
async def infer(
    request: Request, models: ModelsDep, settings: SettingsDep, name: str, version: str | None = None
) -> Response:
    """FP32 [N, 28, 28, 1] tensors or BYTES encoded images in; probabilities and garment fields out."""
    classifier = resolve(models, name, version)
    predictions, body, header_length = await run_inference(
        classifier, settings, await request.body(), request.headers.get(oip.HEADER_LENGTH)
    )
    request.state.outcomes = predictions
    if header_length is None:
        return Response(body, media_type="application/json")
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(header_length)},
    )


async def run_inference(
    classifier: Classifier, settings: Settings, body: bytes, header_length: str | None
) -> tuple[list[Prediction], bytes, int | None]:
    """One infer request: its predictions, the answer's body, and its JSON header's length when
    binary tensors follow (None: the body is all JSON)."""
    inference = oip.parse_request(body, header_length)
    check_count(inference.count, settings.max_batch_files)
    if inference.tensor is not None:
        predictions = await classify_tensor(classifier, inference.tensor)
    else:
        outcomes = await classify_uploads(
            classifier, inference.images, inference.preprocess, settings.decode_limits
        )
        predictions = all_or_error(outcomes)
    answer, answer_header_length = oip.encode_response(classifier, inference, predictions)
    return predictions, answer, answer_header_length
