"""Bytes in, predictions out: decoding, the model call and the answer, with no HTTP here.

Where the work runs is chosen for throughput (docs/performance.md has the measurements):
the model always runs on the inference thread, off the event loop, and LiteRT releases the
GIL while it computes, so the loop keeps parsing the next requests meanwhile. Data-set-sized
(28x28) images, up to INLINE_BATCH per request and not forced through the photo conversion, are
prepared on the loop itself: that takes ~0.2 ms, less than handing the work to a thread and back.
Everything else is prepared on a second thread, so a large photo never blocks the loop and the
inference thread does nothing but inference. Single images that queue up while the model is busy
are classified together in one call (`Coalescer`): nothing ever waits for company.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import numpy as np

from app.imaging import (
    DecodeLimits,
    ImageError,
    PreparedImage,
    encode_png,
    is_cheap,
    prepare_image,
    prepare_images,
)
from app.metrics import ABSTENTIONS, PREDICTIONS, PREPROCESS, CachedLabels
from app.model import Classifier
from app.preprocessing import prepare_batch
from app.schemas import ModelRef, Prediction, Reason

P = ParamSpec("P")
T = TypeVar("T")

# One inference thread per worker process. Parallelism comes from worker processes (one per
# core), and every thread that runs the model holds its own LiteRT interpreters (~7 MB each
# for a small CNN): Starlette's 40-thread pool grew one per thread under load (RSS 294 MB at
# 16 connections) and paid anyio's per-call overhead; a bounded executor does neither.
INFERENCE_THREADS = 1
# Only data-set-sized (28x28) uploads are prepared on the event loop (~0.2 ms each, less than a thread
# hand-off), and at most INLINE_BATCH of them per request; anything else is prepared off the loop.
INLINE_BATCH = 8
predictions_total = CachedLabels(PREDICTIONS)
preprocess_total = CachedLabels(PREPROCESS)
abstentions_total = CachedLabels(ABSTENTIONS)
_inference = ThreadPoolExecutor(max_workers=INFERENCE_THREADS, thread_name_prefix="inference")
# Decoding and preparing uploads that are not prepared on the loop runs on its own thread, so that
# one request's decoding overlaps another's inference (Pillow and LiteRT both release the GIL), and
# a large photo delays other photos, not the model.
_preparer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")


# Single-image requests that arrive while the model is busy are classified together, in one LiteRT
# call of at most this many images: ~25 % cheaper per image, and one thread hand-off serves them all.
MAX_COALESCED = 64
# A queued inference: whose model, its (1, 28, 28, 1) input, where the answer goes.
Queued = tuple[Classifier, np.ndarray, asyncio.Future[np.ndarray]]


class Coalescer:
    """Queues single-image inferences and runs whatever has queued up as one batch on the inference thread.

    Lives on one event loop (only the loop touches `pending`, so no locks) and never waits for more
    requests to arrive: a request that finds the model idle is classified at once, alone.
    """

    def __init__(self) -> None:
        self.pending: list[Queued] = []
        self.drainer: asyncio.Task[None] | None = None

    async def predict(self, classifier: Classifier, batch: np.ndarray) -> np.ndarray:
        """Probabilities of a (1, 28, 28, 1) batch, computed together with whatever else is queued."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self.pending.append((classifier, batch, future))
        if self.drainer is None:
            self.drainer = loop.create_task(self.drain())
        return await future

    async def drain(self) -> None:
        """Run queued inferences, oldest first, in batches of one classifier, until none are left."""
        try:
            while self.pending:
                classifier = self.pending[0][0]
                group: list[Queued] = []
                rest: list[Queued] = []
                for item in self.pending:
                    (group if item[0] is classifier and len(group) < MAX_COALESCED else rest).append(item)
                self.pending = rest
                try:
                    inputs = np.concatenate([batch for _, batch, _ in group])
                    probabilities = await on_thread(_inference, classifier.predict, inputs)
                    answers = list(zip(probabilities, group, strict=True))
                except Exception as error:  # every waiting request gets the error (a 500), none hangs
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for row, (_, _, future) in answers:
                    if not future.done():  # a request whose client went away was cancelled
                        future.set_result(row[np.newaxis])
        finally:
            self.drainer = None


_coalescers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Coalescer] = weakref.WeakKeyDictionary()


def coalescer() -> Coalescer:
    """The running event loop's coalescer (a worker has one loop; tests may start several)."""
    loop = asyncio.get_running_loop()
    if loop not in _coalescers:
        _coalescers[loop] = Coalescer()
    return _coalescers[loop]


@contextmanager
def gil_switch_interval(seconds: float) -> Iterator[None]:
    """Let a thread that waits for the GIL have it within `seconds` (sys.setswitchinterval), meanwhile.

    The inference thread needs the GIL for a few microseconds around each LiteRT call; with Python's
    default of 5 ms it waited that long for the busy event loop, and the model sat idle: at 20 us,
    v2 FP32 served 1.71 x and /predict PNG 1.17 x the requests (`python -m benchmarks.ab`, 19:02).
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


async def on_thread(
    executor: ThreadPoolExecutor, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run `function` on the executor's thread; the event loop keeps serving I/O meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, lambda: function(*args, **kwargs))


def to_prediction(
    classifier: Classifier, outputs: np.ndarray, prepared: PreparedImage | None, return_input: bool
) -> Prediction:
    """One row of model outputs -> the response model; prepared is None for a client's ready tensor.

    With a garment detector (an open-set version), is_garment says whether garment_score reaches
    the version's threshold; an image in which the preparation found nothing is never a garment.
    """
    scores = classifier.scores(outputs[np.newaxis])
    probabilities = scores.probabilities[0]
    class_id = int(np.argmax(probabilities))
    garment_score = None if scores.garment_score is None else float(scores.garment_score[0])
    reason: Reason | None = None
    if prepared is not None and prepared.no_object:
        garment_score, reason = (0.0 if garment_score is not None else None), "no_object"
    elif garment_score is not None and garment_score < (classifier.threshold or 0.0):
        reason = "not_garment"
    prediction = Prediction(
        class_id=class_id,
        label=classifier.labels[class_id],
        confidence=float(probabilities[class_id]),
        probabilities=[float(p) for p in probabilities],
        preprocess=prepared.mode if prepared is not None else "tensor",  # type: ignore[arg-type]
        is_garment=reason is None,
        garment_score=garment_score,
        reason=reason,
        model=ModelRef(name=classifier.name, version=classifier.version),
        input_png=base64.b64encode(encode_png(prepared.pixels)).decode()
        if return_input and prepared is not None
        else None,
    )
    count(prediction)
    return prediction


def count(prediction: Prediction) -> None:
    """The prediction's metrics, labelled by model and version (counted where predictions are made)."""
    model, version = prediction.model.name, str(prediction.model.version)
    predictions_total.labels(model, version, prediction.label).inc()
    preprocess_total.labels(model, version, prediction.preprocess).inc()
    if prediction.reason is not None:
        abstentions_total.labels(model, version, prediction.reason).inc()


def model_input(prepared: list[PreparedImage | ImageError]) -> np.ndarray | None:
    """The model's batch of the decodable images, in upload order; None when there are none."""
    good = [p.pixels for p in prepared if isinstance(p, PreparedImage)]
    return prepare_batch(np.stack(good)) if good else None


def to_outcomes(
    classifier: Classifier,
    prepared: list[PreparedImage | ImageError],
    probabilities: Iterable[np.ndarray],
    return_input: bool,
) -> list[Prediction | ImageError]:
    """Pair the batch's rows with the decodable images; errors stay in their places."""
    rows = iter(probabilities)
    return [
        to_prediction(classifier, next(rows), p, return_input) if isinstance(p, PreparedImage) else p
        for p in prepared
    ]


async def classify(
    classifier: Classifier, data: bytes, mode: str, max_pixels: DecodeLimits | int, return_input: bool
) -> Prediction:
    """Prepare and classify one upload (raises ImageError for the client's mistakes)."""
    if is_cheap(data, mode):
        prepared = prepare_image(data, mode, max_pixels, classifier.profile)
    else:
        prepared = await on_thread(_preparer, prepare_image, data, mode, max_pixels, classifier.profile)
    probabilities = await coalescer().predict(classifier, prepare_batch(prepared.pixels))
    return to_prediction(classifier, probabilities[0], prepared, return_input)


async def classify_batch(
    classifier: Classifier,
    uploads: list[bytes],
    mode: str,
    max_pixels: DecodeLimits | int,
    return_input: bool,
) -> list[Prediction | ImageError]:
    """Prepare every upload, classify the good ones in one batched inference, keep upload order."""
    if len(uploads) <= INLINE_BATCH and all(is_cheap(data, mode) for data in uploads):
        prepared = prepare_images(uploads, mode, max_pixels, classifier.profile)
    else:
        prepared = await on_thread(_preparer, prepare_images, uploads, mode, max_pixels, classifier.profile)
    batch = model_input(prepared)
    probabilities = await on_thread(_inference, classifier.predict, batch) if batch is not None else ()
    return to_outcomes(classifier, prepared, probabilities, return_input)


async def classify_tensor(classifier: Classifier, batch: np.ndarray) -> list[Prediction]:
    """Classify a client's ready model input, float32 (N, 28, 28, 1) in [0, 1] (v2 FP32, v1 floats).

    A single image joins the coalescer's queue like a /predict upload; a batch is one inference.
    """
    if len(batch) == 1:
        outputs = await coalescer().predict(classifier, batch)
    else:
        outputs = await on_thread(_inference, classifier.predict, batch)
    return [to_prediction(classifier, row, None, False) for row in outputs]


async def classify_uploads(
    classifier: Classifier, uploads: list[bytes], mode: str, max_pixels: DecodeLimits | int
) -> list[Prediction | ImageError]:
    """Encoded images from any front door: one goes the /predict way (coalesced), several the batch way."""
    if len(uploads) == 1:
        try:
            return [await classify(classifier, uploads[0], mode, max_pixels, False)]
        except ImageError as error:
            return [error]
    return await classify_batch(classifier, uploads, mode, max_pixels, False)


def all_or_error(outcomes: list[Prediction | ImageError]) -> list[Prediction]:
    """Every image's prediction; an image the client got wrong fails the whole request, naming it."""
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ImageError):
            raise type(outcome)(f"image {index}: {outcome}")
    return [outcome for outcome in outcomes if isinstance(outcome, Prediction)]
