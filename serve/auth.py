"""Bearer API keys. Without keys configured the server is open (bind it to localhost); with keys, every
``/v1`` endpoint needs ``Authorization: Bearer <key>`` (a browser WebSocket, which cannot set headers, may
pass ``?api_key=<key>`` instead). Keys are compared in constant time and never logged: a voice records
the key's fingerprint (the first 12 hex digits of its SHA-256).
"""

from __future__ import annotations

import hashlib
import hmac

from serve.errors import ApiError


class ApiKeys:
    def __init__(self, keys: frozenset[str]):
        self._keys = tuple(k.encode() for k in keys)

    @property
    def required(self) -> bool:
        return bool(self._keys)

    def check(self, authorization: str | None, query_key: str | None = None) -> str | None:
        """The fingerprint of a valid key (None when no keys are configured); ApiError 401 otherwise."""
        if not self._keys:
            return None
        key = None
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                key = value.strip()
        if key is None and query_key:
            key = query_key
        if key is None:
            raise ApiError(
                401,
                "missing_api_key",
                "this server needs an API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        given = key.encode("utf-8", "replace")
        ok = False
        for k in self._keys:
            ok |= hmac.compare_digest(given, k)
        if not ok:
            raise ApiError(
                401, "invalid_api_key", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"}
            )
        return fingerprint(key)


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12]
