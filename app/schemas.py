"""Pydantic response models: what /docs shows and what clients can rely on."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

PreprocessMode = Literal["auto", "photo", "raw"]
UsedMode = Literal["photo", "raw"]


class ModelRef(BaseModel):
    name: str = Field(examples=["fashion-mnist"])
    version: int = Field(examples=[1])


class Prediction(BaseModel):
    class_id: int = Field(ge=0, le=9, examples=[9])
    label: str = Field(examples=["Ankle boot"])
    confidence: float = Field(ge=0, le=1, examples=[0.98])
    probabilities: list[float] = Field(min_length=10, max_length=10, description="in class-id order")
    preprocess: UsedMode = Field(description="the preparation applied: raw (data-set-like) or photo")
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


class ModelInfo(BaseModel):
    name: str
    version: int
    labels: list[str]
    input: dict[str, object]
    preprocessing: str
    metrics: dict[str, object]
    created: str
    runtime: str
    report: str | None = Field(None, description="URL of this version's training report")


class ErrorResponse(BaseModel):
    detail: str
