"""GET /health and /model-info."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.deps import ClassifierDep, ModelsDep
from app.model import Classifier
from app.model_version import REPORT_FILE
from app.repository import ModelRepository
from app.schemas import Health, ModelInfo, ModelRef, ModelVersions, RefusedVersion, VersionInfo

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> Health | JSONResponse:
    """200 when the default model has a verified version loaded; 503 otherwise."""
    models: ModelRepository | None = getattr(request.app.state, "models", None)
    if models is None or not models.is_ready():
        body = Health(status="unavailable", detail="model not loaded")
        return JSONResponse(body.model_dump(), status_code=503)
    classifier = models.get()
    return Health(status="ok", model=ModelRef(name=classifier.name, version=classifier.version))


def version_info(classifier: Classifier) -> VersionInfo:
    open_set = classifier.metadata.open_set
    return VersionInfo(
        version=classifier.version,
        created=classifier.metadata.created,
        metrics=classifier.metadata.metrics,
        open_set=open_set.model_dump() if open_set else None,
    )


@router.get("/model-info", response_model=ModelInfo)
async def model_info(classifier: ClassifierDep, models: ModelsDep) -> ModelInfo:
    """The default model's served version, then every loaded model and version, and refused versions."""
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
        report="/model-report" if (classifier.directory / REPORT_FILE).is_file() else None,
        garment_threshold=classifier.threshold,
        models=[
            ModelVersions(
                name=name,
                default_version=max(versions) if versions else None,
                versions=[version_info(versions[v]) for v in sorted(versions)],
            )
            for name, versions in sorted(models.models().items())
        ],
        refused=[
            RefusedVersion(
                name=r.name,
                version=r.version,
                error=r.error,
                refused_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r.time)),
            )
            for r in models.refusals()
        ],
    )
