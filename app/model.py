"""Load and verify an exported model version; run it with LiteRT (never TensorFlow).

What a version directory holds and how it is verified is app/model_version.py's; this module
builds the runnable `Classifier` from a verified directory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from app.model_version import (
    METADATA_FILE,
    TFLITE_FILE,
    ModelLoadError,
    ModelMetadata,
    check_references,
    list_versions,
    read_metadata,
    read_verified_model,
    sha256_file,
)
from app.preprocessing import IMAGE_SIZE, prepare_batch

__all__ = [
    "METADATA_FILE",
    "TFLITE_FILE",
    "Classifier",
    "ModelLoadError",
    "Scores",
    "list_versions",
    "load_classifier",
    "resolve_version_dir",
    "self_check",
    "sha256_file",
]

try:
    LITERT_VERSION = version("ai-edge-litert")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    LITERT_VERSION = "unknown"


def resolve_version_dir(model_root: Path, pin: int | None = None) -> Path:
    """The pinned version's directory, or the highest one."""
    versions = list_versions(model_root)
    if not versions:
        raise ModelLoadError(f"no model versions found under {model_root} (expected {model_root}/<int>/)")
    version = versions[-1] if pin is None else pin
    if version not in versions:
        raise ModelLoadError(f"pinned model version {pin} not found under {model_root}; have {versions}")
    return model_root / str(version)


@dataclass
class _Slot:
    """One LiteRT interpreter and the tensor indices it is fed through."""

    interpreter: Interpreter
    input_index: int
    output_index: int
    batch: int = 0  # the input size it is allocated for; 0 = not yet


@dataclass(frozen=True)
class Scores:
    """A batch's answer: class probabilities (N, labels) and, with an open-set model, garment scores (N,)."""

    probabilities: np.ndarray
    garment_score: np.ndarray | None


@dataclass(eq=False)
class Classifier:
    """A verified model version. Thread-safe: each thread gets its own LiteRT interpreters.

    A LiteRT interpreter must not be invoked from two threads at once; keeping them in a
    `threading.local` means no lock and no sharing.
    """

    directory: Path
    metadata: ModelMetadata
    _model_bytes: bytes = field(repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> int:
        return self.metadata.version

    @property
    def labels(self) -> list[str]:
        return self.metadata.labels

    @property
    def threshold(self) -> float | None:
        """The garment_score threshold of an open-set version; None without a detector."""
        return self.metadata.open_set.threshold if self.metadata.open_set else None

    @property
    def profile(self) -> str:
        """The preparation profile uploads to this version get (app.imaging.PROFILES)."""
        return self.metadata.preparation.profile

    @property
    def runtime(self) -> str:
        return f"LiteRT {LITERT_VERSION} (XNNPACK, 1 thread per interpreter)"

    def _slot(self, batch: int) -> _Slot:
        """This thread's interpreter, sized for `batch` images.

        Single images and batches keep one interpreter each, so traffic that mixes /predict and
        /predict/batch does not re-plan (resize and allocate, ~2 ms) on every switch.
        """
        slots: dict[bool, _Slot] = self._local.__dict__.setdefault("slots", {})
        single = batch == 1
        slot = slots.get(single)
        if slot is None:
            interpreter = Interpreter(model_content=self._model_bytes, num_threads=1)
            slot = slots[single] = _Slot(
                interpreter,
                interpreter.get_input_details()[0]["index"],
                interpreter.get_output_details()[0]["index"],
            )
        if slot.batch != batch:
            slot.interpreter.resize_tensor_input(slot.input_index, [batch, IMAGE_SIZE, IMAGE_SIZE, 1])
            slot.interpreter.allocate_tensors()
            slot.batch = batch
        return slot

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, 28, 28, 1) in [0, 1] -> the model's float32 output (N, output_width), as is."""
        slot = self._slot(len(batch))
        slot.interpreter.set_tensor(slot.input_index, np.ascontiguousarray(batch, dtype=np.float32))
        slot.interpreter.invoke()
        return slot.interpreter.get_tensor(slot.output_index).copy()

    def scores(self, outputs: np.ndarray) -> Scores:
        """Model outputs -> class probabilities and garment scores.

        An open-set model's last column is "not a known object": garment_score = 1 - p_last, and the
        class probabilities are the other columns renormalised to sum to 1.
        """
        outputs = np.asarray(outputs, np.float32)
        if self.metadata.open_set is None:
            return Scores(outputs, None)
        known = outputs[:, :-1]
        total = np.maximum(known.sum(axis=1, keepdims=True), np.float32(1e-12))
        return Scores(known / total, np.clip(1.0 - outputs[:, -1], 0.0, 1.0))

    def predict_pixels(self, pixels: np.ndarray, chunk: int = 256) -> np.ndarray:
        """uint8 (N, 28, 28) -> class probabilities (N, labels), in chunks (used for whole data sets)."""
        parts = [
            self.scores(self.predict(prepare_batch(pixels[i : i + chunk]))).probabilities
            for i in range(0, len(pixels), chunk)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.labels)), np.float32)


def load_classifier(directory: Path) -> Classifier:
    """Read and check the metadata, verify every artifact's sha256, self-check, check the references."""
    metadata = read_metadata(directory)
    model_bytes = read_verified_model(directory, metadata)
    try:
        classifier = Classifier(directory, metadata, model_bytes)
        verify_outputs(classifier)
    except ModelLoadError:
        raise
    except Exception as error:  # LiteRT raises plain RuntimeError/ValueError on bad models
        raise ModelLoadError(f"{directory / TFLITE_FILE} failed to load or run: {error}") from error
    return classifier


BLANK = np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.uint8)


def verify_outputs(classifier: Classifier) -> None:
    """The self-check and the reference outputs in one inference: one interpreter to plan per version,
    which is most of a version's load time."""
    blank_outputs: list[np.ndarray] = []

    def predict_with_blank(batch: np.ndarray) -> np.ndarray:
        outputs = classifier.predict(np.concatenate([prepare_batch(BLANK), batch]))
        blank_outputs.append(outputs[:1])
        return outputs[1:]

    check_references(
        classifier.metadata.references, predict_with_blank, str(classifier.directory / TFLITE_FILE)
    )
    check_blank(classifier, blank_outputs[0])


def self_check(classifier: Classifier) -> None:
    """One inference on a blank image: one probability per output column, summing to 1."""
    check_blank(classifier, classifier.predict(prepare_batch(BLANK)))


def check_blank(classifier: Classifier, outputs: np.ndarray) -> None:
    """A blank image's outputs: one probability per output column, summing to 1."""
    width = classifier.metadata.output_width
    where = classifier.directory / TFLITE_FILE
    if outputs.shape != (1, width) or not np.isfinite(outputs).all():
        raise ModelLoadError(f"{where}: self-check output has shape {outputs.shape}, expected (1, {width})")
    if abs(float(outputs.sum()) - 1.0) > 1e-3:
        raise ModelLoadError(f"{where}: self-check probabilities sum to {outputs.sum():.4f}, not 1")
