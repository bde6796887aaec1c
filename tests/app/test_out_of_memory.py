"""A MemoryError while an upload is prepared is the server's shortage: 503 with Retry-After, counted.

The fuzzing tests prove that junk uploads end as our own ImageError (a 4xx); this pins the one
exception that must not: running out of memory is not the client's mistake, so it is never a 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFile

from app.config import Settings
from app.main import create_app
from tests.helpers import image_bytes

PHOTO = image_bytes(np.full((64, 48, 3), 200, dtype=np.uint8))  # not 28x28: prepared off the event loop
GARMENT = image_bytes(np.zeros((28, 28), dtype=np.uint8))  # data-set sized: prepared on the event loop


@pytest.fixture
def starved(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The real app, whose Pillow cannot allocate the pixels of any image it decodes."""

    def load(self: Image.Image) -> None:
        raise MemoryError

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with TestClient(create_app(Settings())) as client:
        yield client


def out_of_memory_count(client: TestClient) -> float:
    found = re.search(r"^classifier_out_of_memory_total ([0-9.e+]+)$", client.get("/metrics").text, re.M)
    assert found, "classifier_out_of_memory_total is not exported"
    return float(found[1])


@pytest.mark.parametrize("upload", [PHOTO, GARMENT], ids=["photo", "28x28"])
def test_memory_error_while_decoding_is_503_with_retry_after(starved: TestClient, upload: bytes) -> None:
    before = out_of_memory_count(starved)
    response = starved.post("/predict", files={"file": ("x.png", upload, "image/png")})
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert "memory" in response.json()["detail"]
    assert out_of_memory_count(starved) == before + 1


def test_memory_error_in_a_batch_is_503_not_a_refused_file(starved: TestClient) -> None:
    files = [("files", ("a.png", PHOTO, "image/png")), ("files", ("b.png", GARMENT, "image/png"))]
    response = starved.post("/predict/batch", files=files)
    assert response.status_code == 503, response.text
    assert "retry-after" in response.headers


def test_service_answers_normally_once_memory_is_back(starved: TestClient, monkeypatch) -> None:
    assert starved.post("/predict", files={"file": ("x.png", PHOTO, "image/png")}).status_code == 503
    monkeypatch.undo()
    assert starved.post("/predict", files={"file": ("x.png", PHOTO, "image/png")}).status_code == 200
