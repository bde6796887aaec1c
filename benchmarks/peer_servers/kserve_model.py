"""KServe: a `kserve.Model` served by `kserve.ModelServer`, V1 protocol (TensorFlow Serving's REST API).

    python -m benchmarks.peer_servers.kserve_model --http_port PORT --enable_grpc false

POST /v1/models/fashion-mnist:predict with {"instances": [{"image": {"b64": "<PNG, base64>"}}]}, the
protocol's way to carry binary data. ModelServer has no server-side batching of its own (KServe
batches in a separate agent container); each request's instances run as one batch.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from kserve import Model, ModelServer

from benchmarks.peer_servers.classify import Model as LiteRTModel
from benchmarks.peer_servers.classify import answer, prepare

NAME = "fashion-mnist"


class FashionMnist(Model):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.load()

    def load(self) -> bool:
        self.model = LiteRTModel()
        self.ready = True
        return self.ready

    def predict(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        batch = np.concatenate([prepare(base64.b64decode(i["image"]["b64"])) for i in payload["instances"]])
        return {"predictions": [answer(p) for p in self.model.predict(batch)]}


if __name__ == "__main__":
    ModelServer().start([FashionMnist(NAME)])
