"""Helpers for tests: image files from arrays, the app over real HTTP, observed predictions, modules run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from PIL import Image

from app.config import REPO_ROOT
from app.deps import get_classifier
from app.model import Classifier
from benchmarks.uvicorn_process import free_port, running_uvicorn


def image_bytes(pixels: np.ndarray, format: str = "PNG", **options: object) -> bytes:
    """Encode a uint8 array (H, W) or (H, W, C) in the given Pillow format."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **options)
    return buffer.getvalue()


@contextmanager
def running_server(
    *uvicorn_args: str, env: dict[str, str] | None = None, log: Path | None = None, timeout: float = 120
) -> Iterator[str]:
    """Serve the real app with uvicorn in a subprocess (a real HTTP server); yield its base URL.

    stdout and stderr go to `log` (a temporary file if None). Fails, with the log's tail, when
    the server exits or /health is not 200 within `timeout` seconds.
    """
    port = free_port()
    if log is None:
        handle, name = tempfile.mkstemp(prefix="uvicorn-", suffix=".log")
        os.close(handle)
        log = Path(name)
    environment = {**os.environ, **(env or {})}
    with running_uvicorn(
        "app.main:app", port, log, environment, uvicorn_args, timeout_s=timeout, stop_timeout_s=15
    ):
        yield f"http://127.0.0.1:{port}"


def observe_predictions(app: FastAPI, on_predict: Callable[[np.ndarray], object]) -> None:
    """Route the app's predictions through its real classifier, calling on_predict(batch) first.

    Call it inside the app's lifespan (the classifier is loaded there).
    """
    real: Classifier = app.state.models.get()

    class Observed(Classifier):
        def predict(self, batch: np.ndarray) -> np.ndarray:
            on_predict(batch)
            return super().predict(batch)

    observed = Observed(real.directory, real.metadata, real._model_bytes)
    app.dependency_overrides[get_classifier] = lambda: observed


def run_module(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m module args` from the repository root; fails with its output unless it exits 0."""
    finished = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished


DETECTORLESS_VERSIONS = ("1", "2")  # the shipped fashion-mnist versions without a garment detector


def link_detectorless_versions(root: Path) -> Path:
    """root/fashion-mnist holding links to the shipped versions 1 and 2 only (v3 has a garment detector)."""
    garments = root / "fashion-mnist"
    garments.mkdir()
    for version in DETECTORLESS_VERSIONS:
        (garments / version).symlink_to(REPO_ROOT / "models" / "fashion-mnist" / version)
    return garments
