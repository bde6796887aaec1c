"""Find, verify and read the four original Fashion-MNIST IDX files."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# sha256 of the *decompressed* IDX bytes (the .gz bytes differ between mirrors/repacks).
SHA256 = {
    "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = (
    "Install the data set with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
    "or put the four .gz files in ./data/fashion-mnist, or pass --data-dir / set FASHION_MNIST_DIR."
)


class DataNotFound(FileNotFoundError):
    """None of the known places holds the four IDX files."""


class DataCorrupt(ValueError):
    """An IDX file is present but its content is not the original data set."""


@dataclass(frozen=True)
class ImageDataset:
    """uint8 images (N, 28, 28) and uint8 labels (N,); x_train includes the validation images."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: Path
    checksums: dict[str, str]

    def train_val_split(self, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Seeded (train_idx, val_idx) into x_train."""
        return train_val_split(len(self.x_train), val_size, seed)


class FashionMNIST(ImageDataset):
    """Fashion-MNIST's official 60,000 training and 10,000 test images."""


def named_dirs(data_dir: str | Path | None, env_var: str) -> list[Path]:
    """The places a user names, searched first: --data-dir, then the environment variable."""
    return [Path(p) for p in (data_dir, os.environ.get(env_var)) if p]


def candidate_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """The places searched, in order."""
    places = named_dirs(data_dir, "FASHION_MNIST_DIR")
    places += [
        Path("data/fashion-mnist"),
        DEBIAN_DIR,
        Path.home() / ".keras" / "datasets" / "fashion-mnist",
    ]
    return places


def find_data_dir(data_dir: str | Path | None = None, download: bool = True) -> Path:
    """Return the first directory holding all four files; download only as a last resort."""
    places = candidate_dirs(data_dir)
    for place in places:
        if all((place / name).is_file() for name in FILES.values()):
            return place
    if download:
        target = places[-1]
        try:
            return download_to(target)
        except OSError as error:
            tried = "\n  ".join(str(p) for p in places)
            raise DataNotFound(
                f"Fashion-MNIST not found. Looked in:\n  {tried}\n"
                f"and the download from {MIRROR} failed ({error}).\n{INSTALL_HINT}"
            ) from error
    tried = "\n  ".join(str(p) for p in places)
    raise DataNotFound(f"Fashion-MNIST not found. Looked in:\n  {tried}\n{INSTALL_HINT}")


def download_to(target: Path) -> Path:
    """Download the four files from the official mirror into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        partial = target / (name + ".part")
        with urllib.request.urlopen(MIRROR + name, timeout=30) as response:
            partial.write_bytes(response.read())
        partial.rename(target / name)
    return target


def read_idx(path: Path, expected_sha256: str | None = None) -> tuple[np.ndarray, str]:
    """Read one gzipped IDX file; verify its decompressed sha256; return (array, sha256)."""
    raw = gzip.decompress(path.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise DataCorrupt(f"{path}: sha256 {digest} is not the original {expected_sha256}")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataCorrupt(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataCorrupt(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape), digest


def load_fashion_mnist(data_dir: str | Path | None = None, download: bool = True) -> FashionMNIST:
    """Find, read and verify the data set (shapes, label range, checksums)."""
    source = find_data_dir(data_dir, download=download)
    arrays: dict[str, np.ndarray] = {}
    checksums: dict[str, str] = {}
    for key, name in FILES.items():
        arrays[key], checksums[key] = read_idx(source / name, SHA256[key])
    expected = {"train": 60_000, "test": 10_000}
    for split, count in expected.items():
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape != (count, 28, 28) or labels.shape != (count,):
            raise DataCorrupt(f"{split}: shapes {images.shape} / {labels.shape}")
        if labels.max() > 9:
            raise DataCorrupt(f"{split}: label {labels.max()} outside 0-9")
    return FashionMNIST(
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
        source=source,
        checksums=checksums,
    )


def train_val_split(count: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded permutation of training indices → (train_idx, val_idx)."""
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[val_size:]), np.sort(order[:val_size])
