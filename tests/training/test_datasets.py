"""One pipeline, two data sets: `--dataset mnist` trains, exports and evaluates digits like garments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from training.__main__ import main
from training.augment import augment
from training.datasets import DATASETS, get_dataset
from training.digits import TARBALL_SHA256
from training.train import default_config


def test_unknown_data_set_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="fashion-mnist, mnist"):
        get_dataset("cifar")


def test_digits_offer_the_tutorials_models_and_never_mirror() -> None:
    digits = DATASETS["mnist"]
    assert list(digits.recipes) == ["baseline", "lenet", "vgg", "final"]
    with pytest.raises(KeyError, match="baseline, lenet, vgg, final"):
        digits.recipe("compact")
    config = default_config("final", "mnist")
    assert (config.dataset, config.val_size, config.flip, config.erasing) == ("mnist", 1_000, False, 0.0)
    garments = default_config("final")
    assert (garments.dataset, garments.val_size, garments.flip) == ("fashion-mnist", 5_000, True)


def test_augmentation_without_flips_keeps_a_left_stroke_on_the_left() -> None:
    images = np.zeros((256, 28, 28, 1), np.float32)
    images[:, 4:24, 5:9] = 1.0  # a vertical stroke left of centre
    columns = np.arange(28)

    def left_share(flip: bool) -> float:
        out, _ = augment(tf.constant(images), tf.zeros(256), erasing=0.0, flip=flip)
        mass = out.numpy()[..., 0].sum(axis=1)  # (N, columns)
        return float(((mass * columns).sum(axis=1) / mass.sum(axis=1) < 14).mean())

    assert left_share(flip=False) == 1.0
    assert 0.3 < left_share(flip=True) < 0.7


@pytest.mark.slow
def test_digits_train_export_evaluate(tmp_path: Path, digits, capsys: pytest.CaptureFixture[str]) -> None:
    runs, models = tmp_path / "runs", tmp_path / "models" / "mnist"
    quick = ["--model", "baseline", "--epochs", "1", "--subset", "2000", "--runs-dir", str(runs)]
    main(["--dataset", "mnist", "train", *quick, "--export", "--models-root", str(models)])
    version_dir = models / "1"
    assert {"model.tflite", "metadata.json", "report.md", "confusion_matrix.png"} <= {
        p.name for p in version_dir.iterdir()
    }
    meta = json.loads((version_dir / "metadata.json").read_text())
    assert meta["name"] == "mnist" and meta["labels"] == [str(d) for d in range(10)]
    assert meta["preparation"] == {"profile": "mnist"} and "digit" in meta["input"]["layout"]
    assert meta["training"]["flip_tta"] is False and meta["training"]["config"]["flip"] is False
    assert "--dataset mnist train --model baseline" in meta["training"]["command"]
    assert (meta["training"]["train_images"], meta["training"]["val_images"]) == (2_000, 1_000)
    assert meta["metrics"]["test"]["count"] == 2_000 and 0.5 < meta["metrics"]["test"]["accuracy"] <= 1
    assert meta["data"]["checksums_sha256_decompressed"]["tarball"] == TARBALL_SHA256
    assert "mnist version 1" in (version_dir / "report.md").read_text()

    capsys.readouterr()
    main(["--dataset", "mnist", "evaluate", "--models-root", str(models)])
    out = capsys.readouterr().out
    assert f"accuracy {meta['metrics']['test']['accuracy']:.4f}" in out and "(2000 images)" in out
    with pytest.raises(ValueError, match="not a mnist model"):
        main(["--dataset", "mnist", "evaluate", "--models-root", "models/fashion-mnist"])
