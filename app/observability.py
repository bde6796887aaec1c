"""ASGI middleware that gives every request an id, a JSON log line and its Prometheus metrics.

Handlers tell it what they classified by setting `request.state.outcomes` to a list of
`Prediction`s (or, for a batch, `Prediction | ImageError` per file), for the log line and the
count of refused batch files; it never reads bodies. Predictions are counted where they are made.
Per-request cost is kept to a few microseconds of bookkeeping plus the log write: label
children are cached, and the log line is built only when its level is enabled
(`python -m benchmarks.observability` measures it).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.imaging import ImageError
from app.limits import path_in_app
from app.metrics import ERRORS, LATENCY, REQUESTS, UPLOAD_BYTES, CachedLabels
from app.schemas import Prediction

REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(rb"[\w.:/+=@-]{1,128}")  # anything else is replaced by a fresh id
UNMATCHED = "<unmatched>"  # the route label of URLs no route serves: raw paths would explode the series
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ERROR_KINDS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "validation",
    500: "internal",
    503: "unavailable",
}

access_log = logging.getLogger("app.access")
logger = logging.getLogger("app.observability")


def error_kind(status: int) -> str:
    return ERROR_KINDS.get(status, f"http_{status}")


def route_template(scope: Scope, path: str, root_path: str) -> str:
    """The matched route's path template ("/model-report/{name}"), never the raw URL."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    if isinstance(template, str):
        return template
    # Mounts, and requests answered before routing (the body limit), leave no route in the scope.
    routes = getattr(getattr(scope.get("app"), "router", None), "routes", ())
    return find_template(routes, path_in_app(path, root_path), scope["method"]) or UNMATCHED


def find_template(routes: Iterable[Any], path: str, method: str) -> str | None:
    """The template of the first route that serves `path`, looking inside included routers."""
    probe = {"type": "http", "path": path, "root_path": "", "method": method}
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI keeps included routers whole
        if inner is not None:
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            if path.startswith(prefix) and (
                found := find_template(inner.routes, path[len(prefix) :], method)
            ):
                return prefix + found
        elif route.matches(probe)[0] is not Match.NONE:
            template = getattr(route, "path_format", None)
            return template if isinstance(template, str) else None
    return None


requests_total = CachedLabels(REQUESTS)
latency = CachedLabels(LATENCY)
upload_bytes = CachedLabels(UPLOAD_BYTES)
errors_total = CachedLabels(ERRORS)


class RequestObservability:
    """Request id in and out, latency, status, upload bytes and outcomes -> metrics and one log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path, root_path = scope["path"], scope.get("root_path", "")
        request_id = incoming_request_id(scope) or os.urandom(16).hex().encode()
        status = 500  # what the server sends when the app raises before answering
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id)],
                }
            await send(message)

        error: BaseException | None = None
        try:
            await self.app(scope, counting_receive, send_with_id)
        except BaseException as exception:
            error = exception
            raise
        finally:
            try:
                record(
                    scope, path, root_path, request_id, status, time.perf_counter() - start, received, error
                )
            except Exception:  # observability must never turn an answered request into an error
                logger.exception("recording request %s failed", request_id)


def incoming_request_id(scope: Scope) -> bytes | None:
    """The client's X-Request-ID when it is a sane token (it is echoed in a header and logged)."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return value if VALID_REQUEST_ID.fullmatch(value) else None
    return None


def record(
    scope: Scope,
    path: str,
    root_path: str,
    request_id: bytes,
    status: int,
    seconds: float,
    received: int,
    error: BaseException | None,
) -> None:
    """Count the request in the metrics and write its log line."""
    route = route_template(scope, path, root_path)
    method = scope["method"] if scope["method"] in METHODS else "OTHER"
    status_text = str(status)
    requests_total.labels(route, method, status_text).inc()
    latency.labels(route, method, status_text).observe(seconds)
    if received or method in ("POST", "PUT", "PATCH"):
        upload_bytes.labels(route).observe(received)
    if status >= 400:
        errors_total.labels(route, error_kind(status)).inc()
    state = scope.get("state")
    outcomes = state.get("outcomes") if state else None
    predictions: list[Prediction] = []
    for outcome in outcomes or ():
        if isinstance(outcome, Prediction):  # counted in app.inference, where it was made
            predictions.append(outcome)
        elif isinstance(outcome, ImageError):  # a refused file inside a batch
            errors_total.labels(route, error_kind(outcome.status_code)).inc()

    level = logging.ERROR if status >= 500 else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    fields: dict[str, object] = {
        "request_id": request_id.decode("ascii", "replace"),
        "method": scope["method"],
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "bytes_in": received,
    }
    if outcomes and len(outcomes) == 1 and predictions:
        only = predictions[0]
        fields |= {"class_id": only.class_id, "label": only.label, "preprocess": only.preprocess}
        fields["confidence"] = round(only.confidence, 4)
    elif outcomes:
        fields["labels"] = [o.label if isinstance(o, Prediction) else None for o in outcomes]
    if error is not None:
        fields["error"] = type(error).__name__
    # makeRecord + handle, not access_log.log(): log() looks up the caller's file and line by
    # walking the stack, a third of a request line's cost, and the answer is always this line.
    line = access_log.makeRecord(access_log.name, level, "", 0, "request", (), None, extra={"fields": fields})
    access_log.handle(line)
