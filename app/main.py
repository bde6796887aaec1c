"""The ASGI application: `app.main:app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from app.config import Settings, get_settings
from app.envelopes import ProtocolErrors
from app.errors import MAPPED, error_response
from app.fast_lane import FastLane
from app.inference import gil_switch_interval
from app.limits import BodySizeLimit
from app.logs import configure_logging
from app.metrics import check_mode
from app.observability import RequestObservability
from app.repository import ModelRepository
from app.routes import demo, health, metrics, oip, predict, report, tfserving

logger = logging.getLogger("app")


API_DESCRIPTION = """Classifies garment images into the ten Fashion-MNIST classes, and says when an image
does not look like a garment (`is_garment`, `garment_score`, `reason` in every prediction).

Three front doors over one prediction path (docs/protocols.md says which to pick):

- **native**: `curl -F file=@boot.png http://127.0.0.1:8000/predict`
  (or `/models/{name}[/versions/{v}]/predict`)
- **KServe Open Inference Protocol v2**: `/v2/models/{name}[/versions/{v}]/infer`, FP32 `image` [N, 28, 28, 1]
  or BYTES `image_bytes` (encoded files), JSON or the binary tensor extension, classification extension;
  `tritonclient.http.InferenceServerClient("127.0.0.1:8000").infer("fashion-mnist", [input])`
- **TensorFlow Serving REST v1**:
  `curl -d '{"instances": [{"b64": "..."}]}' http://127.0.0.1:8000/v1/models/fashion-mnist:predict`
"""

# Routes that take several images in one body get the batch limit (MAX_BATCH_UPLOAD_BYTES).
MANY_IMAGE_ROUTES = ("/predict/batch", "/infer", ":predict")


class ManyImagesBodyLimit(BodySizeLimit):
    """The body limit, with the batch limit for every route that carries several images."""

    def limit_for(self, path: str) -> int:
        if path.rstrip("/").endswith(MANY_IMAGE_ROUTES):
            return self.path_limits["/predict/batch"]
        return super().limit_for(path)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the model is loaded and verified in the lifespan, or startup fails."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.basicConfig(level=settings.log_level.upper())
        with gil_switch_interval(settings.gil_switch_interval):
            models = repository(settings)
            models.start()  # every version loaded and verified; raises if the default model has none
            models.start_polling()
            app.state.models = models
            yield
            app.state.models = None
            await models.close()

    app = FastAPI(
        title="Fashion-MNIST classifier",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.models = None
    app.include_router(predict.router)
    app.include_router(oip.router)
    app.include_router(tfserving.router)
    app.include_router(health.router)
    app.include_router(report.router)
    app.include_router(metrics.router)
    app.include_router(demo.router)
    app.mount("/static", StaticFiles(directory=demo.STATIC_DIR), name="static")

    async def mapped_error(_: Request, error: Exception) -> Response:
        return error_response(error)

    for exception in MAPPED:
        app.add_exception_handler(exception, mapped_error)

    app.add_middleware(FastLane)  # innermost: the hot routes' ordinary requests, past FastAPI's routing
    app.add_middleware(
        ManyImagesBodyLimit,
        default_limit=settings.max_upload_bytes,
        path_limits={"/predict/batch": settings.max_batch_upload_bytes},
    )
    app.add_middleware(ProtocolErrors)  # /v1 and /v2 errors as {"error": ...}, the 413s above included
    configure_logging(settings.log_level)
    check_mode()
    app.add_middleware(RequestObservability)  # outermost: sees the body limit's 413s too
    return app


def repository(settings: Settings) -> ModelRepository:
    """The model repository the settings describe (MODEL_DIR, if set, names the one model to serve)."""
    pins = {settings.default_model: settings.model_version} if settings.model_version is not None else {}
    if settings.only_model_dir and settings.model_dir is not None:
        logger.warning(
            "MODEL_DIR is deprecated: serving only %s; set MODEL_REPOSITORY=%s and DEFAULT_MODEL=%s instead",
            settings.model_dir,
            settings.model_dir.parent,
            settings.model_dir.name,
        )
        name = settings.model_dir.name
        pins = {name: settings.model_version} if settings.model_version is not None else {}
        return ModelRepository(
            settings.model_dir.parent, name, only={name}, pins=pins, poll_seconds=settings.model_poll_seconds
        )
    return ModelRepository(
        settings.model_repository,
        settings.default_model,
        pins=pins,
        poll_seconds=settings.model_poll_seconds,
    )


app = create_app()
