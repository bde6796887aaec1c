"""The data loader finds, verifies and reads the real IDX files."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from training.data import FILES, DataCorrupt, DataNotFound, find_data_dir, load_fashion_mnist, train_val_split


def test_real_data_shapes_labels_and_checksums(dataset) -> None:
    assert dataset.x_train.shape == (60_000, 28, 28) and dataset.x_train.dtype == np.uint8
    assert dataset.x_test.shape == (10_000, 28, 28)
    assert set(np.unique(dataset.y_train)) == set(range(10))
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10
    assert len(dataset.checksums) == 4


def test_explicit_data_dir_comes_first(dataset, tmp_path: Path) -> None:
    for name in FILES.values():
        shutil.copy(dataset.source / name, tmp_path / name)
    assert find_data_dir(tmp_path, download=False) == tmp_path


def test_env_variable_is_searched(dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FILES.values():
        shutil.copy(dataset.source / name, tmp_path / name)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    assert find_data_dir(download=False) == tmp_path


def test_missing_data_lists_places_and_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("training.data.DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    with pytest.raises(DataNotFound) as error:
        find_data_dir(tmp_path / "empty", download=False)
    message = str(error.value)
    assert "empty" in message and "nowhere" in message and "apt-get install dataset-fashion-mnist" in message


def test_tampered_file_is_rejected(dataset, tmp_path: Path) -> None:
    for name in FILES.values():
        shutil.copy(dataset.source / name, tmp_path / name)
    labels = bytearray(gzip.decompress((tmp_path / FILES["test_labels"]).read_bytes()))
    labels[100] = (labels[100] + 1) % 10
    (tmp_path / FILES["test_labels"]).write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(DataCorrupt, match="sha256"):
        load_fashion_mnist(tmp_path, download=False)


def test_validation_split_is_seeded_and_disjoint() -> None:
    train_a, val_a = train_val_split(60_000, 5_000, seed=42)
    train_b, val_b = train_val_split(60_000, 5_000, seed=42)
    assert np.array_equal(val_a, val_b) and np.array_equal(train_a, train_b)
    assert len(val_a) == 5_000 and len(train_a) == 55_000
    assert not set(val_a) & set(train_a)
    assert not np.array_equal(val_a, train_val_split(60_000, 5_000, seed=43)[1])
