"""Load and verify an exported model version; run it with LiteRT (never TensorFlow)."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from app.preprocessing import IMAGE_SIZE, NUM_CLASSES, prepare_batch

try:
    LITERT_VERSION = version("ai-edge-litert")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    LITERT_VERSION = "unknown"

TFLITE_FILE = "model.tflite"
METADATA_FILE = "metadata.json"


class ModelLoadError(RuntimeError):
    """The model directory is missing, incomplete or corrupt."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_versions(model_root: Path) -> list[int]:
    """Integer version directories under models/<name>/, ascending."""
    if not model_root.is_dir():
        return []
    return sorted(int(p.name) for p in model_root.iterdir() if p.is_dir() and p.name.isdigit())


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


@dataclass
class Classifier:
    """A verified model version. Thread-safe: each thread gets its own LiteRT interpreters.

    A LiteRT interpreter must not be invoked from two threads at once; keeping them in a
    `threading.local` means no lock and no sharing.
    """

    directory: Path
    metadata: dict[str, Any]
    _model_bytes: bytes = field(repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> int:
        return int(self.metadata["version"])

    @property
    def labels(self) -> list[str]:
        return list(self.metadata["labels"])

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
        """float32 (N, 28, 28, 1) in [0, 1] -> float32 (N, 10) probabilities."""
        slot = self._slot(len(batch))
        slot.interpreter.set_tensor(slot.input_index, np.ascontiguousarray(batch, dtype=np.float32))
        slot.interpreter.invoke()
        return slot.interpreter.get_tensor(slot.output_index).copy()

    def predict_pixels(self, pixels: np.ndarray, chunk: int = 256) -> np.ndarray:
        """uint8 (N, 28, 28) -> probabilities, in chunks (used for whole data sets)."""
        parts = [self.predict(prepare_batch(pixels[i : i + chunk])) for i in range(0, len(pixels), chunk)]
        return np.concatenate(parts) if parts else np.zeros((0, NUM_CLASSES), np.float32)


def load_classifier(directory: Path) -> Classifier:
    """Read metadata, verify every artifact's sha256, and self-check one inference."""
    meta_path = directory / METADATA_FILE
    if not meta_path.is_file():
        raise ModelLoadError(f"{meta_path} is missing")
    try:
        metadata = json.loads(meta_path.read_text())
    except ValueError as error:
        raise ModelLoadError(f"{meta_path} is not valid JSON: {error}") from error
    artifacts: dict[str, str] = metadata.get("artifacts", {})
    if TFLITE_FILE not in artifacts:
        raise ModelLoadError(f"{meta_path} lists no sha256 for {TFLITE_FILE}")
    for file_name, expected in artifacts.items():
        path = directory / file_name
        if not path.is_file():
            raise ModelLoadError(f"{path} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelLoadError(f"{path} is corrupt: sha256 {actual}, metadata says {expected}")
    try:
        classifier = Classifier(directory, metadata, (directory / TFLITE_FILE).read_bytes())
        self_check(classifier)
    except ModelLoadError:
        raise
    except Exception as error:  # LiteRT raises plain RuntimeError/ValueError on bad models
        raise ModelLoadError(f"{directory / TFLITE_FILE} failed to load or run: {error}") from error
    return classifier


def self_check(classifier: Classifier) -> None:
    """One inference on a blank image: the output must be 10 probabilities summing to 1."""
    probabilities = classifier.predict(prepare_batch(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.uint8)))
    if probabilities.shape != (1, NUM_CLASSES) or not np.isfinite(probabilities).all():
        raise ModelLoadError(f"self-check produced {probabilities.shape} / non-finite output")
    if abs(float(probabilities.sum()) - 1.0) > 1e-3:
        raise ModelLoadError(f"self-check probabilities sum to {probabilities.sum():.4f}, not 1")
