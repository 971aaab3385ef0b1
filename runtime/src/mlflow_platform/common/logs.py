"""JSON logs: one object per line on stderr (stdout stays the command's result, which a pipeline reads)."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from typing import TextIO


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Only fields passed explicitly (``extra={"fields": {...}}``) are logged:
    never a request, a header or a settings object (which would carry secrets)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}) or {})
        if record.exc_info and record.exc_info[0] is not None:
            out["exception"] = record.exc_info[0].__name__
            out["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Every logger through one JSON handler (calling it again replaces the handler, never adds one)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log would print every probe; its error log goes through the JSON handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"
