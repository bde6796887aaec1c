"""Service settings, read once from environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.imaging import MAX_IMAGE_PIXELS

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


class Settings(BaseModel):
    """Every knob of the service. Each field is the upper-case environment variable of its name.

    A plain pydantic model rather than pydantic-settings: same validation, one import less at start-up.
    """

    model_config = ConfigDict(protected_namespaces=(), extra="forbid")

    model_dir: Path = Field(
        REPO_ROOT / "models" / "fashion-mnist", description="models/<name>/ with <int> versions"
    )
    model_version: int | None = Field(None, description="pin a version; default: the highest")
    max_upload_bytes: int = Field(10 * MiB, gt=0, description="request body limit of /predict")
    max_batch_upload_bytes: int = Field(64 * MiB, gt=0, description="request body limit of /predict/batch")
    max_batch_files: int = Field(64, gt=0, description="files per /predict/batch request")
    max_image_pixels: int = Field(
        MAX_IMAGE_PIXELS, gt=0, description="width x height limit, checked before decoding"
    )
    log_level: LogLevel = Field("INFO", description="level of the JSON logs")

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, values: Any) -> Any:
        """Fields not passed explicitly come from the environment (MODEL_DIR, LOG_LEVEL, ...)."""
        if not isinstance(values, dict):
            return values
        names = [name for name in cls.model_fields if name.upper() in os.environ]
        return {**{name: os.environ[name.upper()] for name in names}, **values}

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
