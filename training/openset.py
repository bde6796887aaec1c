"""The open-set training and tuning data: garment drawings and drawn non-garments, prepared by the service.

Pools are made once per (seed, images) and cached under data/cache/ (ignored): rendering and
preparing ~20,000 images costs a few CPU minutes, spread over the machine's cores.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.preprocessing import NUM_CLASSES
from training.drawings import prepared_drawings
from training.negatives import TRAINING_FAMILIES, prepared_negatives

NOT_A_GARMENT = NUM_CLASSES  # the extra class of an open-set model: its last output
DRAWING_SHARE = 0.2  # drawings per training garment in an epoch
NEGATIVE_SHARE = 0.2  # non-garments per training garment in an epoch
CACHE_DIR = Path("data/cache")
CHUNK = 500


@dataclass(frozen=True)
class OpenSetPools:
    drawings: np.ndarray  # uint8 (N, 28, 28), prepared renders of garments
    drawing_labels: np.ndarray  # the garments' classes
    negatives: np.ndarray  # uint8 (M, 28, 28), prepared non-garments


def _drawings_chunk(args: tuple[np.ndarray, int]) -> np.ndarray:
    images, seed = args
    return prepared_drawings(images, seed)[0]


def _negatives_chunk(args: tuple[int, int]) -> np.ndarray:
    count, seed = args
    return prepared_negatives(count, seed, TRAINING_FAMILIES)[0]


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def make_pools(images: np.ndarray, labels: np.ndarray, seed: int) -> OpenSetPools:
    """Drawings of a seeded DRAWING_SHARE of `images` and NEGATIVE_SHARE * len(images) non-garments."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), int(len(images) * DRAWING_SHARE), replace=False)
    negatives = int(len(images) * NEGATIVE_SHARE)
    drawing_jobs = [(images[chosen[i : i + CHUNK]], seed * 1000 + i) for i in range(0, len(chosen), CHUNK)]
    negative_jobs = [(min(CHUNK, negatives - i), seed * 1000 + 500 + i) for i in range(0, negatives, CHUNK)]
    with ProcessPoolExecutor(_workers()) as pool:
        drawn = list(pool.map(_drawings_chunk, drawing_jobs))
        drawn_negatives = list(pool.map(_negatives_chunk, negative_jobs))
    return OpenSetPools(np.concatenate(drawn), labels[chosen], np.concatenate(drawn_negatives))


def open_set_pools(images: np.ndarray, labels: np.ndarray, seed: int) -> OpenSetPools:
    """make_pools, cached on disk by a digest of the inputs and of the generating code."""
    digest = hashlib.sha256(images.tobytes() + labels.tobytes() + str(seed).encode())
    for module in ("drawings.py", "negatives.py", "openset.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    path = CACHE_DIR / f"openset-{digest.hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path) as cached:
            return OpenSetPools(cached["drawings"], cached["drawing_labels"], cached["negatives"])
    pools = make_pools(images, labels, seed)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, drawings=pools.drawings, drawing_labels=pools.drawing_labels, negatives=pools.negatives)
    tmp.rename(path)
    return pools
