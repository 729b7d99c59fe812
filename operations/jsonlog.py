"""Structured logs: one JSON object a line (LOG_FORMAT=json), and the request id on every record.

Our own formatter rather than python-json-logger: the fields are few and fixed, and it keeps the
logging configuration free of another dependency. Pure standard library, because Django loads
the logging configuration before the apps.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# The id of the request being answered (operations.middleware sets it), "-" outside requests.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
# Attributes a record may carry (as `extra=`) that go out as fields of their own.
REQUEST_FIELDS = ("method", "path", "route_kind", "status", "duration_ms")


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record, so text and JSON logs can carry it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601, milliseconds), level, logger, message, request_id, the request
    fields when the record has them, and the traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
