"""Plain ASGI middleware (no buffering, so streamed responses stay streamed).

- ``RequestContext``: a request id per HTTP request or WebSocket (``X-Request-Id`` in and out, in a
  context variable for the logs), one ``request`` log line when the response ends, and the request
  counter labelled by route template (``/v1/audio/voices/{voice_id}``), never by the raw path.
- ``BodyLimit``: refuses a body larger than its route's limit with 413, from ``Content-Length`` before
  reading anything, or as soon as a chunked body passes the limit.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from serve.errors import error_body
from serve.logs import new_request_id, reset_request_id, set_request_id
from serve.metrics import Metrics

log = logging.getLogger("flowtts.serve")


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return v.decode("latin-1")
    return None


class RequestContext:
    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        rid = new_request_id(_header(scope, b"x-request-id"))
        scope.setdefault("state", {})["request_id"] = rid
        token = set_request_id(rid)
        t0 = time.perf_counter()
        status = {"code": 0}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if scope["type"] == "http":
                code = status["code"] or 500
                self.metrics.inc("flowtts_http_requests_total", route=template, status=code)
                log.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "route": template,
                        "status": code,
                        "ms": round(1000 * (time.perf_counter() - t0), 1),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                )
            else:
                log.info(
                    "websocket closed",
                    extra={"path": scope.get("path"), "ms": round(1000 * (time.perf_counter() - t0), 1)},
                )
            reset_request_id(token)


class BodyLimit:
    """``limit_for(scope) -> int``: the largest body (bytes) this request may send."""

    def __init__(self, app, limit_for: Callable[[dict], int]):
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope)
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await _refuse(send, 400, "invalid_request", "bad Content-Length header")
            if declared > limit:
                return await _refuse(send, 413, "body_too_large", _too_large(limit))
        seen = {"bytes": 0, "over": False, "started": False}

        async def limited_receive():
            if seen["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > limit:
                    seen["over"] = True
                    return {"type": "http.disconnect"}  # the app stops reading; we answer 413 below
            return message

        async def guarded_send(message):
            if seen["over"]:
                if message["type"] == "http.response.start" and not seen["started"]:
                    seen["started"] = True
                    await _refuse(send, 413, "body_too_large", _too_large(limit))
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not seen["over"]:
                raise
        if seen["over"] and not seen["started"]:
            seen["started"] = True
            await _refuse(send, 413, "body_too_large", _too_large(limit))


def _too_large(limit: int) -> str:
    return f"the request body is larger than this endpoint's limit of {limit} bytes"


async def _refuse(send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(status, code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
