"""ASGI middleware: errors under /v1/ and /v2/ in the envelope those protocols specify.

The native routes answer errors as FastAPI does, `{"detail": ...}`. TensorFlow Serving's REST API
and the Open Inference Protocol both answer `{"error": "<message>"}`, and neither knows 422: a body
that does not parse is a 400. One exception handler per error, in app/main.py, writes the native
envelope; this rewrites it for the two protocols at the edge, whoever produced it (a handler, the
router's 404/405, the body limit's 413).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.limits import path_in_app

PROTOCOL_PREFIXES = ("/v1/", "/v2/")


def is_protocol_path(path: str) -> bool:
    return path.startswith(PROTOCOL_PREFIXES) or path == "/v2"


def protocol_error(body: bytes) -> bytes:
    """{"detail": x} -> {"error": "x"}; a validation error's list of problems becomes one sentence."""
    try:
        detail = json.loads(body).get("detail", "")
    except (ValueError, AttributeError):
        detail = body.decode("utf-8", "replace")
    if isinstance(detail, list):  # FastAPI's request validation errors
        detail = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', '')}"
            if isinstance(item, dict)
            else str(item)
            for item in detail
        )
    return json.dumps({"error": str(detail)}).encode()


class ProtocolErrors:
    """Rewrites error responses of /v1/ and /v2/ routes; passes everything else through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protocol_path(
            path_in_app(scope["path"], scope.get("root_path", ""))
        ):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def rewriting_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message  # held back until the whole error body is here
                return
            if start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            status = 400 if start["status"] == 422 else start["status"]
            content = protocol_error(bytes(body))
            headers = [
                (name, value)
                for name, value in start.get("headers", ())
                if name.lower() not in (b"content-length", b"content-type")
            ]
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ]
            await send({**start, "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})

        await self.app(scope, receive, rewriting_send)
