"""Metrics of a probability matrix against labels: accuracy, per-class P/R/F1, confusion, calibration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.preprocessing import LABELS, NUM_CLASSES

ECE_BINS = 15


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE with equal-width confidence bins (Guo et al. 2017)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> dict[str, list[float]]:
    """Per-bin mean confidence, accuracy and count (for the reliability diagram)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out: dict[str, list[float]] = {"edges": edges.tolist(), "confidence": [], "accuracy": [], "count": []}
    for b in range(bins):
        in_bin = which == b
        out["count"].append(float(in_bin.sum()))
        out["confidence"].append(float(confidence[in_bin].mean()) if in_bin.any() else 0.0)
        out["accuracy"].append(float(correct[in_bin].mean()) if in_bin.any() else 0.0)
    return out


def classification_metrics(
    probabilities: np.ndarray, labels: np.ndarray, names: Sequence[str] = LABELS
) -> dict[str, object]:
    """Everything we report about one split; `names` are the class names, in class-id order."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted)
    true_positive = np.diag(matrix).astype(np.float64)
    precision = true_positive / np.maximum(matrix.sum(axis=0), 1)
    recall = true_positive / np.maximum(matrix.sum(axis=1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    picked = probabilities[np.arange(len(labels)), labels]
    return {
        "accuracy": float((predicted == labels).mean()),
        "loss": float(-np.log(np.clip(picked, 1e-12, 1.0)).mean()),
        "ece": expected_calibration_error(probabilities, labels),
        "count": int(len(labels)),
        "per_class": {
            names[c]: {"precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c])}
            for c in range(NUM_CLASSES)
        },
        "confusion_matrix": matrix.tolist(),
    }


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising validation NLL of softmax(logits / T) (golden-section search)."""

    def nll(t: float) -> float:
        scaled = logits / t
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    low, high = 0.05, 10.0
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return float((low + high) / 2)


def format_report(metrics: dict[str, object], title: str) -> str:
    """A plain-text table of the metrics (printed by the CLI)."""
    per_class: dict[str, dict[str, float]] = metrics["per_class"]  # type: ignore[assignment]
    lines = [
        f"{title}: accuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}  "
        f"ECE {metrics['ece']:.4f}  ({metrics['count']} images)",
        f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>7}",
    ]
    lines += [
        f"{name:<12} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>7.4f}"
        for name, m in per_class.items()
    ]
    return "\n".join(lines)
