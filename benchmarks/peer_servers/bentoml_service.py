"""BentoML: a `@bentoml.service` class with one `@bentoml.api`, one worker.

    bentoml serve benchmarks.peer_servers.bentoml_service:FashionMnist --port PORT

POST /predict, multipart with the PNG in the `file` field (BentoML's `Path` input). With
PEER_BATCH=1 the API is `batchable`: BentoML's adaptive batching gathers up to 16 requests, and
the method gets a list of files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

from benchmarks.peer_servers.classify import Model, answer, prepare

BATCHING = os.environ.get("PEER_BATCH") == "1"
MAX_BATCH_SIZE = 16
MAX_LATENCY_MS = 1000


@bentoml.service(workers=1)
class FashionMnist:
    def __init__(self) -> None:
        self.model = Model()

    @bentoml.api
    def health(self) -> dict[str, str]:
        return {"status": "ok"}

    if BATCHING:

        @bentoml.api(batchable=True, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS)
        def predict(self, file: list[Path]) -> list[dict[str, Any]]:
            batch = np.concatenate([prepare(path.read_bytes()) for path in file])
            return [answer(p) for p in self.model.predict(batch)]

    else:

        @bentoml.api
        def predict(self, file: Path) -> dict[str, Any]:
            return answer(self.model.predict(prepare(file.read_bytes()))[0])
