"""What every peer server does with an image: the service's preparation, the same model file, LiteRT.

The service's own pixel contract (`app.imaging.prepare_image` in `auto` mode, `app.preprocessing`)
and the model file it serves (PEER_MODEL_FILE, set by the benchmark), run by a LiteRT interpreter
with one thread, as the service runs it; one interpreter per thread, since one must not be shared.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from app.imaging import prepare_image
from app.preprocessing import IMAGE_SIZE, LABELS, prepare_batch


def prepare(data: bytes) -> np.ndarray:
    """Upload bytes -> float32 (1, 28, 28, 1), exactly as /predict prepares them."""
    return prepare_batch(prepare_image(data, "auto").pixels)


class Model:
    """model.tflite behind a per-thread interpreter, resized to the batch it is given."""

    def __init__(self, path: str | None = None) -> None:
        self.content = Path(path or os.environ["PEER_MODEL_FILE"]).read_bytes()
        self._local = threading.local()
        self.predict(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1), np.float32))  # load and check once

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, 28, 28, 1) float32 -> (N, 10) probabilities."""
        local = self._local
        if getattr(local, "batch", None) != len(batch):
            if not hasattr(local, "interpreter"):
                local.interpreter = Interpreter(model_content=self.content, num_threads=1)
                local.input = local.interpreter.get_input_details()[0]["index"]
                local.output = local.interpreter.get_output_details()[0]["index"]
            local.interpreter.resize_tensor_input(local.input, list(batch.shape))
            local.interpreter.allocate_tensors()
            local.batch = len(batch)
        local.interpreter.set_tensor(local.input, batch)
        local.interpreter.invoke()
        return np.array(local.interpreter.get_tensor(local.output))


def answer(probabilities: np.ndarray) -> dict[str, Any]:
    """One image's answer, shaped like the service's."""
    class_id = int(np.argmax(probabilities))
    return {
        "class_id": class_id,
        "label": LABELS[class_id],
        "confidence": float(probabilities[class_id]),
        "probabilities": [float(p) for p in probabilities],
    }
