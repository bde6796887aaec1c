"""Dependencies that hand the lifespan's resources to handlers (tests can override them).

They are `async def` although they never await: FastAPI runs a plain `def` dependency in its
thread pool, which cost /predict two thread hops per request (see docs/performance.md).
"""

from __future__ import annotations

from fastapi import Request

from app.config import Settings
from app.model import Classifier


class ModelUnavailable(RuntimeError):
    """No verified model is loaded."""


async def get_classifier(request: Request) -> Classifier:
    classifier: Classifier | None = getattr(request.app.state, "classifier", None)
    if classifier is None:
        raise ModelUnavailable("the model is not loaded")
    return classifier


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
