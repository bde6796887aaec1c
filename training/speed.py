"""`python -m training speed`: how long a recipe's full run will take here, from a few timed windows.

Each window trains the recipe's model on the real pipeline (same batches, augmentation and
optimizer as `train`) for a fixed number of steps. Training takes tens of minutes on a small
CPU machine, so this answers "will it fit my time budget?" in about a minute, and shows how
steady the machine is: on a shared VM the same window can run at half speed.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import keras
import numpy as np

from training.data import ImageDataset
from training.datasets import get_dataset
from training.train import TrainConfig, compile_model, make_dataset, num_outputs, split_indices

UNSTEADY_RATIO = 1.3  # fastest / slowest window above this: the machine's speed varies


@dataclass
class SpeedReport:
    model: str
    epochs: int
    train_images: int
    images_per_s: list[float]  # one figure per timed window

    @property
    def median(self) -> float:
        return statistics.median(self.images_per_s)

    def minutes_at(self, images_per_s: float) -> float:
        """Projected training time (validation passes left out: a few percent)."""
        return self.epochs * self.train_images / images_per_s / 60

    @property
    def steady(self) -> bool:
        return max(self.images_per_s) <= UNSTEADY_RATIO * min(self.images_per_s)

    def summary(self) -> str:
        rates = ", ".join(f"{r:.0f}" for r in self.images_per_s)
        lines = [
            f"{self.model}: {rates} training images/s per window (median {self.median:.0f})",
            f"projected `train` time for {self.epochs} epochs of {self.train_images} images: "
            f"{self.minutes_at(self.median):.1f} min at the median, "
            f"{self.minutes_at(max(self.images_per_s)):.1f}-{self.minutes_at(min(self.images_per_s)):.1f} min"
            " from the fastest to the slowest window",
        ]
        if not self.steady:
            lines.append(f"unsteady: windows differ by over {UNSTEADY_RATIO}x (a shared or throttled CPU?)")
        return "\n".join(lines)


def measure_speed(config: TrainConfig, data: ImageDataset, windows: int = 4, steps: int = 40) -> SpeedReport:
    """Time `windows` windows of `steps` training steps each, after one warm-up window."""
    train_idx, _ = split_indices(config, data)
    window_idx = train_idx[: steps * config.batch_size]
    keras.utils.set_random_seed(config.seed)
    model = get_dataset(config.dataset).recipe(config.model).build()
    dataset = make_dataset(
        data.x_train[window_idx],
        data.y_train[window_idx],
        config.batch_size,
        config.seed,
        config.augment,
        config.erasing,
        num_outputs(config),
        config.flip,
    )
    compile_model(model, config, steps_per_epoch=int(np.ceil(len(train_idx) / config.batch_size)))
    rates = []
    for window in range(windows + 1):
        started = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        if window:  # the first window builds the graph
            rates.append(len(window_idx) / (time.perf_counter() - started))
    return SpeedReport(config.model, config.epochs, len(train_idx), rates)
