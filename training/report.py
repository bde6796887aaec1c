"""The per-version training report: figures plus report.md gathering every metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.evaluate import format_report, reliability_bins
from training.plots import plot_confusion, plot_learning_curves, plot_reliability, plot_samples

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
    plot_confusion(np.array(test["confusion_matrix"]), directory / "confusion_matrix.png")
    plot_learning_curves(history, directory / "learning_curves.png")
    plot_reliability(reliability_bins(test_probs, y_test), float(test["ece"]), directory / "reliability.png")  # type: ignore[arg-type]
    pick = np.random.default_rng(SAMPLE_SEED).choice(len(x_test), SAMPLE_COUNT, replace=False)
    plot_samples(x_test[pick], y_test[pick], test_probs[pick], directory / "samples.png")
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
