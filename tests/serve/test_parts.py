"""Small parts of the service on their own: metrics text, word timings, voice ids, keys, JSON logs."""

from __future__ import annotations

import json
import logging

import pytest

from serve.auth import ApiKeys, fingerprint
from serve.errors import ApiError
from serve.logs import JsonFormatter, new_request_id, reset_request_id, set_request_id
from serve.metrics import Metrics
from serve.timings import word_timings
from serve.voice_store import voice_id


def test_metrics_render_prometheus_text() -> None:
    m = Metrics()
    m.inc("flowtts_http_requests_total", route="/v1/audio/speech", status=200)
    m.inc("flowtts_http_requests_total", route="/v1/audio/speech", status=200)
    m.observe("flowtts_time_to_first_audio_seconds", 0.04, transport="http")
    m.observe("flowtts_time_to_first_audio_seconds", 7.0, transport="http")
    m.set("flowtts_streams_active", 3)
    text = m.render()
    assert 'flowtts_http_requests_total{route="/v1/audio/speech",status="200"} 2' in text
    assert 'flowtts_time_to_first_audio_seconds_bucket{transport="http",le="0.05"} 1' in text
    assert 'flowtts_time_to_first_audio_seconds_bucket{transport="http",le="+Inf"} 2' in text
    assert 'flowtts_time_to_first_audio_seconds_count{transport="http"} 2' in text
    assert "flowtts_streams_active 3" in text and "flowtts_stream_rtf_count 0" in text
    assert "# TYPE flowtts_step_seconds histogram" in text
    assert m.value("flowtts_time_to_first_audio_seconds", transport="http") == 2


def test_word_timings_share_the_span_by_length() -> None:
    ws = word_timings("Hi there, everybody.", 1.0, 3.0)
    assert [w.word for w in ws] == ["Hi", "there,", "everybody."]
    assert ws[0].start == 1.0 and ws[-1].end <= 3.0
    assert all(a.end <= b.start for a, b in zip(ws, ws[1:], strict=False))
    assert (ws[2].end - ws[2].start) > (ws[0].end - ws[0].start)
    assert word_timings("", 0, 1) == [] and word_timings("a b", 1, 1)[1].start == 1


@pytest.mark.parametrize(
    "name,vid",
    [
        ("Anna", "anna"),
        ("Anna Example 2", "anna-example-2"),
        ("  x_y.z ", "x_y.z"),
        ("Élodie Dupré", "elodie-dupre"),
        ("a..b", "a.b"),
        ("../../etc", "etc"),
    ],
)
def test_voice_ids_are_safe_slugs(name, vid) -> None:
    assert voice_id(name) == vid


@pytest.mark.parametrize("name", ["", "!!!", "...", "/"])
def test_names_without_letters_are_refused(name) -> None:
    with pytest.raises(ApiError, match="letters or digits"):
        voice_id(name)


def test_api_keys() -> None:
    keys = ApiKeys(frozenset({"k" * 20}))
    assert keys.check("Bearer " + "k" * 20) == fingerprint("k" * 20) and len(fingerprint("x")) == 12
    assert keys.check(None, query_key="k" * 20)
    for bad in (None, "Bearer", "Basic " + "k" * 20, "Bearer " + "k" * 19):
        with pytest.raises(ApiError) as e:
            keys.check(bad)
        assert e.value.status == 401
    assert ApiKeys(frozenset()).check(None) is None


def test_json_logs_carry_the_request_id() -> None:
    assert new_request_id("abc_1.2:3") == "abc_1.2:3" and len(new_request_id("x y")) == 16
    token = set_request_id("rid-1")
    try:
        record = logging.LogRecord("flowtts.serve", logging.INFO, __file__, 1, "hello %s", ("you",), None)
        record.status = 200
        out = json.loads(JsonFormatter().format(record))
    finally:
        reset_request_id(token)
    assert out["msg"] == "hello you" and out["request_id"] == "rid-1" and out["status"] == 200
    assert out["level"] == "info" and out["ts"].endswith("Z")
