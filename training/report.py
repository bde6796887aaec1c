"""The per-version training report: figures plus report.md gathering every metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.evaluate import format_report, reliability_bins
from training.plots import (
    plot_confusion,
    plot_garment_scores,
    plot_learning_curves,
    plot_reliability,
    plot_roc,
    plot_samples,
)

SAMPLE_SEED = 7
SAMPLE_COUNT = 24


def write_report(
    directory: Path,
    metadata: dict[str, object],
    validation: dict[str, object],
    test: dict[str, object],
    history: dict[str, list[float]],
    x_test: np.ndarray,
    y_test: np.ndarray,
    test_probs: np.ndarray,
) -> Path:
    """Write the figures and report.md into a version directory."""
    names: list[str] = metadata["labels"]  # type: ignore[assignment]
    plot_confusion(np.array(test["confusion_matrix"]), directory / "confusion_matrix.png", names=names)
    plot_learning_curves(history, directory / "learning_curves.png")
    plot_reliability(reliability_bins(test_probs, y_test), float(test["ece"]), directory / "reliability.png")  # type: ignore[arg-type]
    pick = np.random.default_rng(SAMPLE_SEED).choice(len(x_test), SAMPLE_COUNT, replace=False)
    plot_samples(x_test[pick], y_test[pick], test_probs[pick], directory / "samples.png", names)
    training: dict[str, object] = metadata["training"]  # type: ignore[assignment]
    text = f"""# {metadata["name"]} version {metadata["version"]}

Created {metadata["created"]}. Model `{training["model"]}`, {training["parameters"]} parameters,
seed {training["seed"]}, {training["epochs_run"]} epochs in {float(training["wall_seconds"]) / 60:.1f} min
(training wall time), temperature {float(training["temperature"]):.3f} fitted on the validation split.

Trained with: `{training["command"]}`
Exported with: `{training["export_command"]}`

All metrics are of the exported `model.tflite` run with LiteRT, through the same ÷255 contract
as the service. The test set was read once, after training and calibration.

```
{format_report(validation, "validation")}

{format_report(test, "test")}
```

## Confusion matrix (test)
![confusion matrix](confusion_matrix.png)

## Learning curves
![learning curves](learning_curves.png)

## Reliability diagram (test, 15 bins)
![reliability](reliability.png)

## Sample test predictions
Green title: correct; red: wrong. Bars: green is the true class, red the prediction.

![samples](samples.png)
"""
    path = directory / "report.md"
    path.write_text(text)
    return path


def write_open_world_section(
    directory: Path, figures: dict[str, object], scores: dict[str, np.ndarray]
) -> None:
    """Append the garment detector's proxy figures, its score histogram and ROC curve to report.md."""
    threshold = float(figures["threshold"])  # type: ignore[arg-type]
    plot_garment_scores(scores, threshold, directory / "garment_scores.png")
    plot_roc(figures["roc"], float(figures["auroc_all_garments_vs_non_garments"]), directory / "roc.png")  # type: ignore[arg-type]
    rows = []
    sets: dict[str, dict[str, object]] = figures["sets"]  # type: ignore[assignment]
    for name, values in sets.items():
        accuracy = f"{float(values['accuracy']):.2%}" if "accuracy" in values else "–"
        kind = "garments" if "accuracy" in values else "non-garments"
        rows.append(f"| {name} | {kind} | {values['count']} | {float(values['kept']):.2%} | {accuracy} |")  # type: ignore[arg-type]
        for group, g in (values.get("by_group") or {}).items():  # type: ignore[union-attr]
            g_accuracy = f"{g['accuracy']:.2%}" if "accuracy" in g else "–"
            rows.append(f"| &nbsp;&nbsp;{name}: {group} | | | {g['kept']:.2%} | {g_accuracy} |")
    table = "\n".join(rows)
    text = f"""
## Open world: is it a garment? (proxy sets, test)

`garment_score = 1 - p(not a known object)`; an image is a garment when its score is at least
**{threshold:.4f}**, a threshold chosen on validation renders only (see `metadata.json`, `open_set`).
These sets are proxies made here from *test* images and procedural drawings (no third-party
drawings): `dataset` is the 10,000 test images as they are; `photos` shop-style photos, `drawings`
outline / silhouette / icon / line-art renders and `squashed` ±30 % aspect changes of the first 1,000;
`non-garments` procedural drawings of the training families with fresh seeds; `unseen-family`
(houses, cars, trees, suns) a family the model never saw. Every image went through the service's
preparation. "kept" is the share with `is_garment` true; accuracy is top-1 over the ten classes.

| set | kind | images | kept | accuracy |
|---|---|---|---|---|
{table}

AUROC of garment_score, all garment sets against all non-garments:
{float(figures["auroc_all_garments_vs_non_garments"]):.4f}; drawings against non-garments:
{float(figures["auroc_drawings_vs_non_garments"]):.4f}.

![garment score histogram](garment_scores.png)

![ROC curve](roc.png)
"""
    with (directory / "report.md").open("a") as handle:
        handle.write(text)
