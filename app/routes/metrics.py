"""GET /metrics: Prometheus exposition of every worker's metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.metrics import MODEL_INFO, render
from app.model import Classifier

router = APIRouter(tags=["service"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format; in multiprocess mode, the sum over all workers."""
    classifier: Classifier | None = getattr(request.app.state, "classifier", None)
    if classifier is not None:
        MODEL_INFO.labels(classifier.name, str(classifier.version)).set(1)
    body, content_type = render()
    return Response(body, media_type=content_type)
