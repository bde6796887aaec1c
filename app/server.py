"""The HTTP server: uvicorn with its httptools protocol, plus the limits and timeouts uvicorn lacks.

uvicorn enforces the keep-alive timeout (`timeout_keep_alive`) and the graceful-shutdown timeout
itself, but with its httptools parser (the fast one, and the default) it has no limit on header
size or count, no timeout for a request whose headers or body stall, and no timeout for a new
connection that never sends a byte (`h11_max_incomplete_event_size` applies to the slower h11
parser only, and answers 400, not 431). `GuardedHttpToolsProtocol` adds them at the protocol
level, in front of the app, in the spirit of nginx's `client_header_timeout`,
`client_body_timeout` and `large_client_header_buffers` and gunicorn's `limit_request_fields`:

- request line + headers over MAX_HEADER_BYTES, or more than MAX_HEADER_FIELDS fields: 431, closed;
- headers not complete HEADER_TIMEOUT seconds after the connection (or its previous response)
  became idle: 408 if some bytes came, else just closed (a slowloris or an idle connection);
- a body that sends nothing for BODY_TIMEOUT seconds: closed (the app sees a disconnect);
- on shutdown, a connection whose request is still arriving is closed once the body stalls, as
  above, and uvicorn's graceful timeout bounds everything else.

`uvicorn_config` builds the whole server configuration; `python -m app` runs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.config import Settings, get_settings
from app.logs import uvicorn_log_config

logger = logging.getLogger("app.server")
PROTOCOL = "app.server:GuardedHttpToolsProtocol"


class HeadersTooLarge(Exception):
    """Raised from a parser callback to stop parsing a request whose headers are over a limit."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header limits and header/body timeouts (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_header_bytes = settings.max_header_bytes
        self.max_header_fields = settings.max_header_fields
        self.header_timeout = settings.header_timeout
        self.body_timeout = settings.body_timeout
        self.awaiting_headers = True  # between requests, or while a request's headers arrive
        self.header_bytes = 0  # bytes received while awaiting headers (a bound on their size)
        self.header_fields = 0
        self.received_any = False  # some bytes of the awaited request have come
        self.reading_body = False
        self.refusal: tuple[int, str] | None = None  # (status, detail) once a limit is passed
        self.guard_timer: asyncio.TimerHandle | None = None

    # ---- timers -----------------------------------------------------------------------------

    def arm(self, seconds: float, callback: Any) -> None:
        self.disarm()
        self.guard_timer = self.loop.call_later(seconds, callback)

    def disarm(self) -> None:
        if self.guard_timer is not None:
            self.guard_timer.cancel()
            self.guard_timer = None

    def headers_timed_out(self) -> None:
        self.guard_timer = None
        if self.transport.is_closing() or not self.awaiting_headers:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is being worked on: the client is waiting for us, not stalling
        if self.received_any:
            self.refusal = (408, f"request headers not received within {self.header_timeout:g} s")
            self.refuse(*self.refusal)
        else:
            self.transport.close()

    def body_timed_out(self) -> None:
        self.guard_timer = None
        if self.transport.is_closing() or not self.reading_body:
            return
        if self.flow.read_paused:  # the app has not read what came: the stall is ours
            self.arm(self.body_timeout, self.body_timed_out)
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # The app sees a disconnect, and what it answers to that is not sent: the 408 is.
            cycle.disconnected = True
            cycle.message_event.set()
            self.refuse(408, f"request body stalled for {self.body_timeout:g} s")
            return
        self.transport.close()

    # ---- the protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.arm(self.header_timeout, self.headers_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's data_received, with the header limits and the body timer around the parser."""
        self._unset_keepalive_if_required()
        if self.refusal is not None:
            return  # refused: the connection is closing, nothing more is parsed
        if self.awaiting_headers:
            self.received_any = True
            self.header_bytes += len(data)
        elif self.reading_body:
            self.arm(self.body_timeout, self.body_timed_out)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self.refusal is None:  # a malformed request, not one of our limits: uvicorn's 400
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
                return
        if self.refusal is None and self.awaiting_headers and self.header_bytes > self.max_header_bytes:
            limit = self.max_header_bytes
            self.refusal = (431, f"request headers are over {limit} bytes; the limit is {limit}")
        if self.refusal is not None:
            self.refuse(*self.refusal)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_fields = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_fields += 1
        if self.header_fields > self.max_header_fields:
            limit = self.max_header_fields
            self.refusal = (431, f"request has over {limit} header fields; the limit is {limit}")
            raise HeadersTooLarge  # stops the parser; data_received answers
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.awaiting_headers = False
        self.header_bytes = 0
        self.received_any = False
        self.reading_body = True
        self.arm(self.body_timeout, self.body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.reading_body = False
        self.disarm()
        self.awaiting_headers = True  # the next request's headers may follow at once (pipelining)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.awaiting_headers:
            # uvicorn's keep-alive timeout closes an idle connection; this one bounds a slow next request
            self.arm(max(self.header_timeout, self.timeout_keep_alive), self.headers_timed_out)

    def refuse(self, status: int, detail: str) -> None:
        """Answer `status` with a JSON detail and close: the request never reaches the app."""
        self.disarm()
        self.reading_body = False
        logger.warning(
            "refused a request",
            extra={"fields": {"status": status, "detail": detail, "client": client_text(self.client)}},
        )
        body = json.dumps({"detail": detail}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def client_text(client: tuple[str, int] | None) -> str | None:
    return f"{client[0]}:{client[1]}" if client else None


def uvicorn_config(settings: Settings, host: str, port: int, workers: int) -> Config:
    """The server configuration `python -m app` runs: the app, the guarded protocol, limits, JSON logs."""
    return Config(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        http=PROTOCOL,
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
        timeout_graceful_shutdown=settings.graceful_shutdown_timeout,  # type: ignore[arg-type]
        log_config=uvicorn_log_config(settings.log_level),
        access_log=False,  # the app writes one JSON line per request (app.observability)
        server_header=False,
    )
