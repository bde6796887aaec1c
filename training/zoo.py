"""Model builders by name: the tutorial architectures and our own `final` model.

Every builder returns an uncompiled Keras model mapping (N, 28, 28, 1) float32 in
[0, 1] to 10 logits, plus the optimizer the tutorial used. Softmax and temperature are
added at export time, so training uses a numerically stable from-logits loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


@dataclass(frozen=True)
class Recipe:
    """How a zoo entry is trained by default."""

    build: Callable[[], keras.Model]
    optimizer: Callable[[int, int], keras.optimizers.Optimizer]  # (steps per epoch, epochs) -> optimizer
    epochs: int
    batch_size: int = 32
    augment: bool = False
    label_smoothing: float = 0.0
    open_set: bool = False  # outlier exposure: an extra "not a known object" class and drawing renders
    erasing: float = 0.3  # share of augmented images with a random rectangle replaced by noise
    validation_freq: int = 1  # validate every N epochs (0 = only the last one: selection keeps the last)
    start_from: str | None = None  # "<model>/<version>" under models/: fine-tune that shipped version


def _sgd(_: int, __: int) -> keras.optimizers.Optimizer:
    return keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)


def _adam(_: int, __: int) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(learning_rate=1e-3)


def _adadelta(_: int, __: int) -> keras.optimizers.Optimizer:
    # Keras' old default Adadelta(lr=1.0), as in the Conv-Conv-Pool-Dropout tutorial.
    return keras.optimizers.Adadelta(learning_rate=1.0)


def _inputs() -> keras.KerasTensor:
    return keras.Input(shape=INPUT_SHAPE, name="image")


def mlp() -> keras.Model:
    inputs = _inputs()
    x = layers.Flatten()(inputs)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES)(x), name="mlp")


def baseline(filters: int = 32, padding: str = "valid", name: str = "baseline") -> keras.Model:
    """The tutorials' baseline: Conv 3x3 he_uniform -> MaxPool -> Dense 100 -> Dense 10."""
    inputs = _inputs()
    x = layers.Conv2D(filters, 3, padding=padding, activation="relu", kernel_initializer="he_uniform")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(100, activation="relu", kernel_initializer="he_uniform")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES)(x), name=name)


def two_block() -> keras.Model:
    inputs = _inputs()
    x = layers.Conv2D(32, 3, activation="relu", kernel_initializer="he_uniform")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu", kernel_initializer="he_uniform")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", kernel_initializer="he_uniform")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES)(x), name="two-block")


def dropout_cnn() -> keras.Model:
    """Conv 32 -> Conv 64 -> Pool -> Dropout 0.3 -> Dense 128 -> Dropout 0.5."""
    inputs = _inputs()
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES)(x), name="dropout-cnn")


def lenet() -> keras.Model:
    """LeNet-5 as in the tutorial: 20 and 50 5x5 filters, Dense 500."""
    inputs = _inputs()
    x = layers.Conv2D(20, 5, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(strides=2)(x)
    x = layers.Conv2D(50, 5, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(strides=2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(500, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES)(x), name="lenet")


def _conv_bn(x: keras.KerasTensor, filters: int, batch_norm: bool = True) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, kernel_initializer="he_uniform")(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def vgg(batch_norm: bool = True) -> keras.Model:
    """Three VGG blocks (32, 64, 128 filters, two convs each) with dropout."""
    inputs = _inputs()
    x = inputs
    for filters, rate in ((32, 0.2), (64, 0.3), (128, 0.4)):
        x = _conv_bn(x, filters, batch_norm)
        x = _conv_bn(x, filters, batch_norm)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(rate)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", kernel_initializer="he_uniform")(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES)(x), name="vgg")


FINAL_WIDTHS = (32, 64, 128)


def _three_blocks(inputs: keras.KerasTensor, widths: tuple[int, int, int]) -> keras.KerasTensor:
    """`final`'s and `compact`'s trunk: one conv at 28x28, two at 14x14, two at 7x7, pooled to 4x4."""
    w1, w2, w3 = widths
    x = _conv_bn(inputs, w1)
    x = layers.MaxPooling2D()(x)  # 14x14
    x = _conv_bn(x, w2)
    x = _conv_bn(x, w2)
    x = layers.MaxPooling2D()(x)  # 7x7
    x = _conv_bn(x, w3)
    x = _conv_bn(x, w3)
    return layers.MaxPooling2D(pool_size=2, padding="same")(x)  # 4x4


def final(outputs: int = NUM_CLASSES) -> keras.Model:
    """Our model: VGG-style blocks with batch-norm, a wider middle, dropout, flatten head.

    About 22M multiply-adds and 0.8M parameters: 0.56-0.74 ms per image with LiteRT on one core of
    the 2-core dev VM, about twice that when export adds flip averaging. Accuracy comes mostly from the
    training recipe (augmentation, label smoothing, cosine schedule).
    """
    inputs = _inputs()
    x = layers.Dropout(0.2)(_three_blocks(inputs, FINAL_WIDTHS))
    x = layers.Flatten()(x)
    x = layers.Dense(256, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, layers.Dense(outputs)(x), name="final")


def _cosine_adamw(peak: float) -> Callable[[int, int], keras.optimizers.Optimizer]:
    def make(steps_per_epoch: int, epochs: int) -> keras.optimizers.Optimizer:
        total = max(1, steps_per_epoch * epochs)
        warmup = min(steps_per_epoch, total // 10)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=peak / 10,
            decay_steps=total - warmup,
            warmup_target=peak,
            warmup_steps=warmup,
            alpha=0.01,
        )
        return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=5e-4)

    return make


COMPACT_WIDTHS = (24, 48, 96)


def compact(widths: tuple[int, int, int] = COMPACT_WIDTHS, outputs: int = NUM_CLASSES + 1) -> keras.Model:
    """Our open-set model: a narrow 3-block net trained for many epochs, with an extra output.

    One conv at 28x28, two at 14x14, two at 7x7 (about 12M multiply-adds at the default
    widths), then a flatten head. The last of its `outputs` logits is "not a known object":
    it learns from procedurally drawn non-garments (outlier exposure). Width buys little on
    this data set; epochs buy more, so a narrow net that trains twice as fast as `final` is the
    better use of a CPU's hour, and export can afford flip averaging inside the 1 ms budget.
    """
    inputs = _inputs()
    x = layers.Flatten()(_three_blocks(inputs, widths))
    x = layers.Dropout(0.1)(x)
    return keras.Model(inputs, layers.Dense(outputs)(x), name="compact")


@keras.saving.register_keras_serializable(package="fashion_mnist")
class WarmupLinear(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from peak/10 to `peak` over `warmup` steps, then linear decay to 0 at `total`."""

    def __init__(self, peak: float, warmup: int, total: int) -> None:
        self.peak, self.warmup, self.total = float(peak), int(warmup), int(total)

    def __call__(self, step: keras.KerasTensor) -> keras.KerasTensor:
        step = keras.ops.cast(step, "float32")
        rising = self.peak * (0.1 + 0.9 * step / self.warmup)
        falling = self.peak * keras.ops.maximum(0.0, (self.total - step) / (self.total - self.warmup))
        return keras.ops.where(step < self.warmup, rising, falling)

    def get_config(self) -> dict[str, float | int]:
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}


def _nesterov_linear(
    peak: float, warmup_epochs: float = 2.0
) -> Callable[[int, int], keras.optimizers.Optimizer]:
    """SGD-Nesterov with WarmupLinear, decoupled weight decay and an EMA of the weights."""

    def make(steps_per_epoch: int, epochs: int) -> keras.optimizers.Optimizer:
        total = max(2, steps_per_epoch * epochs)
        warmup = max(1, min(int(steps_per_epoch * warmup_epochs), total // 4))
        return keras.optimizers.SGD(
            learning_rate=WarmupLinear(peak, warmup, total),
            momentum=0.9,
            nesterov=True,
            weight_decay=5e-4,
            use_ema=True,
            # Keras' EMA has no bias correction: its horizon (1 / (1 - momentum) steps) must be short
            # next to the run, at most a tenth of it (0.999 for the full runs, less for short ones).
            ema_momentum=min(0.999, max(0.0, 1.0 - 10.0 / total)),
        )

    return make


FINAL_EPOCHS = 24
COMPACT_EPOCHS = 22
FINAL_OPEN_EPOCHS = 6

ZOO: dict[str, Recipe] = {
    "mlp": Recipe(mlp, _adam, epochs=10),
    "baseline": Recipe(baseline, _sgd, epochs=10),
    "baseline-padded": Recipe(lambda: baseline(padding="same", name="baseline-padded"), _sgd, epochs=10),
    "baseline-64": Recipe(lambda: baseline(64, "same", "baseline-64"), _sgd, epochs=10),
    "two-block": Recipe(two_block, _sgd, epochs=10),
    "dropout-cnn": Recipe(dropout_cnn, _adadelta, epochs=12, batch_size=128),
    "lenet": Recipe(lenet, _sgd, epochs=10),
    "vgg": Recipe(vgg, _sgd, epochs=10, batch_size=64),
    "final": Recipe(
        final,
        _cosine_adamw(3e-3),
        epochs=FINAL_EPOCHS,
        batch_size=128,
        augment=True,
        label_smoothing=0.1,
    ),
    "compact": Recipe(
        compact,
        _nesterov_linear(0.1),
        epochs=COMPACT_EPOCHS,
        batch_size=128,
        augment=True,
        label_smoothing=0.2,
        open_set=True,
        erasing=0.0,
        validation_freq=2,
    ),
    # v2's garment classifier taught the open set: the 11th output, the negatives and the drawings.
    "final-open": Recipe(
        final,
        _cosine_adamw(5e-4),
        epochs=FINAL_OPEN_EPOCHS,
        batch_size=128,
        augment=True,
        label_smoothing=0.1,
        open_set=True,
        start_from="fashion-mnist/2",
    ),
}


def build(name: str) -> keras.Model:
    """Build a fresh, uncompiled model by zoo name."""
    if name not in ZOO:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(ZOO)}")
    return ZOO[name].build()
