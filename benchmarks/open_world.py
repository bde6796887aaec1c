"""Open world: does the service say when an upload is not a garment, and read drawings as garments?

    .venv/bin/python -m benchmarks.open_world                 # 500 images per set, a few minutes
    .venv/bin/python -m benchmarks.open_world --count 40      # a smoke run
    .venv/bin/python -m benchmarks.open_world --check         # the CI run: 200 per set, writes nothing

Starts the real service and posts, over real HTTP to /predict with the default `auto`
preparation, proxy sets made here (the acceptance sets, drawn by others, are hidden):
- garments: test images as their 28x28 PNG, as shop-style photos, and as drawings (outline,
  silhouette, flat icon, line art; training/drawings.py), all from the *test* split;
- non-garments: procedural drawings (training/negatives.py) with seeds never used in training, one
  family (houses, cars, trees, suns) never used at all;
- empty frames: blank, uniform, gradient and noise images, which must all be `no_object`.
Reports the kept share (`is_garment` true) of each garment set and the accuracy on drawings, the
flagged share of the non-garments, the reasons given for empty frames, and the AUROC of
`garment_score` (a `no_object` answer scores 0). A full run writes
benchmarks/results/open_world/<UTC time>.json.

Exit status: 0 when the goals pass, 1 when one fails, 2 when the benchmark could not run. The goals
depend on the model, not on the machine, so --check judges all of them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

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
from training.drawings import STYLES, drawing_upload
from training.negatives import HELD_OUT_FAMILIES, TRAINING_FAMILIES, negative_uploads
from training.open_world import NEGATIVE_SEED, TEST_SEED, auroc
from training.shop_photos import shop_photos

GOALS = (
    Goal("dataset_kept", "Fashion-MNIST test images kept as garments >= 99 %", 0.99, check=0.99),
    Goal("photos_kept", "shop-style photos kept >= 97 %", 0.97, check=0.97),
    Goal("drawings_kept", "garment drawings kept >= 90 %", 0.90, check=0.90),
    Goal("non_garments_flagged", "non-garments flagged >= 90 %", 0.90, check=0.90),
    Goal("empty_flagged", "blank, uniform, gradient, noise: all flagged", 1.0, check=1.0),
    Goal("auroc", "AUROC of garment_score, garments vs non-garments >= 0.97", 0.97, check=0.97),
    Goal("errors", "every /predict answered 200", 0.0, at_most=True, check=0.0),
)
FULL_COUNT = 500
CHECK_COUNT = 200
Upload = tuple[str, bytes]  # (group, PNG/JPEG/WebP bytes)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def empty_frames(seed: int) -> Iterator[Upload]:
    """Images with nothing in them: blank, uniform colours, gradients, noise, at several sizes."""
    rng = np.random.default_rng(seed)
    for size in ((28, 28), (64, 48), (300, 200), (640, 480)):
        w, h = size
        for value in (0, 128, 255):
            yield "blank", png(Image.new("L", size, value))
        yield "uniform colour", png(Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, 3))))
        ramp = np.linspace(0, 255, w)[None, :].repeat(h, axis=0)
        yield "gradient", png(Image.fromarray(ramp.astype(np.uint8)))
        yield (
            "gradient",
            png(Image.fromarray((255 - ramp.T[:h, :w] if h == w else ramp[::-1]).astype(np.uint8))),
        )
        yield "noise", png(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)))
        yield "noise", png(Image.fromarray(np.clip(rng.normal(128, 40, (h, w, 3)), 0, 255).astype(np.uint8)))
        salt = np.where(rng.uniform(size=(h, w)) < 0.05, 255, 0).astype(np.uint8)
        yield "noise", png(Image.fromarray(salt))


def garment_uploads(count: int, seed: int) -> dict[str, list[tuple[str, bytes, int]]]:
    """(group, bytes, label) per garment set, from the first `count` test images (seeded choice)."""
    data = load_fashion_mnist(download=False)
    pick = np.sort(np.random.default_rng(seed).choice(len(data.x_test), count, replace=False))
    images, labels = data.x_test[pick], data.y_test[pick].tolist()
    drawings = []
    for index, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        style = STYLES[index % len(STYLES)]
        drawings.append((style, drawing_upload(pixels, style, np.random.default_rng([seed, index])), label))
    return {
        "dataset": [("28x28 PNG", encode_png(p), y) for p, y in zip(images, labels, strict=True)],
        "photos": [(p.format, p.data, y) for p, y in zip(shop_photos(images, seed), labels, strict=True)],
        "drawings": drawings,
    }


def post(port: int, data: bytes, errors: list[str]) -> dict[str, Any] | None:
    body, content_type = multipart("file", [("upload", data, "application/octet-stream")])
    status, answer = request(port, "POST", "/predict", body, content_type)
    if status != 200:
        errors.append(f"{status} {answer[:200]!r}")
        return None
    result: dict[str, Any] = json.loads(answer)
    return result


def score(answer: dict[str, Any] | None) -> float:
    """garment_score, 0 for no_object or a failed request."""
    if answer is None or answer.get("reason") == "no_object" or answer.get("garment_score") is None:
        return 0.0
    return float(answer["garment_score"])


def measure(port: int, count: int, seed: int) -> dict[str, Any]:
    errors: list[str] = []
    sets: dict[str, Any] = {}
    garment_scores: list[float] = []
    for name, uploads in garment_uploads(count, seed).items():
        answers = [(group, post(port, data, errors), label) for group, data, label in uploads]
        kept = [a is not None and a["is_garment"] for _, a, _ in answers]
        right = [a is not None and a["class_id"] == label for _, a, label in answers]
        groups = sorted({g for g, _, _ in answers})
        sets[name] = {
            "count": len(answers),
            "kept": float(np.mean(kept)),
            "accuracy": float(np.mean(right)),
            "by_group": {
                g: {
                    "kept": float(
                        np.mean([k for (gg, _, _), k in zip(answers, kept, strict=True) if gg == g])
                    ),
                    "accuracy": float(
                        np.mean([r for (gg, _, _), r in zip(answers, right, strict=True) if gg == g])
                    ),
                }
                for g in groups
            },
        }
        garment_scores += [score(a) for _, a, _ in answers]
    negative_scores: list[float] = []
    for name, families, seed_offset, share in (
        ("non-garments", TRAINING_FAMILIES, 0, 1),
        ("unseen-family", HELD_OUT_FAMILIES, 1, 4),
    ):
        uploads = negative_uploads(count // share, NEGATIVE_SEED["test"] + 100 + seed_offset, families)
        answers = [(family, post(port, data, errors)) for family, data in uploads]
        flagged = [a is not None and not a["is_garment"] for _, a in answers]
        sets[name] = {
            "count": len(answers),
            "flagged": float(np.mean(flagged)),
            "by_group": {
                f: float(np.mean([x for (ff, _), x in zip(answers, flagged, strict=True) if ff == f]))
                for f in sorted({f for f, _ in answers})
            },
        }
        negative_scores += [score(a) for _, a in answers]
    empty = [(group, post(port, data, errors)) for group, data in empty_frames(seed)]
    sets["empty"] = {
        "count": len(empty),
        "flagged": float(np.mean([a is not None and not a["is_garment"] for _, a in empty])),
        "reasons": dict(Counter(f"{g}: {a['reason'] if a else 'error'}" for g, a in empty)),
    }
    return {
        "sets": sets,
        "auroc": auroc(np.array(garment_scores), np.array(negative_scores)),
        "errors": len(errors),
        "error_examples": errors[:5],
    }


def print_summary(report: dict[str, Any]) -> None:
    print(f"\nmodel {report['model']['directory']}; {report['count']} images per set (seed {report['seed']})")
    for name, figures in report["sets"].items():
        main = {k: v for k, v in figures.items() if k in ("count", "kept", "accuracy", "flagged")}
        print(
            f"  {name:14} "
            + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in main.items())
        )
        for group, value in (figures.get("by_group") or {}).items():
            print(f"      {group:20} {value}")
    print(f"  empty-frame reasons: {report['sets']['empty']['reasons']}")
    print(f"  AUROC of garment_score: {report['auroc']:.4f}")
    print_verdicts(report["goals"])


def run(count: int, seed: int, model_dir: Path, goals: list[Goal], check: bool) -> dict[str, Any]:
    env = {**os.environ, "MODEL_DIR": str(model_dir.parent), "MODEL_VERSION": model_dir.name}
    env |= {"PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}
    with (
        tempfile.TemporaryDirectory(prefix="open-world-bench-") as tmp,
        serve_app("service", "app.main:app", env, Path(tmp)) as server,
    ):
        started = time.perf_counter()
        report = measure(server.port, count, seed)
        seconds = time.perf_counter() - started
    sets = report["sets"]
    values = {
        "dataset_kept": sets["dataset"]["kept"],
        "photos_kept": sets["photos"]["kept"],
        "drawings_kept": sets["drawings"]["kept"],
        "non_garments_flagged": sets["non-garments"]["flagged"],
        "empty_flagged": sets["empty"]["flagged"],
        "auroc": report["auroc"],
        "errors": report["errors"],
    }
    return {
        "command": " ".join(["python -m benchmarks.open_world", *sys.argv[1:]]),
        "date": utc_now(),
        "mode": "check" if check else "full",
        "seed": seed,
        "count": count,
        "model": model_summary(model_dir),
        **report,
        "goals": judge(goals, values, check),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.open_world", description=__doc__)
    parser.add_argument(
        "--count", type=int, help=f"images per set (default {FULL_COUNT}; --check {CHECK_COUNT})"
    )
    parser.add_argument("--seed", type=int, default=TEST_SEED, help="which test images, and their renders")
    add_run_arguments(parser, "open_world", "--check and a run with --count below 500")
    add_goal_arguments(parser, GOALS, "200 images per set; judge every goal (they depend on the model only)")
    args = parser.parse_args(argv)
    count = args.count or (CHECK_COUNT if args.check else FULL_COUNT)
    model_dir = chosen_model_dir(args.model_dir)
    try:
        report = run(count, args.seed, model_dir, with_overrides(GOALS, args.goal), args.check)
    except COULD_NOT_RUN as error:
        print(f"the benchmark could not run: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    print_summary(report)
    out = args.out or (dated_results_path("open_world") if not args.check and count >= FULL_COUNT else None)
    if out:
        write_results(report, out)
    return exit_status(report["goals"])


if __name__ == "__main__":
    raise SystemExit(main())
