"""Every zoo model trains for one tiny epoch with its own recipe (optimizer, augmentation, smoothing)."""

from __future__ import annotations

import numpy as np
import pytest

from training import zoo
from training.train import default_config, fit, num_outputs


@pytest.mark.slow
@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_one_tiny_epoch_per_model(name: str, dataset) -> None:
    config = default_config(name, epochs=1, seed=1, validation_freq=1)
    x, y = dataset.x_train[:512], dataset.y_train[:512]
    model, history = fit(config, x, y, dataset.x_train[512:640], dataset.y_train[512:640], verbose=0)
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    assert 0 <= history["val_accuracy"][0] <= 1
    logits = model.predict(np.zeros((3, 28, 28, 1), np.float32), verbose=0)
    assert logits.shape == (3, num_outputs(config)) and np.isfinite(logits).all()


def test_unknown_model_name_lists_the_zoo() -> None:
    with pytest.raises(KeyError, match="baseline-padded"):
        zoo.build("resnet-1000")
