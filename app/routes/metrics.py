"""GET /metrics: Prometheus exposition of every worker's metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.metrics import render

router = APIRouter(tags=["service"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics() -> Response:
    """Prometheus text format; in multiprocess mode, the sum over all workers.

    classifier_model_info is set by the model repository as versions come and go.
    """
    body, content_type = render()
    return Response(body, media_type=content_type)
