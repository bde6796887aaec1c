"""Pydantic response models: what /docs shows and what clients can rely on."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

PreprocessMode = Literal["auto", "photo", "raw"]
UsedMode = Literal["photo", "raw", "tensor"]
Reason = Literal["no_object", "not_garment"]


class ModelRef(BaseModel):
    name: str = Field(examples=["fashion-mnist"])
    version: int = Field(examples=[1])


class Prediction(BaseModel):
    class_id: int = Field(ge=0, le=9, examples=[9])
    label: str = Field(examples=["Ankle boot"])
    confidence: float = Field(ge=0, le=1, examples=[0.98])
    probabilities: list[float] = Field(min_length=10, max_length=10, description="in class-id order")
    preprocess: UsedMode = Field(
        description="the preparation applied: raw (data-set-like), photo, or tensor (the client sent the "
        "model input itself: v2 FP32, v1 float instances)"
    )
    is_garment: bool = Field(
        True,
        description="false when the image does not look like a garment (see reason); always true "
        "for a model version without a garment detector",
    )
    garment_score: float | None = Field(
        None, ge=0, le=1, description="how garment-like the image is (higher = more); null without a detector"
    )
    reason: Reason | None = Field(
        None,
        description="why is_garment is false: no_object (the preparation found nothing in the frame) or "
        "not_garment (garment_score below the version's threshold)",
    )
    model: ModelRef
    input_png: str | None = Field(
        None, description="base64 PNG of the 28x28 image the model saw (?return_input=true)"
    )


class BatchItem(BaseModel):
    index: int = Field(description="position of the file in the upload")
    filename: str | None = None
    prediction: Prediction | None = None
    error: str | None = Field(None, description="why this file was not classified")
    status_code: int = Field(200, description="what /predict would have answered for this file alone")


class BatchPrediction(BaseModel):
    model: ModelRef
    results: list[BatchItem]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    model: ModelRef | None = None
    detail: str | None = None


class VersionInfo(BaseModel):
    version: int
    created: str
    metrics: dict[str, object]
    open_set: dict[str, object] | None = Field(
        None, description="the garment detector (method, threshold, ...); null: is_garment is always true"
    )


class ModelVersions(BaseModel):
    name: str
    default_version: int | None = Field(
        description="the newest loaded version: what an unnamed version means"
    )
    versions: list[VersionInfo]


class RefusedVersion(BaseModel):
    name: str
    version: int
    error: str = Field(description="why it was refused; it is retried once its files change")
    refused_at: str


class ModelInfo(BaseModel):
    """The default model's served version (the fields name..report), then every model and refusal."""

    name: str
    version: int
    labels: list[str]
    input: dict[str, object]
    preprocessing: str
    metrics: dict[str, object]
    created: str
    runtime: str
    report: str | None = Field(None, description="URL of this version's training report")
    garment_threshold: float | None = Field(
        None, description="garment_score at or above it is a garment; null: this version has no detector"
    )
    models: list[ModelVersions] = Field(default_factory=list, description="every loaded model and version")
    refused: list[RefusedVersion] = Field(
        default_factory=list, description="version directories that failed verification"
    )


class ErrorResponse(BaseModel):
    detail: str
