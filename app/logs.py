"""Structured logs: one JSON object per line on stderr for everything under the `app` logger."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from types import TracebackType
from typing import Any, TextIO

APP_LOGGER = "app"


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, then the record's `fields` (passed as `extra={"fields": {...}}`)."""

    def __init__(self) -> None:
        super().__init__()
        # One encoder, made once: json.dumps() with options builds a new one per call (~1.5 us).
        self.encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
        self.second = (-1, "")  # the last whole second formatted, and its text

    def timestamp(self, created: float) -> str:
        """ISO 8601 UTC with milliseconds; the seconds part is formatted once per second."""
        whole = int(created)
        second, text = self.second
        if whole != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self.second = (whole, text)
        return f"{text}.{int((created - whole) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.encoder.encode(entry)


class JsonHandler(logging.StreamHandler[TextIO]):
    """A stderr handler that formats as JSON; a class of its own so reconfiguring replaces it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(JsonFormatter())


def configure_logging(level: str) -> logging.Logger:
    """Send the `app` loggers' records to stderr as JSON lines, at `level` (DEBUG, INFO, ...)."""
    logger = logging.getLogger(APP_LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, JsonHandler)]:
        logger.removeHandler(handler)
    logger.addHandler(JsonHandler())
    logger.setLevel(level.upper())
    logger.propagate = False  # the root logger's plain-text handler would print each line twice
    return logger


class StartupFailure(logging.Filter):
    """A failed start as one line, "startup failed: <error>: <why>", without the traceback.

    Starlette hands uvicorn the lifespan's traceback as text, which uvicorn logs, followed by
    "Application startup failed. Exiting."; the exception's message already says which file and
    why (the model loader writes it so), so the traceback's last line is the whole story.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message == "Application startup failed. Exiting.":
            return False
        if record.name == "uvicorn.error" and message.startswith(("Traceback", "Exception in 'lifespan'")):
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                last = f"{type(error).__module__}.{type(error).__qualname__}: {error}"
            else:
                last = message.rstrip().splitlines()[-1]
            record.msg, record.args = "startup failed: %s", (last,)
            record.exc_info, record.exc_text = None, None
        return True


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """logging.config.dictConfig for uvicorn: its own lines (errors, start, stop) as JSON on stderr.

    Python warnings and the root logger go the same way, so the server writes nothing but JSON lines.
    """
    handler = {"class": "app.logs.JsonHandler", "filters": ["startup"]}
    quiet = {"handlers": ["json"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"startup": {"()": "app.logs.StartupFailure"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": "WARNING"},
        "loggers": {"uvicorn": quiet, "uvicorn.error": quiet, "uvicorn.access": quiet, "py.warnings": quiet},
    }


def log_uncaught(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    """sys.excepthook: an exception nobody caught, as one JSON line."""
    logging.getLogger(APP_LOGGER).critical(
        "uncaught %s: %s", kind.__name__, error, exc_info=(kind, error, traceback)
    )


class JsonStderr:
    """Everything written to file descriptor 2 comes out as JSON lines, native libraries' lines too.

    LiteRT's C++ code prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to
    the descriptor, past Python's logging. Descriptor 2 becomes a pipe (inherited by the workers);
    a thread passes JSON lines through and wraps any other line as {"level": "INFO", "logger":
    "stderr", "message": <the line>}. `close()` restores the descriptor and drains the pipe.

    This process's own Python lines (already JSON: a log line per request) skip the pipe: `sys.stderr`
    writes to the real stderr, so the relay thread does not take the GIL once per request. Workers
    started as processes write theirs through the pipe.
    """

    def __init__(self) -> None:
        sys.stderr.flush()
        self.target = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self.python_stderr = sys.stderr
        sys.stderr = open(  # noqa: SIM115 (closed by close())
            os.dup(self.target), "w", buffering=1, encoding="utf-8", errors="backslashreplace"
        )
        self.thread = threading.Thread(target=self.relay, args=(read_end,), name="json-stderr", daemon=True)
        self.thread.start()

    def relay(self, read_end: int) -> None:
        formatter = JsonFormatter()
        with os.fdopen(read_end, "rb") as lines, os.fdopen(self.target, "wb", buffering=0) as out:
            for line in lines:
                text = line.decode("utf-8", "replace").rstrip("\n")
                if not text.startswith("{"):
                    record = logging.LogRecord("stderr", logging.INFO, "", 0, text, (), None)
                    text = formatter.format(record)
                out.write(text.encode() + b"\n")

    def close(self) -> None:
        direct, sys.stderr = sys.stderr, self.python_stderr
        direct.close()
        sys.stderr.flush()
        os.dup2(self.target, 2)  # the pipe's last writer in this process goes: the relay reads to its end
        self.thread.join(timeout=5)
