"""Service settings, read once from environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from app.decoding import (
    MAX_ANIMATION_FRAMES,
    MAX_IMAGE_PIXELS,
    MAX_JPEG_SCANS,
    MAX_METADATA_BYTES,
    MAX_REQUEST_PIXELS,
    MAX_SEGMENTS,
    DecodeLimits,
)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


class Settings(BaseModel):
    """Every knob of the service. Each field is the upper-case environment variable of its name.

    A plain pydantic model rather than pydantic-settings: same validation, one import less at start-up.
    """

    model_config = ConfigDict(protected_namespaces=(), extra="forbid")

    model_repository: Path = Field(
        REPO_ROOT / "models", description="directory of <name>/<int version>/ model versions"
    )
    default_model: str = Field("fashion-mnist", min_length=1, description="what /predict and the demo serve")
    model_poll_seconds: float = Field(
        5.0, ge=0, description="look for new, changed and removed versions this often; 0: never"
    )
    model_dir: Path | None = Field(
        None,
        description="deprecated, still honoured: serve only this one model directory; the same as "
        "MODEL_REPOSITORY=<its parent> DEFAULT_MODEL=<its name>, but other models are not loaded. "
        "Unset, it reads as MODEL_REPOSITORY/DEFAULT_MODEL.",
    )
    model_version: int | None = Field(
        None, description="serve only this version of the default model (no other is loaded or polled)"
    )
    max_upload_bytes: int = Field(10 * MiB, gt=0, description="request body limit of /predict")
    max_batch_upload_bytes: int = Field(64 * MiB, gt=0, description="request body limit of /predict/batch")
    max_batch_files: int = Field(64, gt=0, description="files per /predict/batch request")
    max_image_pixels: int = Field(
        MAX_IMAGE_PIXELS, gt=0, description="width x height limit, checked before decoding"
    )
    log_level: LogLevel = Field("INFO", description="level of the JSON logs")
    _only_model_dir: bool = PrivateAttr(False)
    # The decoder's budgets (app/decoding.py): each refuses an upload with 413 before decoding it.
    max_request_pixels: int = Field(
        MAX_REQUEST_PIXELS, gt=0, description="pixels of all the images of one request together"
    )
    max_jpeg_scans: int = Field(MAX_JPEG_SCANS, gt=0, description="scans of a progressive JPEG")
    max_metadata_bytes: int = Field(
        MAX_METADATA_BYTES, gt=0, description="metadata bytes: PNG ancillary chunks, JPEG APPn/COM, ..."
    )
    max_image_segments: int = Field(
        MAX_SEGMENTS, gt=0, description="chunks, markers or blocks the decoder parses one at a time"
    )
    max_animation_frames: int = Field(MAX_ANIMATION_FRAMES, gt=0, description="frames of an animated image")
    # The HTTP server's limits and timeouts (app/server.py; uvicorn does not enforce these itself).
    max_header_bytes: int = Field(32 * 1024, gt=0, description="request line + headers; over it: 431")
    max_header_fields: int = Field(100, gt=0, description="header fields per request; over it: 431")
    header_timeout: float = Field(10.0, gt=0, description="seconds to receive a request's headers")
    body_timeout: float = Field(10.0, gt=0, description="seconds a request body may stall between reads")
    keep_alive_timeout: float = Field(5.0, gt=0, description="seconds an idle keep-alive connection stays")
    graceful_shutdown_timeout: float = Field(
        20.0, ge=0, description="seconds SIGTERM waits for in-flight requests before exiting"
    )
    gil_switch_interval: float = Field(
        20e-6, ge=1e-6, description="seconds a thread may keep the GIL while another waits (Python: 0.005)"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, values: Any) -> Any:
        """Fields not passed explicitly come from the environment (MODEL_DIR, LOG_LEVEL, ...)."""
        if not isinstance(values, dict):
            return values
        names = [name for name in cls.model_fields if name.upper() in os.environ]
        return {**{name: os.environ[name.upper()] for name in names}, **values}

    @property
    def decode_limits(self) -> DecodeLimits:
        """The decoder's budgets, as app.imaging.prepare_image takes them."""
        return DecodeLimits(
            max_pixels=self.max_image_pixels,
            max_request_pixels=self.max_request_pixels,
            max_jpeg_scans=self.max_jpeg_scans,
            max_metadata_bytes=self.max_metadata_bytes,
            max_segments=self.max_image_segments,
            max_frames=self.max_animation_frames,
        )

    @model_validator(mode="after")
    def _single_model_directory(self) -> Settings:
        """MODEL_DIR given: that directory alone is the repository's one model."""
        self._only_model_dir = self.model_dir is not None
        if self.model_dir is None:
            self.model_dir = self.model_repository / self.default_model
        return self

    @property
    def only_model_dir(self) -> bool:
        """Whether MODEL_DIR was set (serve that model alone) rather than derived."""
        return self._only_model_dir

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
