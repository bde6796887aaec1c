"""Photo accuracy: the service on shop-style photos against the same garments as data-set images.

    .venv/bin/python -m benchmarks.photo_accuracy                 # 1000 test images, a few minutes
    .venv/bin/python -m benchmarks.photo_accuracy --count 50      # a smoke run
    .venv/bin/python -m benchmarks.photo_accuracy --split train   # the photos the conversion was tuned on

Starts the real service (one uvicorn process on a free localhost port) and posts, over real
HTTP to /predict with the default `auto` preparation, N images drawn (seeded) from a split:
each once as its native 28x28 PNG and once as a shop-style photo made from it
(training/shop_photos.py: tinted, light or transparent background, 200-800 px, off-centre,
JPEG/PNG/WebP). Prints both accuracies and their ratio, the goal being photo accuracy
>= 0.97 x native accuracy, with a breakdown by background and format; --out writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from app.config import get_settings
from app.imaging import encode_png
from app.model import resolve_version_dir
from benchmarks.serving import model_summary, multipart, request, serve
from training.data import load_fashion_mnist
from training.shop_photos import ShopPhoto, shop_photos

GOAL = 0.97  # photo accuracy / native accuracy


def post(port: int, filename: str, data: bytes, media_type: str) -> dict[str, Any]:
    """POST one file to /predict; anything but 200 is a failure of the benchmark."""
    body, content_type = multipart("file", [(filename, data, media_type)])
    status, answer = request(port, "POST", "/predict", body, content_type)
    if status != 200:
        raise RuntimeError(f"/predict answered {status} for {filename}: {answer[:300]!r}")
    result: dict[str, Any] = json.loads(answer)
    return result


def measure(port: int, images: np.ndarray, labels: np.ndarray, photos: list[ShopPhoto]) -> dict[str, Any]:
    """Post every native PNG and its photo; accuracies, agreement and breakdowns."""
    native_hits = photo_hits = agree = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    modes: dict[str, int] = defaultdict(int)
    for pixels, label, photo in zip(images, labels.tolist(), photos, strict=True):
        native = post(port, "native.png", encode_png(pixels), "image/png")
        shop = post(port, photo.filename, photo.data, photo.media_type)
        modes[f"native:{native['preprocess']}"] += 1
        modes[f"photo:{shop['preprocess']}"] += 1
        native_hits += native["class_id"] == label
        photo_hits += shop["class_id"] == label
        agree += native["class_id"] == shop["class_id"]
        for kind in (f"background {photo.background}", f"format {photo.format}"):
            by_kind[kind][0] += shop["class_id"] == label
            by_kind[kind][1] += 1
    count = len(labels)
    native_accuracy, photo_accuracy = native_hits / count, photo_hits / count
    ratio = photo_accuracy / native_accuracy if native_accuracy else 0.0
    return {
        "count": count,
        "native_accuracy": round(native_accuracy, 4),
        "photo_accuracy": round(photo_accuracy, 4),
        "ratio": round(ratio, 4),
        "agreement": round(agree / count, 4),
        "goal": {"ratio_at_least": GOAL, "pass": bool(ratio >= GOAL)},
        "preprocess_used": dict(sorted(modes.items())),
        "photo_accuracy_by": {
            kind: {"count": total, "accuracy": round(hits / total, 4)}
            for kind, (hits, total) in sorted(by_kind.items())
        },
    }


def print_summary(report: dict[str, Any]) -> None:
    model = report["model"]
    print(f"\nmodel {model['directory']} (recorded test accuracy {model['test_accuracy']})")
    print(f"{report['count']} {report['split']} images (seed {report['seed']}), /predict?preprocess=auto")
    print(f"  native 28x28 PNG accuracy  {report['native_accuracy']:.4f}")
    print(f"  shop-photo accuracy        {report['photo_accuracy']:.4f}")
    print(f"  ratio photo / native       {report['ratio']:.4f}")
    print(f"  same class both ways       {report['agreement']:.4f}")
    print(f"  preparations used          {report['preprocess_used']}")
    for kind, row in report["photo_accuracy_by"].items():
        print(f"    {kind:24} {row['accuracy']:.4f}  ({row['count']})")
    verdict = "PASS" if report["goal"]["pass"] else "FAIL"
    print(f"{verdict}  photo accuracy >= {GOAL} x native accuracy  (measured {report['ratio']:.4f})")


def run(count: int, seed: int, split: str, model_dir: Path) -> dict[str, Any]:
    data = load_fashion_mnist(download=False)
    images, labels = (data.x_test, data.y_test) if split == "test" else (data.x_train, data.y_train)
    indices = np.sort(np.random.default_rng(seed).choice(len(images), size=count, replace=False))
    started = time.perf_counter()
    photos = list(shop_photos(images, seed=seed, indices=indices))
    generated_s = time.perf_counter() - started
    env = {**os.environ, "MODEL_DIR": str(model_dir.parent), "MODEL_VERSION": model_dir.name}
    env |= {"PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}
    with (
        tempfile.TemporaryDirectory(prefix="photo-bench-") as tmp,
        serve("service", env, Path(tmp)) as server,
    ):
        started = time.perf_counter()
        report = measure(server.port, images[indices], labels[indices], photos)
        posted_s = time.perf_counter() - started
    return {
        "command": " ".join(["python -m benchmarks.photo_accuracy", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "split": split,
        "seed": seed,
        "model": model_summary(model_dir),
        **report,
        "seconds": {"generating_photos": round(generated_s, 1), "posting": round(posted_s, 1)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.photo_accuracy", description=__doc__)
    parser.add_argument("--count", type=int, default=1000, help="images drawn from the split (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="which images, and their photos")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--model-dir", type=Path, help="a version directory; default: the service's choice")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    settings = get_settings()
    model_dir = args.model_dir or resolve_version_dir(settings.model_dir, settings.model_version)
    report = run(args.count, args.seed, args.split, model_dir.resolve())
    print_summary(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
