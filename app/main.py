"""The ASGI application: `app.main:app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app.config import Settings, get_settings
from app.deps import ModelUnavailable
from app.imaging import ImageError
from app.limits import BodySizeLimit
from app.logs import configure_logging
from app.metrics import OUT_OF_MEMORY, check_mode
from app.model import load_classifier, resolve_version_dir
from app.observability import RequestObservability
from app.routes import demo, health, metrics, predict, report

logger = logging.getLogger("app")
RETRY_AFTER_S = 5  # the Retry-After of a 503 for a request that ran out of memory


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the model is loaded and verified in the lifespan, or startup fails."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.basicConfig(level=settings.log_level.upper())
        directory = resolve_version_dir(settings.model_dir, settings.model_version)
        app.state.classifier = load_classifier(directory)
        logger.info("loaded model %s from %s", app.state.classifier.version, directory)
        yield
        app.state.classifier = None

    app = FastAPI(
        title="Fashion-MNIST classifier",
        version="1.0.0",
        description="Classifies garment images into the ten Fashion-MNIST classes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.classifier = None
    app.include_router(predict.router)
    app.include_router(health.router)
    app.include_router(report.router)
    app.include_router(metrics.router)
    app.include_router(demo.router)
    app.mount("/static", StaticFiles(directory=demo.STATIC_DIR), name="static")

    @app.exception_handler(ImageError)
    async def image_error(_: Request, error: ImageError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status_code)

    @app.exception_handler(MemoryError)
    async def out_of_memory(_: Request, error: MemoryError) -> JSONResponse:
        # Pillow, numpy or LiteRT could not allocate: the server's shortage, not the client's mistake.
        OUT_OF_MEMORY.inc()
        detail = "the server ran out of memory for this request; retry later"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.exception_handler(ModelUnavailable)
    async def model_unavailable(_: Request, error: ModelUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.max_upload_bytes,
        path_limits={"/predict/batch": settings.max_batch_upload_bytes},
    )
    configure_logging(settings.log_level)
    check_mode()
    app.add_middleware(RequestObservability)  # outermost: sees the body limit's 413s too
    return app


app = create_app()
