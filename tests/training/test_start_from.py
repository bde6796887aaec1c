"""A recipe that starts from a shipped version (zoo `final-open`) gets that version's network exactly,
with the extra open-set output starting at zero."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from app.config import REPO_ROOT
from app.preprocessing import prepare_batch
from training.data import FashionMNIST
from training.train import load_start
from training.zoo import ZOO, compact, final

V2 = REPO_ROOT / "models" / "fashion-mnist" / "2"


def test_final_open_starts_from_v2_with_a_zero_extra_output(dataset: FashionMNIST) -> None:
    assert ZOO["final-open"].start_from == "fashion-mnist/2"
    model = final(outputs=11)
    load_start(model, V2 / "model.keras")
    images = prepare_batch(dataset.x_test[:16])  # the service's pixel contract
    logits = np.asarray(model(images, training=False))
    assert np.all(logits[:, 10] == 0.0)  # "not a known object" starts neutral
    temperature = json.loads((V2 / "metadata.json").read_text())["training"]["temperature"]
    ours = keras.ops.convert_to_numpy(keras.ops.softmax(logits[:, :10] / temperature))
    shipped = np.asarray(keras.models.load_model(V2 / "model.keras", compile=False)(images, training=False))
    np.testing.assert_allclose(ours, shipped, atol=1e-5)


def test_a_different_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="not the architecture"):
        load_start(compact(), V2 / "model.keras")
