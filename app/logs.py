"""Structured logs: one JSON object per line on stderr for everything under the `app` logger."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

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
