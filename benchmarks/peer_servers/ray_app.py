"""Ray Serve: one deployment, one replica, `python -m benchmarks.peer_servers.ray_app PORT [--batch]`.

A multipart upload in the `file` field, read from the Starlette request the deployment is called
with (Ray Serve's plain HTTP ingress). With --batch, `@serve.batch` gathers up to 16 requests,
waiting at most 5 ms. A GET answers 200 once the application runs: the benchmark's ready check.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import ray
from ray import serve
from starlette.requests import Request

from benchmarks.peer_servers.classify import Model, answer, prepare

MAX_BATCH_SIZE = 16
BATCH_WAIT_S = 0.005


@serve.deployment(num_replicas=1)
class FashionMnist:
    def __init__(self, batching: bool) -> None:
        self.model = Model()
        self.batching = batching

    @serve.batch(max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_S)
    async def predict_batch(self, images: list[np.ndarray]) -> list[dict[str, Any]]:
        return [answer(p) for p in self.model.predict(np.concatenate(images))]

    async def __call__(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            return {"status": "ok"}
        form = await request.form()
        image = prepare(await form["file"].read())
        if self.batching:
            return await self.predict_batch(image)
        return answer(self.model.predict(image)[0])


if __name__ == "__main__":
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)  # loopback only
    serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[1])})
    serve.run(FashionMnist.bind("--batch" in sys.argv), route_prefix="/predict", blocking=True)
