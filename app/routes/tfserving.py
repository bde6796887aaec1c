"""TensorFlow Serving REST API (v1) routes: thin adapters over the one prediction path.

Errors are `{"error": ...}` (app/envelopes.py rewrites the native envelope under /v1).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from app import tfserving
from app.deps import ModelsDep, SettingsDep
from app.inference import all_or_error, classify_tensor, classify_uploads
from app.routes.oip import ERRORS, resolve
from app.tensors import check_count

router = APIRouter(prefix="/v1/models", tags=["TensorFlow Serving REST API v1"])

PREDICT_BODY = {
    "requestBody": {
        "description": '{"instances": [...]} (row format) or {"inputs": ...} (columnar format)',
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


# :predict first: the status routes' {name} and {version} would also match "x:predict", and the router
# answers an unsupported method with the Allow header of the first route whose path matches.
@router.post("/{name}:predict", summary="Predict", responses=ERRORS, openapi_extra=PREDICT_BODY)
@router.post(
    "/{name}/versions/{version}:predict",
    summary="Predict (one version)",
    responses=ERRORS,
    openapi_extra=PREDICT_BODY,
)
async def predict(
    request: Request, models: ModelsDep, settings: SettingsDep, name: str, version: str | None = None
) -> dict[str, object]:
    """Float tensors or {"b64": ...} encoded images in; one object of named outputs per image out."""
    classifier = resolve(models, name, version)
    body = tfserving.parse_predict(await request.body())
    check_count(body.count, settings.max_batch_files)
    if body.tensor is not None:
        predictions = await classify_tensor(classifier, body.tensor)
    else:
        outcomes = await classify_uploads(classifier, body.images, "auto", settings.decode_limits)
        predictions = all_or_error(outcomes)
    request.state.outcomes = predictions
    return tfserving.predict_response(body, predictions)


@router.get("/{name}", summary="Model status", responses=ERRORS)
@router.get("/{name}/versions/{version}", summary="Model status (one version)", responses=ERRORS)
async def model_status(models: ModelsDep, name: str, version: str | None = None) -> dict[str, object]:
    classifier = resolve(models, name, version)
    versions = sorted(models.models().get(name, {})) if version is None else [classifier.version]
    return tfserving.version_status(versions)


@router.get("/{name}/metadata", summary="Model metadata", responses=ERRORS)
@router.get("/{name}/versions/{version}/metadata", summary="Model metadata (one version)", responses=ERRORS)
async def model_metadata(models: ModelsDep, name: str, version: str | None = None) -> dict[str, object]:
    return tfserving.metadata(resolve(models, name, version))
