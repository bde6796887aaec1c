"""Prometheus metrics of the service, right with one worker or several.

With several worker processes (`uvicorn --workers N`), set `PROMETHEUS_MULTIPROC_DIR` to an empty
directory on a writable filesystem (a tmpfs such as /tmp in the read-only container): every worker
writes its values there and /metrics adds them up, whichever worker answers the scrape. Unset, the
values live in this process's registry: right for one worker. prometheus_client reads the variable
when it is imported, so it must be set before the server starts, never from inside the app.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BYTES_BUCKETS = tuple(float(1 << shift) for shift in range(8, 27, 2))  # 256 B .. 64 MiB, x4 steps

REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route template, method and status", ["route", "method", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the end of the response, by route template, method and status",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
UPLOAD_BYTES = Histogram(
    "http_request_body_bytes",
    "Request body bytes received, by route template",
    ["route"],
    buckets=BYTES_BUCKETS,
)
PREDICTIONS = Counter(
    "classifier_predictions_total",
    "Classified images by model, version and predicted class",
    ["model", "version", "label"],
)
PREPROCESS = Counter(
    "classifier_preprocess_total",
    "Classified images by model, version and preparation (raw, photo, or tensor: sent ready-made)",
    ["model", "version", "mode"],
)
ABSTENTIONS = Counter(
    "classifier_abstentions_total",
    "Predictions that say the image is not a garment, by model, version and reason (no_object, not_garment)",
    ["model", "version", "reason"],
)
REFUSALS = Counter(
    "classifier_model_refusals_total",
    "Model version directories refused at load (corrupt, incomplete, altered), by model and version",
    ["model", "version"],
)
ERRORS = Counter(
    "classifier_errors_total",
    "Error responses, and refused files inside a batch, by route template and kind",
    ["route", "kind"],
)
OUT_OF_MEMORY = Counter(
    "classifier_out_of_memory_total", "Requests answered 503 because handling them ran out of memory"
)
MODEL_INFO = Gauge(
    "classifier_model_info",
    "1 for each model version being served, 0 once removed",
    ["name", "version"],
    multiprocess_mode="max",
)

logger = logging.getLogger("app.metrics")


class CachedLabels:
    """A metric's `labels()` with a dict in front: prometheus_client's takes a lock and builds a
    tuple of str() per call (~1.5 us); every label here has a small, fixed set of values."""

    def __init__(self, metric: MetricWrapperBase) -> None:
        self.metric = metric
        self.children: dict[tuple[str, ...], Any] = {}

    def labels(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = self.metric.labels(*values)
        return child


def multiprocess_dir() -> Path | None:
    """The shared directory of multiprocess mode, or None in single-process mode."""
    value = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
    return Path(value) if value else None


def check_mode() -> None:
    """Create the multiprocess directory if needed; warn when a worker process has none."""
    directory = multiprocess_dir()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    elif multiprocessing.parent_process() is not None:  # uvicorn --workers and --reload spawn children
        logger.warning(
            "%s is not set in a worker process: with several workers, /metrics shows only the worker "
            "that answers the scrape",
            MULTIPROC_ENV,
        )


def render() -> tuple[bytes, str]:
    """The exposition text of every worker's metrics, and its content type."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
