"""Log lines as text (development) or one JSON object a line (``CONDUIT_LOG_FORMAT=json``, the
production default), each naming the request that caused it (``request_id``).

Every logger of the process goes through the root's one handler on stderr: the app's own
(``conduit.*``, Quart's ``app``), SQLAlchemy's and Hypercorn's error log (app/serving/serve.py
hands Hypercorn that logger rather than letting it make its own handler). Access lines go to
``conduit.access``, on stdout by default (``CONDUIT_ACCESS_LOG``: ``-``, a file, or ``off``), as
Hypercorn's did. A line carries structured fields in ``extra={"fields": {...}}``; the JSON
formatter puts them at the top level.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from app.observe.record import current_request_id

ACCESS_LOGGER = "conduit.access"
TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s%(request_suffix)s"


class RequestIdFilter(logging.Filter):
    """Puts the current request's ID on every record (``request_id``; None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = record.__dict__.setdefault("request_id", current_request_id())
        record.__dict__["request_suffix"] = f" [{request_id}]" if request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            out["request_id"] = request_id
        out.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


def handler(stream_or_path: Any, log_format: str) -> logging.Handler:
    made: logging.Handler = (logging.FileHandler(stream_or_path) if isinstance(stream_or_path, str)
                             else logging.StreamHandler(stream_or_path))
    made.setFormatter(formatter(log_format))
    made.addFilter(RequestIdFilter())
    return made


def configure_logging(log_format: str, level: str, access_log: str) -> None:
    """The process's logging, once: the root's handler on stderr, the access log's own."""
    root = logging.getLogger()
    root.handlers = [handler(sys.stderr, log_format)]
    root.setLevel(level)
    access = logging.getLogger(ACCESS_LOGGER)
    access.propagate = False
    access.setLevel(logging.INFO)
    if access_log == "off":
        access.handlers = []
        access.disabled = True
    else:
        access.disabled = False
        access.handlers = [handler(sys.stdout if access_log == "-" else access_log, log_format)]
