"""How the service answers an exception: one mapping for the FastAPI handlers and the fast lane.

A client's mistake (an image or tensor it got wrong, a model that does not exist) is its 4xx; a
shortage of the server (memory, no model loaded) is a 503. Anything else is not mapped here and
stays a 500.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from app.imaging import ImageError
from app.metrics import OUT_OF_MEMORY
from app.repository import ModelUnavailable, UnknownModel
from app.tensors import InvalidTensor

RETRY_AFTER_S = 5  # the Retry-After of a 503 for a request that ran out of memory
MAPPED = (ImageError, InvalidTensor, UnknownModel, MemoryError, ModelUnavailable)


def error_response(error: Exception) -> JSONResponse:
    """The JSON answer to one of the MAPPED exceptions (anything else is a 500, raised on)."""
    if isinstance(error, ImageError | InvalidTensor):
        return JSONResponse({"detail": str(error)}, status_code=error.status_code)
    if isinstance(error, UnknownModel):
        return JSONResponse({"detail": str(error)}, status_code=404)
    if isinstance(error, MemoryError):
        # Pillow, numpy or LiteRT could not allocate: the server's shortage, not the client's mistake.
        OUT_OF_MEMORY.inc()
        detail = "the server ran out of memory for this request; retry later"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    if isinstance(error, ModelUnavailable):
        return JSONResponse({"detail": str(error)}, status_code=503)
    raise error
