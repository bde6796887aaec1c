"""The model is safe to call from many threads, and requests run inference on the bounded inference thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi.testclient import TestClient

from app.inference import INFERENCE_THREADS
from app.main import create_app
from app.model import Classifier
from app.preprocessing import prepare_batch
from tests.helpers import image_bytes, observe_predictions


def test_threads_predicting_at_once_get_the_sequential_answers(dataset) -> None:
    app = create_app()
    with TestClient(app):
        classifier: Classifier = app.state.classifier
        batches = [
            prepare_batch(dataset.x_test[i : i + size]) for i, size in enumerate([1, 5, 1, 64, 3, 1] * 4)
        ]
        expected = [classifier.predict(batch) for batch in batches]
        with ThreadPoolExecutor(8) as pool:
            for _ in range(3):
                answers = list(pool.map(classifier.predict, batches))
                for got, want in zip(answers, expected, strict=True):
                    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_concurrent_requests_share_the_bounded_inference_threads(dataset) -> None:
    app = create_app()
    threads: set[str] = set()  # the threads that ran the model
    with TestClient(app) as client:
        observe_predictions(app, lambda batch: threads.add(threading.current_thread().name))
        uploads = [image_bytes(dataset.x_test[i]) for i in range(32)]

        def post(data: bytes) -> int:
            return client.post("/predict", files={"file": ("x.png", data, "image/png")}).status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(post, uploads)) == {200}
    assert threads and all(name.startswith("inference") for name in threads)
    assert len(threads) <= INFERENCE_THREADS
