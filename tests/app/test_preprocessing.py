"""One pixel contract: a test-set PNG uploaded to the service reaches the model as training's tensor."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.preprocessing import prepare_batch
from tests.helpers import image_bytes, observe_predictions
from training.train import make_dataset


def test_contract_scales_and_shapes() -> None:
    pixels = np.array([[0, 51, 255] + [0] * 25] * 28, dtype=np.uint8)
    batch = prepare_batch(pixels)
    assert batch.shape == (1, 28, 28, 1) and batch.dtype == np.float32
    assert batch[0, 0, :3, 0].tolist() == [0.0, np.float32(51) / np.float32(255), 1.0]


@pytest.mark.parametrize("bad", [np.zeros((28, 28), np.float32), np.zeros((27, 28), np.uint8)])
def test_contract_rejects_wrong_input(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        prepare_batch(bad)


def test_uploaded_png_reaches_model_as_training_tensor(dataset) -> None:
    app = create_app()
    seen: list[np.ndarray] = []  # every batch the model was given
    with TestClient(app) as client:
        observe_predictions(app, lambda batch: seen.append(batch.copy()))
        indices = [0, 1, 2, 17, 4242]
        for i in indices:
            response = client.post(
                "/predict", files={"file": ("x.png", image_bytes(dataset.x_test[i]), "image/png")}
            )
            assert response.status_code == 200
            assert response.json()["preprocess"] == "raw"
    served = np.concatenate(seen)
    # What training feeds Keras: the first (un-augmented) batch of training's own input pipeline.
    trained = next(
        iter(make_dataset(dataset.x_test[indices], dataset.y_test[indices], 8, 0, augmented=False))
    )[0]
    assert served.dtype == np.float32 and served.shape == (5, 28, 28, 1)
    assert np.array_equal(served, trained.numpy())
