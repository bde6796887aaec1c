"""The model is safe to call from many threads, and requests run inference on the bounded inference thread."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi.testclient import TestClient

from app.inference import INFERENCE_THREADS, Coalescer
from app.main import create_app
from app.model import Classifier
from app.preprocessing import prepare_batch
from tests.helpers import image_bytes, observe_predictions


def test_threads_predicting_at_once_get_the_sequential_answers(dataset) -> None:
    app = create_app()
    with TestClient(app):
        classifier: Classifier = app.state.models.get()
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


class Recording(Classifier):
    """The real classifier, remembering the size of every batch it ran (optionally failing)."""

    sizes: list[int]
    fail: bool = False

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.sizes.append(len(batch))
        if self.fail:
            raise RuntimeError("model failed")
        return super().predict(batch)


def recording(classifier: Classifier) -> Recording:
    model = Recording(classifier.directory, classifier.metadata, classifier._model_bytes)
    model.sizes = []
    return model


def test_queued_single_images_run_together_and_get_their_own_answers(dataset) -> None:
    app = create_app()
    with TestClient(app):
        model = recording(app.state.models.get())
    images = [prepare_batch(dataset.x_test[i : i + 1]) for i in range(20)]

    async def ask_all_then_one() -> list[np.ndarray]:
        coalescer = Coalescer()
        answers = await asyncio.gather(*(coalescer.predict(model, image) for image in images))
        await coalescer.predict(model, images[0])  # alone: nothing else is queued
        return answers

    answers = asyncio.run(ask_all_then_one())
    # All 20 queue up before the drainer first runs: one LiteRT call. The last request runs alone.
    assert model.sizes == [20, 1]
    for image, answer in zip(images, answers, strict=True):
        assert answer.shape == (1, model.metadata.output_width)  # every output column, as the model gives it
        np.testing.assert_allclose(answer, model.predict(image), rtol=1e-4, atol=1e-6)


def test_a_cancelled_request_leaves_the_others_answered(dataset) -> None:
    app = create_app()
    with TestClient(app):
        model = recording(app.state.models.get())
    images = [prepare_batch(dataset.x_test[i : i + 1]) for i in range(5)]

    async def ask_and_cancel_one() -> list[np.ndarray | BaseException]:
        coalescer = Coalescer()
        tasks = [asyncio.ensure_future(coalescer.predict(model, image)) for image in images]
        await asyncio.sleep(0)  # all five are queued
        tasks[2].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    answers = asyncio.run(ask_and_cancel_one())
    assert isinstance(answers[2], asyncio.CancelledError)
    assert all(isinstance(answers[i], np.ndarray) for i in (0, 1, 3, 4))


def test_a_failing_model_fails_every_waiting_request_and_the_next_one_runs(dataset) -> None:
    app = create_app()
    with TestClient(app):
        model = recording(app.state.models.get())
    image = prepare_batch(dataset.x_test[:1])

    async def scenario() -> tuple[list[np.ndarray | BaseException], np.ndarray]:
        coalescer = Coalescer()
        model.fail = True
        asks = (coalescer.predict(model, image) for _ in range(3))
        failed = await asyncio.gather(*asks, return_exceptions=True)
        model.fail = False
        return failed, await coalescer.predict(model, image)

    failed, answer = asyncio.run(scenario())
    assert all(isinstance(error, RuntimeError) for error in failed)
    assert answer.shape == (1, model.metadata.output_width)
