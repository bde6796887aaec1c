"""Train a zoo model on a seeded train/validation split; the test set is never read here."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from app.config import REPO_ROOT
from app.preprocessing import NUM_CLASSES, prepare_batch
from training.augment import augment
from training.data import ImageDataset
from training.datasets import get_dataset
from training.openset import NOT_A_GARMENT, OpenSetPools, open_set_pools


@dataclass
class TrainConfig:
    """Everything that determines a training run."""

    model: str
    epochs: int
    batch_size: int
    seed: int = 42
    dataset: str = "fashion-mnist"  # training/datasets.py: the data, and the model's name
    val_size: int = 5_000
    augment: bool = False
    label_smoothing: float = 0.0
    subset: int | None = None  # train on the first N training images (quick checks)
    command: str = ""
    open_set: bool = False
    erasing: float = 0.3
    validation_freq: int = 1
    ema: bool = True  # keep the recipe's weight EMA, if it has one (ablations turn it off)
    flip: bool = True  # mirror images in augmentation (off where that changes the class: digits)


def default_config(model: str, dataset: str = "fashion-mnist", **overrides: object) -> TrainConfig:
    """The data set's zoo recipe's defaults, with explicit overrides (None means keep default)."""
    spec = get_dataset(dataset)
    recipe = spec.recipe(model)
    config = TrainConfig(
        model=model,
        dataset=dataset,
        val_size=spec.val_size,
        flip=spec.mirror_invariant,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        augment=recipe.augment,
        label_smoothing=recipe.label_smoothing,
        open_set=recipe.open_set,
        erasing=recipe.erasing,
        validation_freq=recipe.validation_freq,
    )
    for key, value in overrides.items():
        if value is not None:
            setattr(config, key, value)
    return config


def num_outputs(config: TrainConfig) -> int:
    """Ten garment classes, plus "not a garment" for an open-set recipe."""
    return NUM_CLASSES + 1 if config.open_set else NUM_CLASSES


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int,
    augmented: bool,
    erasing: float = 0.3,
    classes: int = NUM_CLASSES,
    flip: bool = True,
) -> tf.data.Dataset:
    """uint8 images -> (prepared float batch, one-hot labels), shuffled and augmented for training."""
    x = prepare_batch(images)
    y = keras.utils.to_categorical(labels, classes)
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if augmented:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if augmented:
        data = data.map(lambda a, b: augment(a, b, erasing, flip), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def open_set_dataset(
    x_train: np.ndarray, y_train: np.ndarray, pools: OpenSetPools, config: TrainConfig
) -> tuple[tf.data.Dataset, int]:
    """Garments, garment drawings and non-garments mixed in proportion to their pool sizes; steps/epoch.

    An epoch is one pass over the garments plus as many drawings and non-garments as the pools hold.
    """
    x = np.concatenate([x_train, pools.drawings, pools.negatives])
    y = np.concatenate([y_train, pools.drawing_labels, np.full(len(pools.negatives), NOT_A_GARMENT)])
    data = make_dataset(x, y, config.batch_size, config.seed, True, config.erasing, NUM_CLASSES + 1)
    return data, int(np.ceil(len(x) / config.batch_size))


def compile_model(model: keras.Model, config: TrainConfig, steps_per_epoch: int) -> None:
    """Attach the recipe's optimizer and a from-logits loss."""
    recipe = get_dataset(config.dataset).recipe(config.model)
    optimizer = recipe.optimizer(steps_per_epoch, config.epochs)
    if not config.ema:
        optimizer.use_ema = False  # read when the optimizer builds its variables, at the first step
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )


def fit(
    config: TrainConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    verbose: int | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    keep_best: bool = True,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train a fresh model; keep the weights of the best validation epoch unless `keep_best` is off."""
    keras.utils.set_random_seed(config.seed)
    recipe = get_dataset(config.dataset).recipe(config.model)
    classes = num_outputs(config)
    # an open-set recipe's builder takes its output count: an ablation may turn the extra class off
    model = recipe.build(outputs=classes) if recipe.open_set else recipe.build()  # type: ignore[call-arg]
    if recipe.start_from:
        load_start(model, REPO_ROOT / "models" / recipe.start_from / "model.keras")
    if config.open_set:
        train, steps = open_set_dataset(
            x_train, y_train, open_set_pools(x_train, y_train, config.seed), config
        )
    else:
        train = make_dataset(
            x_train, y_train, config.batch_size, config.seed, config.augment, config.erasing, flip=config.flip
        )
        steps = int(np.ceil(len(x_train) / config.batch_size))
    val = make_dataset(x_val, y_val, 512, config.seed, augmented=False, classes=classes)
    compile_model(model, config, steps_per_epoch=steps)
    best = BestWeights()
    if verbose is None:  # a live progress bar on a terminal, one line per epoch in a log
        verbose = 1 if sys.stdout.isatty() else 2
    history = model.fit(
        train,
        validation_data=val,
        epochs=config.epochs,
        validation_freq=config.validation_freq,
        verbose=verbose,
        callbacks=[best, *(callbacks or [])],
    )
    if keep_best and config.validation_freq == 1:  # else the last weights (an EMA, a decayed schedule)
        best.restore(model)
    return model, {k: [float(v) for v in vs] for k, vs in history.history.items()}


def load_start(model: keras.Model, keras_file: Path) -> None:
    """Start `model` from a shipped version's weights, layer by layer (same architecture).

    A head with more outputs than the shipped one keeps the shipped classes' weights; the extra
    outputs (the open set's "not a known object") start at zero weights and a bias of zero.
    """
    shipped = keras.models.load_model(keras_file, compile=False)
    # a shipped model.keras wraps the trained logits model (flip averaging, calibration, softmax)
    logits = shipped
    while inner := [layer for layer in logits.layers if isinstance(layer, keras.Model)]:
        logits = inner[0]
    ours, theirs = model.layers, logits.layers
    if [type(layer) for layer in ours] != [type(layer) for layer in theirs]:
        raise ValueError(f"{keras_file}: not the architecture of {model.name!r}")
    for target, source in zip(ours, theirs, strict=True):
        weights = source.get_weights()
        wanted = target.get_weights()
        if all(w.shape == v.shape for w, v in zip(weights, wanted, strict=True)):
            target.set_weights(weights)
            continue
        grown = [np.zeros_like(v) for v in wanted]  # a wider head: copy the shipped columns
        for new, old in zip(grown, weights, strict=True):
            new[..., : old.shape[-1]] = old
        target.set_weights(grown)


class BestWeights(keras.callbacks.Callback):
    """Remember the weights of the epoch with the highest validation accuracy."""

    def __init__(self) -> None:
        super().__init__()
        self.best_accuracy = -1.0
        self.best_epoch = -1
        self.weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        accuracy = float((logs or {}).get("val_accuracy", -1.0))
        if accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch = accuracy, epoch
            self.weights = self.model.get_weights()

    def restore(self, model: keras.Model) -> None:
        if self.weights is not None:
            model.set_weights(self.weights)


def split_indices(config: TrainConfig, data: ImageDataset) -> tuple[np.ndarray, np.ndarray]:
    """The run's seeded (train, validation) indices; `subset` keeps the first N training ones."""
    train_idx, val_idx = data.train_val_split(config.val_size, config.seed)
    return (train_idx[: config.subset] if config.subset else train_idx), val_idx


def train(config: TrainConfig, runs_dir: Path, data_dir: str | None = None) -> Path:
    """Run training and write runs/<model>-seed<seed>-<time>/ with model.keras, history, config."""
    data = get_dataset(config.dataset).load(data_dir)
    train_idx, val_idx = split_indices(config, data)
    started = time.time()
    model, history = fit(
        config, data.x_train[train_idx], data.y_train[train_idx], data.x_train[val_idx], data.y_train[val_idx]
    )
    wall = time.time() - started
    run_dir = runs_dir / f"{config.model}-seed{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    tmp = run_dir.with_name(".tmp-" + run_dir.name)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.keras")
    (tmp / "history.json").write_text(json.dumps(history, indent=1))
    run_info = {
        "config": asdict(config),
        "wall_seconds": round(wall, 1),
        "epochs_run": len(history.get("loss", [])),
        "best_val_accuracy": max(history.get("val_accuracy", [0.0])),
        "data_checksums": data.checksums,
        "train_images": int(len(train_idx)),
        "val_images": int(len(val_idx)),
    }
    (tmp / "run.json").write_text(json.dumps(run_info, indent=1))
    tmp.rename(run_dir)
    print(f"run written to {run_dir} ({wall / 60:.1f} min)")
    return run_dir
