"""Shuffled, seeded k-fold cross-validation on the training set, and the zoo comparison."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import numpy as np

from app.preprocessing import prepare_batch
from training.data import ImageDataset
from training.plots import plot_box, plot_fold_curves
from training.train import TrainConfig, default_config, fit


@dataclass
class CVResult:
    """Per-fold held-out accuracy and what it cost."""

    model: str
    scores: list[float]
    histories: list[dict[str, list[float]]] = field(repr=False)
    seconds_per_epoch: float
    parameters: int
    inference_ms: float | None = None

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))


def kfold_indices(count: int, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold split: (train_idx, held_out_idx) per fold."""
    order = np.random.default_rng(seed).permutation(count)
    parts = np.array_split(order, folds)
    return [(np.concatenate(parts[:k] + parts[k + 1 :]), parts[k]) for k in range(folds)]


def cross_validate(config: TrainConfig, data: ImageDataset, folds: int) -> tuple[CVResult, keras.Model]:
    """Train a fresh model per fold on the other folds; score it on the held-out fold (final weights)."""
    count = config.subset or len(data.x_train)
    x, y = data.x_train[:count], data.y_train[:count]
    scores: list[float] = []
    histories: list[dict[str, list[float]]] = []
    seconds = 0.0
    model: keras.Model | None = None
    for k, (train_idx, held_idx) in enumerate(kfold_indices(count, folds, config.seed)):
        print(f"--- {config.model}: fold {k + 1}/{folds}")
        started = time.time()
        model, history = fit(
            replace(config, seed=config.seed + k),
            x[train_idx],
            y[train_idx],
            x[held_idx],
            y[held_idx],
            keep_best=False,
        )
        seconds += time.time() - started
        _, accuracy = model.evaluate(
            prepare_batch(x[held_idx]), keras.utils.to_categorical(y[held_idx], 10), verbose=0
        )
        print(f"fold {k + 1}: accuracy {accuracy:.4f}")
        scores.append(float(accuracy))
        histories.append(history)
    assert model is not None
    result = CVResult(
        config.model, scores, histories, seconds / (folds * config.epochs), int(model.count_params())
    )
    return result, model


def write_cv(result: CVResult, out: Path) -> None:
    """Per-fold scores, learning curves and a box plot for one model."""
    out.mkdir(parents=True, exist_ok=True)
    summary = {"model": result.model, "scores": result.scores, "mean": result.mean, "std": result.std}
    (out / f"cv-{result.model}.json").write_text(
        json.dumps({**summary, "histories": result.histories}, indent=1)
    )
    plot_fold_curves(result.histories, out / f"cv-{result.model}-curves.png", result.model)
    plot_box(
        {result.model: result.scores}, out / f"cv-{result.model}-box.png", f"{result.model}: k-fold accuracy"
    )
    print(f"{result.model}: {result.mean:.4f} ± {result.std:.4f} over {len(result.scores)} folds -> {out}")


def inference_ms(model: keras.Model, repeats: int = 500) -> float:
    """Single-image LiteRT latency of a model (converted like an export), one thread."""
    from ai_edge_litert.interpreter import Interpreter

    from training.export import to_tflite

    interpreter = Interpreter(model_content=to_tflite(model), num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    image = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
    for _ in range(50):
        interpreter.set_tensor(index, image)
        interpreter.invoke()
    started = time.perf_counter()
    for _ in range(repeats):
        interpreter.set_tensor(index, image)
        interpreter.invoke()
    return (time.perf_counter() - started) / repeats * 1000


def compare(
    names: list[str],
    data: ImageDataset,
    folds: int,
    epochs: int | None,
    subset: int | None,
    seed: int,
    out: Path,
    command: str = "",
    dataset: str = "fashion-mnist",
) -> list[CVResult]:
    """Cross-validate each model with the same folds; write a Markdown table and a box plot.

    `command` is the command line that ran it, recorded in compare.md.
    """
    results = []
    for name in names:
        config = default_config(name, dataset, epochs=epochs, subset=subset, seed=seed)
        result, model = cross_validate(config, data, folds)
        result.inference_ms = inference_ms(model)
        write_cv(result, out)
        results.append(result)
    plot_box({r.model: r.scores for r in results}, out / "compare-box.png", f"{folds}-fold accuracy")
    rows = [
        f"| {r.model} | {r.mean:.4f} ± {r.std:.4f} | {r.parameters:,} "
        f"| {r.seconds_per_epoch:.1f} | {r.inference_ms:.3f} |"
        for r in results
    ]
    table = "\n".join(
        [
            "| model | k-fold accuracy (mean ± std) | parameters | s / epoch | LiteRT ms / image |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    (out / "compare.md").write_text(
        f"# Model comparison\n\n{folds} folds, epochs {epochs or 'recipe default'}, "
        f"{subset or len(data.x_train)} training images, seed {seed}.\n\n"
        + (f"Made with `{command}`.\n\n" if command else "")
        + f"{table}\n\n![box plot](compare-box.png)\n"
    )
    (out / "compare.json").write_text(
        json.dumps(
            [
                {
                    k: getattr(r, k)
                    for k in (
                        "model",
                        "scores",
                        "mean",
                        "std",
                        "parameters",
                        "seconds_per_epoch",
                        "inference_ms",
                    )
                }
                for r in results
            ],
            indent=1,
        )
    )
    print(table)
    return results
