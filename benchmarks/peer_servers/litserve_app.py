"""LitServe: a LitAPI served by LitServer, `python -m benchmarks.peer_servers.litserve_app PORT [--batch]`.

A multipart upload in the `file` field (LitServe hands decode_request the parsed form). One
inference worker on the CPU; with --batch, LitServe's dynamic batching (up to 16 requests, waiting
at most 5 ms for them).
"""

from __future__ import annotations

import sys

import litserve as ls
import numpy as np

from benchmarks.peer_servers.classify import Model, answer, prepare

MAX_BATCH_SIZE = 16
BATCH_TIMEOUT_S = 0.005


class FashionMnistAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.model = Model()

    # No annotations on decode_request's argument or encode_response's result: LitServe builds the
    # route from them, and without them it hands over the request's form and returns plain JSON.
    def decode_request(self, request):  # type: ignore[no-untyped-def]
        return prepare(request["file"].file.read())[0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 3:  # one image, not batched
            return self.model.predict(x[np.newaxis])[0]
        return self.model.predict(x)

    def encode_response(self, output):  # type: ignore[no-untyped-def]
        return answer(output)


if __name__ == "__main__":
    batching = "--batch" in sys.argv
    api = FashionMnistAPI(
        max_batch_size=MAX_BATCH_SIZE if batching else 1, batch_timeout=BATCH_TIMEOUT_S if batching else 0.0
    )
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1)
    server.run(host="127.0.0.1", port=int(sys.argv[1]), generate_client_file=False, num_api_servers=1)
