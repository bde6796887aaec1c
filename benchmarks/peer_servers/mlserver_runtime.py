"""MLServer: a custom inference runtime (`mlserver.MLModel`), Open Inference Protocol v2.

    mlserver start benchmarks/peer_servers/mlserver_model         # model-settings.json names this class
    mlserver start benchmarks/peer_servers/mlserver_model_batch   # the same with adaptive batching

POST /v2/models/fashion-mnist/infer with one BYTES input holding the PNG, base64-encoded (content
type `base64`, MLServer's codec for binary data). MLServer runs the model in a separate inference
worker process by default (parallel_workers 1). Adaptive batching is set in model-settings.json
(max_batch_size 16, max_batch_time 5 ms): MLServer reads MLSERVER_MODEL_* variables only for a
model that has no such file.
"""

from __future__ import annotations

import numpy as np
from mlserver import MLModel
from mlserver.codecs import Base64Codec, NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse

from app.preprocessing import LABELS
from benchmarks.peer_servers.classify import Model, prepare


class FashionMnist(MLModel):
    async def load(self) -> bool:
        self.model = Model()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        images = Base64Codec.decode_input(payload.inputs[0])
        probabilities = self.model.predict(np.concatenate([prepare(image) for image in images]))
        labels = [LABELS[i] for i in probabilities.argmax(axis=1)]
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                NumpyCodec.encode_output("probabilities", probabilities),
                StringCodec.encode_output("label", labels),
            ],
        )
