"""FastAPI dependencies: the ``Service`` from ``app.state`` and the API-key check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serve.service import Service


def get_service(request: Request) -> Service:
    return request.app.state.service


def require_key(request: Request) -> str | None:
    """The caller's key fingerprint (None when the server has no keys); 401 without a valid key."""
    return get_service(request).keys.check(request.headers.get("authorization"))


ServiceDep = Annotated[Service, Depends(get_service)]
KeyDep = Annotated[str | None, Depends(require_key)]
