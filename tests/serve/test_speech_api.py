"""``POST /v1/audio/speech`` through the official ``openai`` client (streaming included) and raw HTTP."""

from __future__ import annotations

import base64
import json
import time

import openai
import pytest

from tests.serve.helpers import decode_audio

TEXT = "Hello there. How are you today?"


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def _speak(client, fmt, **extra):
    return client.audio.speech.create(
        model="flowtts", voice="tiny-voice", input=TEXT, response_format=fmt, extra_body={"seed": 1, **extra}
    ).content


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus"])
def test_every_container_format_decodes(client, fmt) -> None:
    x, rate = decode_audio(_speak(client, fmt))
    assert rate == 24000
    assert 2.0 < len(x) / rate < 12.0  # two sentences of the tiny model (length capped by the text)


def test_raw_and_telephony_formats(client) -> None:
    pcm = _speak(client, "pcm")
    seconds = len(pcm) / 2 / 24000
    assert len(pcm) % 2 == 0 and seconds > 2
    for fmt in ("ulaw", "alaw"):
        raw = client.audio.speech.create(
            model="x", voice="tiny-voice", input=TEXT, response_format=fmt, extra_body={"seed": 1}
        ).content
        assert abs(len(raw) / 8000 - seconds) < 0.05  # one byte per sample at 8 kHz, same audio
    wav16 = _speak(client, "wav", sample_rate=16000)
    x, rate = decode_audio(wav16)
    assert rate == 16000 and abs(len(x) / rate - seconds) < 0.05


def test_seed_makes_it_deterministic_and_extensions_apply(client) -> None:
    a, b = _speak(client, "pcm"), _speak(client, "pcm")
    assert a == b
    c = _speak(client, "pcm", seed=2)
    assert c != a
    fast = (
        _speak(client, "pcm", speed=2.0)
        if False
        else client.audio.speech.create(
            model="flowtts",
            voice="tiny-voice",
            input=TEXT,
            response_format="pcm",
            speed=2.0,
            extra_body={"seed": 1},
        ).content
    )
    assert abs(len(fast) / len(a) - 0.5) < 0.05
    few = _speak(client, "pcm", steps=2, cfg=1.0, language="en")
    assert len(few) > 0 and few != a


def test_audio_streams_while_it_is_generated(client) -> None:
    text = "This is a longer text. " * 6
    t0 = time.perf_counter()
    arrivals, total = [], 0
    with client.audio.speech.with_streaming_response.create(
        model="flowtts", voice="tiny-voice", input=text, response_format="pcm"
    ) as response:
        assert response.headers["content-type"] == "audio/pcm"
        assert response.headers["x-sample-rate"] == "24000" and response.headers["x-request-id"]
        for chunk in response.iter_bytes():
            arrivals.append(time.perf_counter() - t0)
            total += len(chunk)
    assert total / 48000 > 10  # six sentences
    assert len(arrivals) > 5
    assert arrivals[0] < 0.5 * arrivals[-1]  # the first audio came long before the end


def test_sse_events_through_the_client(client) -> None:
    deltas, done, timings = [], None, []
    with client.audio.speech.with_streaming_response.create(
        model="flowtts",
        voice="tiny-voice",
        input=TEXT,
        response_format="pcm",
        stream_format="sse",
        extra_body={"seed": 1, "word_timestamps": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            ev = json.loads(line[6:])
            if ev["type"] == "speech.audio.delta":
                deltas.append(base64.b64decode(ev["audio"]))
            elif ev["type"] == "speech.word_timestamps":
                timings.append(ev)
            elif ev["type"] == "speech.audio.done":
                done = ev
    assert b"".join(deltas) == _speak(client, "pcm")  # the same audio as the plain stream
    assert done["usage"]["output_tokens"] == done["usage"]["frames"] > 0 and done["usage"]["total_tokens"] > 0
    assert [t["text"] for t in timings] == ["Hello there.", "How are you today?"]
    words = [w for t in timings for w in t["words"]]
    assert [w["word"] for w in words] == "Hello there. How are you today?".split()
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and words[-1]["end"] <= done["usage"]["audio_seconds"] + 0.05


def test_voice_object_and_default_voice(server) -> None:
    status, headers, body = server.request(
        "POST", "/v1/audio/speech", {"input": "Hi.", "voice": {"id": "tiny-voice"}, "response_format": "pcm"}
    )
    assert status == 200 and headers["X-Voice"] == "tiny-voice" and len(body) > 0
    status, headers, _ = server.request(
        "POST", "/v1/audio/speech", {"input": "Hi.", "response_format": "pcm"}
    )
    assert status == 200 and headers["X-Voice"] == "tiny-voice"


BAD = [
    ({"input": ""}, 400, "empty_input"),
    ({"input": "   "}, 400, "empty_input"),
    ({"input": "x" * 4097}, 400, "input_too_long"),
    ({"input": "Hi.", "voice": "alloy"}, 400, "unknown_voice"),
    ({"input": "Hi.", "voice": "../../etc/passwd"}, 400, "unknown_voice"),
    ({"input": "Hi.", "response_format": "aac"}, 400, "invalid_value"),
    ({"input": "Hi.", "response_format": "ulaw", "sample_rate": 16000}, 400, "invalid_sample_rate"),
    ({"input": "Hi.", "sample_rate": 7000}, 400, "invalid_sample_rate"),
    ({"input": "Hi.", "speed": 5}, 400, "invalid_value"),
    ({"input": "Hi.", "language": "xx"}, 400, "unsupported_language"),
    ({"input": "Hi.", "steps": 0}, 400, "invalid_value"),
    ({"input": "Hi.", "stream_format": "ws"}, 400, "invalid_value"),
    ({"input": 5}, 400, "invalid_value"),
    ({"voice": "tiny-voice"}, 400, "missing_field"),
    ({"input": "!!! ???"}, 400, "invalid_input"),  # nothing speakable
]


@pytest.mark.parametrize("body,status,code", BAD, ids=[b[2] + str(i) for i, b in enumerate(BAD)])
def test_bad_requests_get_one_clear_4xx(server, body, status, code) -> None:
    got, headers, raw = server.request("POST", "/v1/audio/speech", body)
    err = json.loads(raw)["error"]
    assert got == status and err["code"] == code, err
    assert err["message"] and "\n" not in err["message"] and err["request_id"] == headers["x-request-id"]


def test_malformed_bodies(server) -> None:
    cases = [
        (b"{not json", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b'["a list"]', {"Content-Type": "application/json"}, 400, "invalid_value"),
        (b'{"input": "Hi."}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"input=Hi", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ]
    for data, headers, status, code in cases:
        got, _, raw = server.request("POST", "/v1/audio/speech", data, headers)
        assert (got, json.loads(raw)["error"]["code"]) == (status, code)
    big = b"x" * (2 * 1024 * 1024)
    json_head = "POST /v1/audio/speech HTTP/1.1\nHost: x\nContent-Type: application/json\n"
    head = f"{json_head}Content-Length: {len(big)}\n"
    status, raw = server.raw(head, big)
    assert status == 413 and b"body_too_large" in raw
    chunked = f"{json_head}Transfer-Encoding: chunked\n"
    piece = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    status, raw = server.raw(chunked, piece * 40)  # no length given: refused once past the limit
    assert status == 413 and b"body_too_large" in raw
    got, _, raw = server.request("GET", "/v1/audio/speech")
    assert got == 405 and json.loads(raw)["error"]["code"] == "method_not_allowed"
    got, _, raw = server.request("GET", "/v1/nothing/here")
    assert got == 404 and json.loads(raw)["error"]["code"] == "not_found"


def test_client_errors_through_openai_raise_bad_request(client) -> None:
    with pytest.raises(openai.BadRequestError, match="unknown voice"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")


def test_request_ids_metrics_and_health(server) -> None:
    status, headers, _ = server.request("GET", "/health", headers={"X-Request-Id": "abc-123"})
    assert status == 200 and headers["x-request-id"] == "abc-123"
    _, headers, _ = server.request("GET", "/health", headers={"X-Request-Id": "bad id with spaces"})
    assert headers["x-request-id"] != "bad id with spaces"
    health = json.loads(server.request("GET", "/health")[2])
    assert health["status"] == "ok" and health["worker_alive"] and health["model"] == "tiny-random"
    _, _, text = server.request("GET", "/metrics")
    text = text.decode()
    for name in (
        "flowtts_http_requests_total",
        "flowtts_time_to_first_audio_seconds_bucket",
        "flowtts_stream_rtf_count",
        "flowtts_streams_active",
        "flowtts_errors_total",
    ):
        assert name in text
    assert 'route="/v1/audio/speech",status="200"' in text
    assert "/v1/nothing/here" not in text  # labels are route templates, never raw paths
    spec = json.loads(server.request("GET", "/openapi.json")[2])
    assert {"/v1/audio/speech", "/v1/audio/voices", "/v1/audio/voices/{voice_id}", "/health"} <= set(
        spec["paths"]
    )
    assert server.request("GET", "/docs")[0] == 200
