"""Schemathesis fuzzes every operation of the served OpenAPI schema over HTTP: no request may get a 5xx.

The server here has small limits (40 characters, 1 s of audio) so that hypothesis' many valid requests stay
quick. Few examples per operation in the default run; ``-m slow`` runs many more.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

OPERATIONS = [
    ("POST", "/v1/audio/speech"),
    ("GET", "/v1/audio/voices"),
    ("POST", "/v1/audio/voices"),
    ("GET", "/v1/audio/voices/{voice_id}"),
    ("DELETE", "/v1/audio/voices/{voice_id}"),
    ("GET", "/health"),
    ("GET", "/metrics"),
]


@pytest.fixture(scope="module")
def fuzz_server(make_server):
    return make_server(max_input_chars=40, max_audio_seconds=1.0, max_streams=4)


@pytest.fixture(scope="module")
def schema(fuzz_server):
    spec = json.loads(fuzz_server.request("GET", "/openapi.json")[2])
    return schemathesis.openapi.from_dict(spec)


def _fuzz(fuzz_server, schema, method: str, path: str, examples: int) -> None:
    ops = [r.ok() for r in schema.get_all_operations()]
    assert {(o.method.upper(), o.path) for o in ops} == set(OPERATIONS)  # nothing unfuzzed, nothing missing
    op = next(o for o in ops if (o.method.upper(), o.path) == (method, path))
    seen = []

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy())
    def check(case) -> None:
        response = case.call(base_url=fuzz_server.url, timeout=60)
        seen.append(response.status_code)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
        )

    check()
    assert seen
    fuzz_server.wait_idle()


@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_no_server_errors(fuzz_server, schema, method, path) -> None:
    _fuzz(fuzz_server, schema, method, path, examples=12)


@pytest.mark.slow
@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_no_server_errors_long(fuzz_server, schema, method, path) -> None:
    _fuzz(fuzz_server, schema, method, path, examples=150)
