"""Photo accuracy: the service on shop-style photos against the same garments as data-set images.

    .venv/bin/python -m benchmarks.photo_accuracy                 # 1000 test images, a few minutes
    .venv/bin/python -m benchmarks.photo_accuracy --count 50      # a smoke run
    .venv/bin/python -m benchmarks.photo_accuracy --split train   # the photos the conversion was tuned on

Starts the real service (one uvicorn process on a free localhost port) and posts, over real
HTTP to /predict with the default `auto` preparation, N images drawn (seeded) from a split:
each once as its native 28x28 PNG and once as a shop-style photo made from it
(training/shop_photos.py: tinted, light or transparent background, 200-800 px, off-centre,
JPEG/PNG/WebP). Prints both accuracies and their ratio, the goal being photo accuracy
>= 0.97 x native accuracy, with a breakdown by background and format; a full run writes it to
benchmarks/results/photo_accuracy/<UTC time>.json (or --out).

    .venv/bin/python -m benchmarks.photo_accuracy --check         # the CI run: 1000 images, writes nothing

Exit status: 0 when the goals pass (ratio >= 0.97, every request answered 200), 1 when one fails,
2 when the benchmark could not run. Both goals hold on any machine, so --check judges both; it
differs from a full run only in writing no results file unless --out is given.
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

from app.imaging import encode_png
from benchmarks.harness import (
    COULD_NOT_RUN,
    EXIT_COULD_NOT_RUN,
    Goal,
    add_goal_arguments,
    add_run_arguments,
    chosen_model_dir,
    dated_results_path,
    exit_status,
    judge,
    model_summary,
    print_verdicts,
    request,
    serve_app,
    utc_now,
    with_overrides,
    write_results,
)
from benchmarks.uploads import multipart
from training.data import load_fashion_mnist
from training.shop_photos import ShopPhoto, shop_photos

GOALS = (
    Goal("ratio", "photo accuracy >= 0.97 x native accuracy", 0.97, check=0.97),
    Goal("errors", "every /predict answered 200", 0.0, at_most=True, check=0.0),
)
FULL_COUNT = 1000
NO_ANSWER = {"class_id": -1, "preprocess": "error"}  # what a failed request counts as


def post(port: int, filename: str, data: bytes, media_type: str, errors: list[str]) -> dict[str, Any]:
    """POST one file to /predict; a non-200 answer is recorded in `errors` and counts as wrong."""
    body, content_type = multipart("file", [(filename, data, media_type)])
    status, answer = request(port, "POST", "/predict", body, content_type)
    if status != 200:
        errors.append(f"{filename}: {status} {answer[:200]!r}")
        return NO_ANSWER
    result: dict[str, Any] = json.loads(answer)
    return result


def measure(port: int, images: np.ndarray, labels: np.ndarray, photos: list[ShopPhoto]) -> dict[str, Any]:
    """Post every native PNG and its photo; accuracies, agreement, breakdowns and failed requests."""
    native_hits = photo_hits = agree = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    modes: dict[str, int] = defaultdict(int)
    errors: list[str] = []
    for pixels, label, photo in zip(images, labels.tolist(), photos, strict=True):
        native = post(port, "native.png", encode_png(pixels), "image/png", errors)
        shop = post(port, photo.filename, photo.data, photo.media_type, errors)
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
        "errors": len(errors),
        "error_examples": errors[:5],
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
    for example in report["error_examples"]:
        print(f"  failed request: {example}")
    print_verdicts(report["goals"])


def run(count: int, seed: int, split: str, model_dir: Path, goals: list[Goal], check: bool) -> dict[str, Any]:
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
        serve_app("service", "app.main:app", env, Path(tmp)) as server,
    ):
        started = time.perf_counter()
        report = measure(server.port, images[indices], labels[indices], photos)
        posted_s = time.perf_counter() - started
    values = {"ratio": report["ratio"], "errors": report["errors"]}
    return {
        "command": " ".join(["python -m benchmarks.photo_accuracy", *sys.argv[1:]]),
        "date": utc_now(),
        "mode": "check" if check else "full",
        "split": split,
        "seed": seed,
        "model": model_summary(model_dir),
        **report,
        "goals": judge(goals, values, check),
        "seconds": {"generating_photos": round(generated_s, 1), "posting": round(posted_s, 1)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.photo_accuracy", description=__doc__)
    parser.add_argument(
        "--count", type=int, default=FULL_COUNT, help="images drawn from the split (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="which images, and their photos")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    add_run_arguments(parser, "photo_accuracy", "--check and a run with --count below 1000")
    add_goal_arguments(parser, GOALS, "judge both goals (they hold on any machine); exit 1 when one fails")
    args = parser.parse_args(argv)
    model_dir = chosen_model_dir(args.model_dir)
    goals = with_overrides(GOALS, args.goal)
    try:
        report = run(args.count, args.seed, args.split, model_dir, goals, args.check)
    except COULD_NOT_RUN as error:
        print(f"the benchmark could not run: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    print_summary(report)
    quoted = not args.check and args.count >= FULL_COUNT  # smaller runs are smoke runs
    out = args.out or (dated_results_path("photo_accuracy") if quoted else None)
    if out:
        write_results(report, out)
    return exit_status(report["goals"])


if __name__ == "__main__":
    raise SystemExit(main())
