"""Dependencies that hand the lifespan's resources to handlers (tests can override them).

They are `async def` although they never await: FastAPI runs a plain `def` dependency in its
thread pool, which cost /predict two thread hops per request (see docs/performance.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.model import Classifier
from app.repository import ModelRepository, ModelUnavailable, UnknownModel

__all__ = [
    "ClassifierDep",
    "ModelUnavailable",
    "ModelsDep",
    "NamedClassifierDep",
    "SettingsDep",
    "UnknownModel",
    "get_app_settings",
    "get_classifier",
    "get_models",
    "get_named_classifier",
]


async def get_models(request: Request) -> ModelRepository:
    models: ModelRepository | None = getattr(request.app.state, "models", None)
    if models is None:
        raise ModelUnavailable("the model repository is not loaded")
    return models


async def get_classifier(models: Annotated[ModelRepository, Depends(get_models)]) -> Classifier:
    """The default model's highest loaded version: what /predict serves."""
    return models.get()


async def get_named_classifier(
    models: Annotated[ModelRepository, Depends(get_models)], name: str, version: int | None = None
) -> Classifier:
    """A model by name (path), and a version by number (path or ?version=); the highest by default."""
    return models.get(name, version)


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ModelsDep = Annotated[ModelRepository, Depends(get_models)]
ClassifierDep = Annotated[Classifier, Depends(get_classifier)]
NamedClassifierDep = Annotated[Classifier, Depends(get_named_classifier)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
