"""ASGI middleware that enforces the request-body limit while the body streams in."""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised inside `receive` once the streamed body passes the limit."""


def _too_large_body(size: str, limit: int) -> bytes:
    return json.dumps({"detail": f"request body is {size}; the limit is {limit} bytes"}).encode()


def path_in_app(path: str, root_path: str) -> str:
    """The request path without the prefix the app is mounted under (uvicorn --root-path)."""
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


class BodySizeLimit:
    """Reject bodies over a per-path limit with 413, from Content-Length or while counting chunks.

    The body is never buffered here: a declared oversize body is refused before it is read,
    and a chunked one is cut off as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, default_limit: int, path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.path_limits = path_limits or {}

    def limit_for(self, path: str) -> int:
        return self.path_limits.get(path.rstrip("/") or "/", self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(path_in_app(scope["path"], scope.get("root_path", "")))
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, _too_large_body(f"{int(declared)} bytes", limit))
            return
        received = 0
        exceeded = False
        answered = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # A body parser may catch BodyTooLarge and answer 400 ("error parsing the body"):
            # once the limit is passed, whatever the app answers is replaced by the 413.
            nonlocal answered
            if exceeded:
                if not answered and message["type"] == "http.response.start":
                    answered = True
                    await self._reject(send, _too_large_body(f"over {limit} bytes", limit))
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if exceeded and not answered:
            await self._reject(send, _too_large_body(f"over {limit} bytes", limit))

    @staticmethod
    async def _reject(send: Send, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
