"""The digits loader reads the pinned npm tarball exactly, refuses anything else, and splits by class."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from training.digits import (
    CLASS_COUNTS,
    TARBALL,
    TEST_SIZE,
    VAL_SIZE,
    Digits,
    DigitsCorrupt,
    DigitsNotFound,
    find_tarball,
    floats_to_uint8,
    load_digits,
    read_tarball,
    stratified_split,
)


def package_json(images: np.ndarray) -> bytes:
    """One class's file as the package writes it: every pixel k/255 rounded to three decimals."""
    values = [float(round(int(k) / 255, 3)) for k in images.reshape(-1)]
    # The package writes 0 and 1 as integers, every other level with up to three decimals.
    return json.dumps({"data": values}).replace(".0,", ",").encode()


def make_tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def fake_digits(per_class: int = 3, seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {d: rng.integers(0, 256, (per_class, 28, 28), dtype=np.uint8) for d in range(10)}


def test_every_grey_level_survives_the_packages_three_decimals() -> None:
    levels = np.arange(256, dtype=np.uint8)
    floats = np.array([round(int(k) / 255, 3) for k in levels])
    assert np.array_equal(floats_to_uint8(floats, "levels"), levels)


@pytest.mark.parametrize("value", [0.5, 0.1234, 1.2, -0.004])
def test_a_value_that_is_no_rounded_level_is_refused(value: float) -> None:
    with pytest.raises(DigitsCorrupt):
        floats_to_uint8(np.array([0.0, value]), "digit.json")


def test_tarball_is_read_class_by_class_without_node() -> None:
    digits = fake_digits()
    content = make_tarball({f"package/src/digits/{d}.json": package_json(x) for d, x in digits.items()})
    images, labels = read_tarball(content)
    assert images.dtype == np.uint8 and images.shape == (30, 28, 28)
    assert np.array_equal(images, np.concatenate(list(digits.values())))
    assert labels.tolist() == [d for d in range(10) for _ in range(3)]


def test_tarball_missing_a_class_is_refused() -> None:
    digits = fake_digits()
    content = make_tarball({f"package/src/digits/{d}.json": package_json(digits[d]) for d in range(9)})
    with pytest.raises(DigitsCorrupt, match="9.json is missing"):
        read_tarball(content)


def test_other_bytes_under_the_pinned_name_are_refused(tmp_path: Path) -> None:
    digits = fake_digits()
    content = make_tarball({f"package/src/digits/{d}.json": package_json(x) for d, x in digits.items()})
    (tmp_path / TARBALL).write_bytes(content)
    with pytest.raises(DigitsCorrupt, match="sha256"):
        load_digits(tmp_path, download=False)


def test_missing_tarball_lists_places_and_how_to_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("training.digits.REPO_DATA_DIR", tmp_path / "nowhere")
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(DigitsNotFound) as error:
        find_tarball(tmp_path / "empty", download=False)
    message = str(error.value)
    assert "empty" in message and "nowhere" in message and "python -m training.digits" in message


def test_stratified_split_is_exact_seeded_and_proportional() -> None:
    labels = np.repeat(np.arange(10), CLASS_COUNTS)
    rest, held = stratified_split(labels, TEST_SIZE, seed=3)
    assert len(held) == TEST_SIZE and len(rest) == len(labels) - TEST_SIZE
    assert not np.intersect1d(rest, held).size
    expected = TEST_SIZE * np.array(CLASS_COUNTS) / len(labels)
    assert np.abs(np.bincount(labels[held]) - expected).max() < 1
    again_rest, again_held = stratified_split(labels, TEST_SIZE, seed=3)
    assert np.array_equal(held, again_held) and np.array_equal(rest, again_rest)
    assert not np.array_equal(held, stratified_split(labels, TEST_SIZE, seed=4)[1])


def test_real_digits_are_the_pinned_ten_thousand(digits: Digits) -> None:
    assert digits.x_train.shape == (8_000, 28, 28) and digits.x_train.dtype == np.uint8
    assert digits.x_test.shape == (TEST_SIZE, 28, 28)
    counts = np.bincount(digits.y_train, minlength=10) + np.bincount(digits.y_test, minlength=10)
    assert tuple(counts.tolist()) == CLASS_COUNTS
    # Light strokes on black, like MNIST: the border is background, the strokes reach full white.
    assert np.median(digits.x_test[:, 0, :]) == 0 and digits.x_test.max() == 255
    assert set(digits.checksums) == {"tarball", "pixels_and_labels"}
    # Mixed classes, not the package's class-by-class order: a tenth of the images is no single digit.
    assert len(np.unique(digits.y_train[:800])) == 10 and len(np.unique(digits.y_test[:200])) == 10


def test_real_split_is_7000_1000_2000_by_class_and_the_test_part_is_fixed(digits: Digits) -> None:
    train_idx, val_idx = digits.train_val_split(VAL_SIZE, seed=42)
    assert (len(train_idx), len(val_idx), len(digits.y_test)) == (7_000, 1_000, 2_000)
    for part in (digits.y_train[train_idx], digits.y_train[val_idx], digits.y_test):
        share = np.bincount(part, minlength=10) / len(part)
        assert np.abs(share - np.array(CLASS_COUNTS) / 10_000).max() < 0.002
    # Another training seed draws another validation split, never another test split.
    assert not np.array_equal(val_idx, digits.train_val_split(VAL_SIZE, seed=1)[1])
    assert np.array_equal(load_digits(download=False).y_test, digits.y_test)
    test_rows = {image.tobytes() for image in digits.x_test}
    assert not any(image.tobytes() in test_rows for image in digits.x_train)
