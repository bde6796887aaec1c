"""THE model-version contract: what models/<name>/<version>/ holds and how a version is verified.

`training export` writes versions through this module and the service reads them through it, so a
field is added here once, and a version that lacks a required field fails at load, not later.

A version directory holds `model.tflite` (what the service runs), `metadata.json` (this schema) and
optional extras (`model.keras`, `report.md`, figures). Verification, in order: metadata.json parses
and fits the schema; every artifact it lists has the recorded sha256; the model reproduces the
recorded reference inputs' outputs within their tolerance (`check_references`, run by app.model).
metadata.json is not among the hashed artifacts: it holds the hashes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.imaging import DEFAULT_PROFILE, PROFILES
from app.preprocessing import IMAGE_SIZE, prepare_batch

METADATA_FILE = "metadata.json"
TFLITE_FILE = "model.tflite"
KERAS_FILE = "model.keras"
REPORT_FILE = "report.md"
REFERENCE_COUNT = 16  # validation images recorded by export
REFERENCE_TOLERANCE = 1e-4  # max abs difference of any output value; LiteRT reruns agree to ~1e-6


class ModelLoadError(RuntimeError):
    """The version directory is missing, incomplete, corrupt, or its model misbehaves."""


class OpenSet(BaseModel):
    """How a version says "not a garment": the model's last output column is "not a known object".

    The service reports garment_score = 1 - p_last and is_garment = garment_score >= threshold.
    """

    model_config = ConfigDict(extra="allow")

    method: Literal["background_class"]
    threshold: float = Field(ge=0.0, le=1.0, description="garment_score at or above it is a garment")


class References(BaseModel):
    """Inputs recorded at export and the outputs the model gave them: a silently altered model differs."""

    images: list[str] = Field(min_length=1, description="base64 of uint8 28x28 pixels, row-major")
    outputs: list[list[float]] = Field(min_length=1, description="the model's output row for each image")
    tolerance: float = Field(REFERENCE_TOLERANCE, gt=0, description="max abs difference allowed")
    source: str = Field("", description="where the images come from")

    def pixels(self) -> np.ndarray:
        """The images as uint8 (N, 28, 28)."""
        rows = [np.frombuffer(base64.b64decode(image), np.uint8) for image in self.images]
        if any(row.size != IMAGE_SIZE * IMAGE_SIZE for row in rows):
            raise ValueError(f"a reference image is not {IMAGE_SIZE}x{IMAGE_SIZE} bytes")
        return np.stack(rows).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


class Preparation(BaseModel):
    """How uploads are prepared for this version: the profile of the data set it was trained on."""

    model_config = ConfigDict(extra="allow")

    profile: str = Field(DEFAULT_PROFILE, description="a name of app.imaging.PROFILES")

    @field_validator("profile")
    @classmethod
    def _known(cls, profile: str) -> str:
        if profile not in PROFILES:
            raise ValueError(f"unknown preparation profile {profile!r}; known: {', '.join(PROFILES)}")
        return profile


class ModelMetadata(BaseModel):
    """metadata.json. Unknown fields (training details, library versions, ...) are kept as they are."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    name: str = Field(min_length=1)
    version: int = Field(ge=0)
    labels: list[str] = Field(min_length=2)
    input: dict[str, object]
    preprocessing: str
    output: str = ""
    metrics: dict[str, object] = Field(default_factory=dict)
    created: str
    artifacts: dict[str, str] = Field(description="file name -> sha256 of every hashed artifact")
    references: References
    open_set: OpenSet | None = None
    preparation: Preparation = Field(default_factory=Preparation)  # absent: garments (v1-v3)

    @field_validator("artifacts")
    @classmethod
    def _lists_the_model(cls, artifacts: dict[str, str]) -> dict[str, str]:
        if TFLITE_FILE not in artifacts:
            raise ValueError(f"lists no sha256 for {TFLITE_FILE}")
        return artifacts

    @property
    def output_width(self) -> int:
        """Columns of the model's output: one per label, plus "not a known object" with open_set."""
        return len(self.labels) + (1 if self.open_set else 0)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    return sorted(
        int(p.name) for p in model_root.iterdir() if p.is_dir() and p.name.isascii() and p.name.isdigit()
    )


def read_metadata(directory: Path) -> ModelMetadata:
    """metadata.json of a version directory, checked against the schema."""
    path = directory / METADATA_FILE
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{path} is not valid JSON: {error}") from error
    try:
        metadata = ModelMetadata.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'metadata'}: {e['msg']}" for e in error.errors()[:5]
        )
        raise ModelLoadError(f"{path} does not fit the model-version schema: {problems}") from error
    if directory.name.isascii() and directory.name.isdigit() and metadata.version != int(directory.name):
        raise ModelLoadError(f"{path} says version {metadata.version}, but the directory is {directory.name}")
    return metadata


def read_verified_model(directory: Path, metadata: ModelMetadata) -> bytes:
    """Check every listed artifact's sha256; return model.tflite's bytes (the very bytes hashed)."""
    model_bytes = b""
    for file_name, expected in metadata.artifacts.items():
        path = directory / file_name
        if not path.is_file():
            raise ModelLoadError(f"{path} is missing")
        if file_name == TFLITE_FILE:
            model_bytes = path.read_bytes()
            actual = sha256_bytes(model_bytes)
        else:
            actual = sha256_file(path)
        if actual != expected:
            raise ModelLoadError(f"{path} is corrupt: sha256 {actual}, metadata says {expected}")
    return model_bytes


def make_references(
    pixels: np.ndarray, outputs: np.ndarray, source: str, tolerance: float = REFERENCE_TOLERANCE
) -> References:
    """Record uint8 (N, 28, 28) images and the model's (N, K) outputs for them."""
    images = [base64.b64encode(np.ascontiguousarray(image, np.uint8).tobytes()).decode() for image in pixels]
    rows = [[float(value) for value in row] for row in np.asarray(outputs, np.float32)]
    return References(images=images, outputs=rows, tolerance=tolerance, source=source)


def check_references(references: References, predict: Callable[[np.ndarray], np.ndarray], where: str) -> None:
    """The model must reproduce the recorded outputs; raises ModelLoadError naming the difference."""
    try:
        pixels = references.pixels()
    except ValueError as error:
        raise ModelLoadError(f"{where}: reference inputs are malformed: {error}") from error
    expected = np.asarray(references.outputs, np.float32)
    if len(pixels) != len(expected):
        raise ModelLoadError(f"{where}: {len(pixels)} reference images but {len(expected)} output rows")
    actual = predict(prepare_batch(pixels))
    if actual.shape != expected.shape:
        raise ModelLoadError(f"{where}: outputs have shape {actual.shape}, references say {expected.shape}")
    difference = float(np.abs(actual - expected).max())
    if not difference <= references.tolerance:  # also catches NaN
        raise ModelLoadError(
            f"{where}: does not reproduce its reference outputs (max abs difference {difference:.3g}; "
            f"tolerance {references.tolerance:g}): the model is not the one exported"
        )
