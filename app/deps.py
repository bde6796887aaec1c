"""Dependencies that hand the lifespan's resources to handlers (tests can override them)."""

from __future__ import annotations

from fastapi import Request

from app.config import Settings
from app.model import Classifier


class ModelUnavailable(RuntimeError):
    """No verified model is loaded."""


def get_classifier(request: Request) -> Classifier:
    classifier: Classifier | None = getattr(request.app.state, "classifier", None)
    if classifier is None:
        raise ModelUnavailable("the model is not loaded")
    return classifier


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
