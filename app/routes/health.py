"""GET /health and /model-info."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from app.deps import get_classifier
from app.model import Classifier
from app.schemas import Health, ModelInfo, ModelRef

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> Health | JSONResponse:
    """200 when the model is loaded and passed its self-check; 503 otherwise."""
    classifier: Classifier | None = getattr(request.app.state, "classifier", None)
    if classifier is None:
        body = Health(status="unavailable", detail="model not loaded")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", model=ModelRef(name=classifier.name, version=classifier.version))


@router.get("/model-info", response_model=ModelInfo)
async def model_info(classifier: Annotated[Classifier, Depends(get_classifier)]) -> ModelInfo:
    """Name, version, labels, input spec, preprocessing, metrics, creation time and runtime."""
    meta = classifier.metadata
    return ModelInfo(
        name=classifier.name,
        version=classifier.version,
        labels=classifier.labels,
        input=meta.input,
        preprocessing=meta.preprocessing,
        metrics=meta.metrics,
        created=meta.created,
        runtime=classifier.runtime,
        report="/model-report" if (classifier.directory / "report.md").is_file() else None,
    )
