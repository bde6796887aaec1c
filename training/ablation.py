"""`python -m training ablate`: what each element of a recipe buys, from short runs on the validation split.

Each variant switches one element of the recipe off (or on) and trains the same short run
(a subset of the training split, a few epochs, the same seed); every figure is validation
accuracy over the ten classes, with and without flip averaging. The test set is never read.
Short runs rank the elements; they do not predict the full run's accuracy.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np

from app.preprocessing import NUM_CLASSES, prepare_batch
from training.data import FashionMNIST
from training.train import TrainConfig, fit, split_indices

# name -> overrides of the recipe's TrainConfig
VARIANTS: dict[str, dict[str, object]] = {
    "recipe": {},
    "no weight EMA": {"ema": False},
    "no label smoothing": {"label_smoothing": 0.0},
    "no open set (no drawings, no non-garments, 10 outputs)": {"open_set": False},
    "with random erasing (p = 0.3)": {"erasing": 0.3},
}


def validation_accuracy(model: keras.Model, x_val: np.ndarray, y_val: np.ndarray) -> tuple[float, float]:
    """Top-1 over the ten classes (an open-set model's extra output ignored), plain and flip-averaged."""
    batch = prepare_batch(x_val)
    plain = model.predict(batch, batch_size=512, verbose=0)[:, :NUM_CLASSES]
    mirrored = model.predict(batch[:, :, ::-1], batch_size=512, verbose=0)[:, :NUM_CLASSES]
    return float((plain.argmax(1) == y_val).mean()), float(((plain + mirrored).argmax(1) == y_val).mean())


def ablate(
    base: TrainConfig,
    data: FashionMNIST,
    out: Path,
    variants: list[str] | None = None,
    report: Path | None = None,
) -> list[dict]:
    """Train every variant; write out/ablation.json and out/ablation.md (and append it to `report`)."""
    train_idx, val_idx = split_indices(base, data)
    x_val, y_val = data.x_train[val_idx], data.y_train[val_idx]
    rows = []
    for name in variants or list(VARIANTS):
        config = replace(base, **VARIANTS[name], validation_freq=max(1, base.epochs))
        started = time.time()
        model, _ = fit(config, data.x_train[train_idx], data.y_train[train_idx], x_val, y_val, verbose=2)
        plain, flipped = validation_accuracy(model, x_val, y_val)
        rows.append(
            {
                "variant": name,
                "val_accuracy": plain,
                "val_accuracy_flip_averaged": flipped,
                "minutes": round((time.time() - started) / 60, 1),
                "config": asdict(config),
            }
        )
        print(f"{name}: {plain:.4f} (flip-averaged {flipped:.4f})")
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(rows, indent=1))
    (out / "ablation.md").write_text(ablation_table(rows, base))
    if report is not None:
        append_to_report(report, rows, base)
    return rows


def append_to_report(report: Path, rows: list[dict], base: TrainConfig) -> None:
    """Add the ablation table to a version's report.md (the version's artifacts are not touched)."""
    with report.open("a") as handle:
        handle.write(
            f"\n## What each recipe element bought (validation, short runs)\n\n{ablation_table(rows, base)}"
        )


def ablation_table(rows: list[dict], base: TrainConfig) -> str:
    """A Markdown table: each variant's validation accuracy and its difference to the recipe."""
    reference = rows[0]["val_accuracy_flip_averaged"]
    lines = [
        f"Short runs of `{base.model}`: {rows[0]['config']['subset'] or 'all'} training images, "
        f"{base.epochs} epochs, seed {base.seed}; validation split ({base.val_size} images).",
        "",
        "| variant | val accuracy | with flip averaging | vs recipe (flip-averaged) | minutes |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        delta = (row["val_accuracy_flip_averaged"] - reference) * 100
        lines.append(
            f"| {row['variant']} | {row['val_accuracy']:.2%} | {row['val_accuracy_flip_averaged']:.2%} "
            f"| {delta:+.2f} points | {row['minutes']} |"
        )
    return "\n".join(lines) + "\n"
