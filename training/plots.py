"""Report figures (matplotlib, Agg backend): confusion matrix, curves, reliability, samples, box plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from app.preprocessing import LABELS  # noqa: E402


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_confusion(
    matrix: np.ndarray, path: Path, title: str = "Confusion matrix (test)", names: Sequence[str] = LABELS
) -> Path:
    figure, axes = plt.subplots(figsize=(7.5, 6.5))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(10), names, rotation=45, ha="right")
    axes.set_yticks(range(10), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for i in range(10):
        for j in range(10):
            value = int(matrix[i][j])
            colour = "white" if value > matrix.max() / 2 else "black"
            axes.text(j, i, str(value), ha="center", va="center", fontsize=7, color=colour)
    axes.set_title(title)
    figure.colorbar(image)
    return _save(figure, path)


def plot_learning_curves(history: dict[str, list[float]], path: Path) -> Path:
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for key, axes in (("loss", loss_axes), ("accuracy", acc_axes)):
        axes.plot(history.get(key, []), label="train")
        axes.plot(history.get(f"val_{key}", []), label="validation")
        axes.set_xlabel("epoch")
        axes.set_title(key)
        axes.legend()
    return _save(figure, path)


def plot_reliability(bins: dict[str, list[float]], ece: float, path: Path) -> Path:
    edges = np.array(bins["edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    figure, axes = plt.subplots(figsize=(5, 5))
    counts = np.array(bins["count"])
    shown = counts > 0
    axes.bar(
        centres[shown],
        np.array(bins["accuracy"])[shown],
        width=edges[1] - edges[0],
        edgecolor="k",
        label="accuracy",
    )
    axes.plot([0, 1], [0, 1], "r--", label="perfect calibration")
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"Reliability (test), ECE = {ece:.4f}")
    axes.legend(loc="upper left")
    return _save(figure, path)


def plot_samples(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    path: Path,
    names: Sequence[str] = LABELS,
) -> Path:
    """A grid of images, each with its probability bars (true class green, wrong prediction red)."""
    count = len(images)
    figure, grid = plt.subplots(count // 4, 8, figsize=(14, 1.9 * (count // 4)))
    for k in range(count):
        image_axes, bar_axes = grid[k // 4][2 * (k % 4)], grid[k // 4][2 * (k % 4) + 1]
        predicted = int(probabilities[k].argmax())
        image_axes.imshow(images[k], cmap="gray")
        image_axes.set_axis_off()
        image_axes.set_title(
            f"{names[predicted]} ({probabilities[k][predicted]:.0%})",
            fontsize=7,
            color="green" if predicted == labels[k] else "red",
        )
        colours = ["grey"] * 10
        colours[predicted] = "red"
        colours[int(labels[k])] = "green"
        bar_axes.barh(range(10), probabilities[k], color=colours)
        bar_axes.set_xlim(0, 1)
        bar_axes.set_yticks(range(10), names, fontsize=5)
        bar_axes.invert_yaxis()
        bar_axes.tick_params(axis="x", labelsize=5)
    return _save(figure, path)


def plot_box(scores: dict[str, list[float]], path: Path, title: str) -> Path:
    figure, axes = plt.subplots(figsize=(max(5, 1.2 * len(scores)), 4))
    axes.boxplot(list(scores.values()))
    axes.set_xticks(range(1, len(scores) + 1), list(scores), rotation=30, ha="right")
    axes.set_ylabel("validation accuracy")
    axes.set_title(title)
    return _save(figure, path)


def plot_fold_curves(histories: list[dict[str, list[float]]], path: Path, title: str) -> Path:
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for fold, history in enumerate(histories):
        for key, axes in (("loss", loss_axes), ("accuracy", acc_axes)):
            axes.plot(history.get(key, []), color="C0", alpha=0.6, label="train" if fold == 0 else None)
            axes.plot(
                history.get(f"val_{key}", []),
                color="C1",
                alpha=0.6,
                label="held-out fold" if fold == 0 else None,
            )
            axes.set_title(f"{title}: {key}")
            axes.set_xlabel("epoch")
    loss_axes.legend()
    return _save(figure, path)


def plot_garment_scores(scores: dict[str, np.ndarray], threshold: float, path: Path) -> Path:
    """Histogram of garment_score per proxy set, with the threshold."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    bins = np.linspace(0, 1, 41)
    for name, values in scores.items():
        axes.hist(
            values, bins=bins, histtype="step", density=True, linewidth=1.5, label=f"{name} ({len(values)})"
        )
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    axes.set_yscale("log")
    axes.set_xlabel("garment_score")
    axes.set_ylabel("density (log)")
    axes.legend(fontsize=8, loc="upper center")
    return _save(figure, path)


def plot_roc(roc: dict[str, list[float]], auroc: float, path: Path) -> Path:
    """ROC curve of garment_score: all garment proxy sets against the non-garments."""
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(roc["false_positive_rate"], roc["true_positive_rate"], label=f"AUROC {auroc:.4f}")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axes.set_xlabel("non-garments kept (false positive rate)")
    axes.set_ylabel("garments kept (true positive rate)")
    axes.legend(loc="lower right")
    return _save(figure, path)
