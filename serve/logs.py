"""Structured logs: one JSON object per line on standard error, each with the request id it belongs to.

    {"ts": "2026-05-02T10:00:00.123Z", "level": "info", "logger": "flowtts.serve", "msg": "request",
     "request_id": "3f2a…", "method": "POST", "path": "/v1/audio/speech", "status": 200, "ms": 412.5}

The request id comes from the client's ``X-Request-Id`` (when it is short and plain) or is made here; it is
returned in the ``X-Request-Id`` response header and in every error body, and a ``contextvars`` variable
carries it into everything the request logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("flowtts_request_id", default=None)
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


def new_request_id(offered: str | None = None) -> str:
    """The client's id if it is plain (``[A-Za-z0-9._:-]``, at most 64), else a fresh random one."""
    if offered and _GOOD_ID.match(offered):
        return offered
    return uuid.uuid4().hex[:16]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or current_request_id()
        if rid:
            out["request_id"] = rid
        for k, v in record.__dict__.items():
            if k not in _STANDARD and k not in out and not k.startswith("_"):
                out[k] = v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def log_config(level: str) -> dict:
    """A ``logging.config.dictConfig`` for uvicorn and flowtts: JSON lines on stderr. uvicorn's own
    access log is off (the server logs one ``request`` line per request itself, with its id)."""
    lvl = level.upper()
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "flowtts": {"handlers": ["stderr"], "level": lvl, "propagate": False},
        },
    }
