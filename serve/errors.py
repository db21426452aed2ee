"""Errors on the wire: one JSON shape (OpenAI's) for every refused request, never a traceback.

    {"error": {"message": "input is empty", "type": "invalid_request_error", "code": "empty_input",
               "param": "input", "request_id": "…"}}

Bad input is 4xx with a one-line message; only a bug in the server gives 500 (and is logged in full).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowtts.errors import FlowTTSError
from serve.logs import current_request_id

log = logging.getLogger("flowtts.serve")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
}


class ApiError(Exception):
    """A request the server refuses: HTTP ``status``, a stable ``code`` and a one-line ``message``."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.headers = headers or {}


def error_body(status: int, code: str, message: str, param: str | None = None) -> dict:
    return {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(status, "invalid_request_error"),
            "code": code,
            "param": param,
            "request_id": current_request_id(),
        }
    }


def error_response(status: int, code: str, message: str, param: str | None = None, headers=None):
    return JSONResponse(error_body(status, code, message, param), status_code=status, headers=headers)


def busy_error(max_streams: int) -> ApiError:
    return ApiError(
        429,
        "server_busy",
        f"the server is busy: all {max_streams} streams are in use; retry shortly",
        headers={"Retry-After": "1"},
    )


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None, str]:
    """One line from pydantic's list of errors: (message, param, code)."""
    errors = exc.errors()
    if not errors:
        return "invalid request", None, "invalid_request"
    e = errors[0]
    loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "header")]
    param = ".".join(loc) or None
    kind = e.get("type", "")
    if kind == "json_invalid":
        return "the request body is not valid JSON", None, "invalid_json"
    if kind == "missing":
        return f"missing required field {param!r}", param, "missing_field"
    msg = str(e.get("msg", "invalid value")).rstrip(".")
    return (f"{param}: {msg}" if param else msg), param, "invalid_value"


def install_error_handlers(app: FastAPI, json_routes: frozenset[str]) -> None:
    """``json_routes``: paths whose body must be JSON (a body of another type is 415, not 400)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.param, exc.headers)

    @app.exception_handler(FlowTTSError)
    async def _flowtts_error(request: Request, exc: FlowTTSError):
        return error_response(400, "invalid_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.url.path in json_routes and ctype != "application/json":
            return error_response(
                415, "unsupported_media_type", f"send the body as application/json (got {ctype or 'none'})"
            )
        message, param, code = _validation_message(exc)
        return error_response(400, code, message, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("internal error", extra={"path": request.url.path})
        return error_response(500, "internal_error", "internal server error (see the server log)")
