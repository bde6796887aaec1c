"""The service starts and answers every route with TensorFlow, Keras and training/ made unimportable.

An import-time check (tests/app/test_model_loading.py) would miss an import inside a handler or a
lazy fallback; here uvicorn runs in a Python whose import system refuses those packages (a
sitecustomize on PYTHONPATH puts a finder first on sys.meta_path) and writes a line for every
attempt, so the server's log shows whether anything even tried.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.helpers import image_bytes, running_server

BLOCKED = ("tensorflow", "keras", "tf_keras", "training")
ATTEMPT = "BLOCKED-IMPORT"  # what the finder writes to stderr when something tries
BLOCK_IMPORTS = f"""
import sys
from importlib.abc import MetaPathFinder

class RefuseTraining(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            print("{ATTEMPT}", name, file=sys.stderr, flush=True)
            raise ImportError(f"{{name}} is blocked: the service must run without it", name=name)
        return None

sys.meta_path.insert(0, RefuseTraining())
"""


@pytest.fixture(scope="module")
def blocking_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PYTHONPATH whose sitecustomize blocks the imports (ahead of whatever PYTHONPATH was)."""
    directory = tmp_path_factory.mktemp("block-tensorflow")
    (directory / "sitecustomize.py").write_text(BLOCK_IMPORTS)
    return os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))


def test_the_blocker_blocks(blocking_path: str) -> None:
    """Without this the server test below could pass vacuously."""
    finished = subprocess.run(
        [sys.executable, "-c", "import tensorflow"],
        env={**os.environ, "PYTHONPATH": blocking_path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode != 0 and "tensorflow is blocked" in finished.stderr
    assert f"{ATTEMPT} tensorflow" in finished.stderr


@pytest.fixture(scope="module")
def server(blocking_path: str) -> Iterator[tuple[str, Path]]:
    """uvicorn serving app.main:app in a Python that refuses TensorFlow; yields its URL and log."""
    log = Path(tempfile.mkdtemp(prefix="no-tensorflow-")) / "uvicorn.log"
    with running_server(env={"PYTHONPATH": blocking_path}, log=log) as url:
        yield url, log


def test_every_route_answers_without_tensorflow(server: tuple[str, Path]) -> None:
    url, log = server
    garment = np.zeros((28, 28), dtype=np.uint8)
    garment[4:24, 10:18] = 220  # a light trouser-like shape on black
    photo = image_bytes(np.full((120, 90, 3), 250, dtype=np.uint8))
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/health").status_code == 200
        info = client.get("/model-info")
        assert info.status_code == 200 and info.json()["version"] >= 1
        for upload, mode in ((image_bytes(garment), "raw"), (photo, "photo")):
            answer = client.post(f"/predict?preprocess={mode}", files={"file": ("x.png", upload)})
            assert answer.status_code == 200 and answer.json()["preprocess"] == mode, answer.text
        batch = client.post("/predict/batch", files=[("files", ("a.png", image_bytes(garment)))])
        assert batch.status_code == 200 and batch.json()["results"][0]["status_code"] == 200
        assert client.get("/model-report").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/").status_code == 200
    attempts = [line for line in log.read_text().splitlines() if line.startswith(ATTEMPT)]
    assert attempts == [], f"the service tried to import {attempts}"
