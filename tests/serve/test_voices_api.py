"""The voice library over HTTP: upload (multipart, consent), use, list, delete, refuse bad clips, durability,
and API keys."""

from __future__ import annotations

import io
import json
import threading
import uuid

import openai
import pytest

from tests.serve.helpers import speechlike_clip, wav_bytes


def _multipart(fields: dict, file_bytes: bytes, filename: str = "clip.wav") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio_sample"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    out.write(file_bytes)
    out.write(f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def two_hour_flac() -> bytes:
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", 8000, 1, format="FLAC", subtype="PCM_16") as f:
        minute = np.zeros(8000 * 60, dtype=np.int16)
        for _ in range(120):
            f.write(minute)
    return buf.getvalue()


def upload(server, name: str, data: bytes, consent: str = "my own voice", headers=None, **fields):
    body, ctype = _multipart({"name": name, "consent": consent, **fields}, data)
    status, _, raw = server.request(
        "POST", "/v1/audio/voices", body, {"Content-Type": ctype, **(headers or {})}
    )
    return status, json.loads(raw)


def test_openai_client_creates_a_voice_that_speaks_and_can_be_deleted(server) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)
    clip = wav_bytes(speechlike_clip(4.0))
    voice = client.audio.voices.create(
        audio_sample=("me.wav", clip), consent="I agree to be cloned.", name="Anna Example"
    )
    assert voice.id == "anna-example" and voice.name == "Anna Example" and voice.object == "audio.voice"
    listed = json.loads(server.request("GET", "/v1/audio/voices")[2])["data"]
    mine = next(v for v in listed if v["id"] == "anna-example")
    assert mine["consent"] == "I agree to be cloned." and mine["type"] == "audio_sample" and mine["deletable"]
    assert 3.0 <= mine["duration_s"] <= 4.5
    assert next(v for v in listed if v["id"] == "tiny-voice")["type"] == "preset"
    stored = server.service.voices.get("anna-example").metadata
    assert stored["consent_recorded_at"] and stored["created_by"] == "anonymous"
    audio = client.audio.speech.create(
        model="flowtts", voice="anna-example", input="Hi.", response_format="pcm"
    )
    assert len(audio.content) > 0
    deleted = client.audio.voices.delete("anna-example")
    assert deleted.deleted and deleted.id == "anna-example"
    with pytest.raises(openai.BadRequestError, match="unknown voice"):
        client.audio.speech.create(model="flowtts", voice="anna-example", input="Hi.")
    with pytest.raises(openai.NotFoundError):
        client.audio.voices.delete("anna-example")


def test_bad_uploads_are_refused_clearly(server) -> None:
    good = wav_bytes(speechlike_clip(4.0))
    two_hours = two_hour_flac()  # 180 kB: under the size limit, refused from its header, never decoded
    cases = [
        ("text", b"this is not audio at all" * 10, {}, 400, "invalid_audio"),
        ("empty", b"", {}, 400, "invalid_audio"),
        (
            "corrupt",
            good[:44] + bytes(range(256)) * 8,
            {},
            None,
            None,
        ),  # header + noise: refused or too short
        ("truncated", good[:60], {}, 400, None),
        ("short", wav_bytes(speechlike_clip(1.0)), {}, 400, "invalid_audio"),
        ("silent", wav_bytes(speechlike_clip(4.0) * 0), {}, 400, "clip_too_quiet"),
        ("clipped", wav_bytes(speechlike_clip(4.0) * 40), {}, 400, "clip_clipped"),
        ("two-hours", two_hours, {}, 400, "clip_too_long"),
        ("long", wav_bytes(speechlike_clip(30.0, rate=8000), rate=8000), {}, 400, "invalid_audio"),
        ("!!!", good, {}, 400, "invalid_name"),
        ("tiny-voice", good, {}, 409, "voice_exists"),  # a preset's id
        ("lang", good, {"language": "xx"}, 400, "unsupported_language"),
    ]
    for name, data, extra, status, code in cases:
        got, body = upload(server, name, data, **extra)
        assert 400 <= got < 500, (name, got, body)
        if status is not None:
            assert got == status, (name, body)
        if code is not None:
            assert body["error"]["code"] == code, (name, body)
    got, body = upload(server, "no-consent", good, consent="  ")
    assert got == 400 and body["error"]["code"] == "consent_required"
    body, ctype = _multipart({"name": "x"}, good)  # consent field missing altogether
    got, _, raw = server.request("POST", "/v1/audio/voices", body, {"Content-Type": ctype})
    assert got == 400 and json.loads(raw)["error"]["code"] == "missing_field"
    got, _, raw = server.request("POST", "/v1/audio/voices", {"name": "x"})  # JSON, not multipart
    assert got == 400
    assert not [p for p in server.service.voices.library.root.glob("*") if p.suffix != ".safetensors"]


def test_a_two_hour_upload_is_cut_off_by_size(server) -> None:
    size = 2 * 3600 * 24000 * 2  # 2 h of 16-bit 24 kHz: 345 MB; refused from Content-Length, unread
    head = (
        "POST /v1/audio/voices HTTP/1.1\nHost: x\nContent-Type: multipart/form-data; boundary=b\n"
        f"Content-Length: {size}\n"
    )
    status, raw = server.raw(head, b"--b\r\n" + b"\0" * 100_000)
    assert status == 413 and b"body_too_large" in raw


def test_delete_and_lookup_refusals(server) -> None:
    assert server.request("DELETE", "/v1/audio/voices/tiny-voice")[0] == 403
    for vid in ("nope", "..", "..%2F..%2Fetc", "A"):
        got, _, raw = server.request("DELETE", f"/v1/audio/voices/{vid}")
        assert got == 404, (vid, raw)
    assert server.request("GET", "/v1/audio/voices/tiny-voice")[0] == 200
    assert server.request("GET", "/v1/audio/voices/nope")[0] == 404


def test_voices_survive_a_restart_and_races_never_lose_one(make_server, tmp_path) -> None:
    voices_dir = str(tmp_path / "lib")
    first = make_server(voices_dir=voices_dir)
    clip = wav_bytes(speechlike_clip(4.0))
    results = []

    def go(name):
        results.append((name, upload(first, name, clip)[0]))

    threads = [threading.Thread(target=go, args=(n,)) for n in ["same", "same", "same", "other-1", "other-2"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for n, s in results if n == "same") == [201, 409, 409]
    assert all(s == 201 for n, s in results if n != "same")
    assert first.request("DELETE", "/v1/audio/voices/other-2")[0] == 200
    first.stop()
    second = make_server(voices_dir=voices_dir)  # a new process would see the same folder
    ids = {v["id"] for v in json.loads(second.request("GET", "/v1/audio/voices")[2])["data"]}
    assert {"same", "other-1", "tiny-voice"} <= ids and "other-2" not in ids
    assert (
        second.request(
            "POST", "/v1/audio/speech", {"input": "Hi.", "voice": "same", "response_format": "pcm"}
        )[0]
        == 200
    )


def test_api_keys_guard_the_api(make_server, tmp_path) -> None:
    key, other = "k" * 20 + "-good", "k" * 20 + "-evil"
    srv = make_server(api_keys=frozenset({key}))
    auth = {"Authorization": f"Bearer {key}"}
    clip = wav_bytes(speechlike_clip(4.0))
    assert upload(srv, "mine", clip)[0] == 401
    assert upload(srv, "mine", clip, headers={"Authorization": f"Bearer {other}"})[0] == 401
    status, body = upload(srv, "mine", clip, headers=auth)
    assert status == 201
    assert srv.service.voices.get("mine").metadata["created_by"] not in ("anonymous", key)  # a fingerprint
    assert srv.request("DELETE", "/v1/audio/voices/mine")[0] == 401
    got, headers, raw = srv.request("POST", "/v1/audio/speech", {"input": "Hi."})
    assert (
        got == 401 and json.loads(raw)["error"]["code"] == "missing_api_key" and headers["www-authenticate"]
    )
    assert srv.request("GET", "/v1/audio/voices")[0] == 401
    assert srv.request("GET", "/v1/audio/voices", headers=auth)[0] == 200
    assert srv.request("POST", "/v1/audio/speech", {"input": "Hi.", "response_format": "pcm"}, auth)[0] == 200
    assert srv.request("DELETE", "/v1/audio/voices/mine", headers=auth)[0] == 200
    for open_path in ("/health", "/metrics", "/", "/openapi.json"):
        assert srv.request("GET", open_path)[0] == 200
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0)
    assert client.audio.speech.create(
        model="m", voice="tiny-voice", input="Hi.", response_format="pcm"
    ).content
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=srv.url + "/v1", api_key=other, max_retries=0).audio.speech.create(
            model="m", voice="tiny-voice", input="Hi."
        )


def test_cors_when_configured(make_server) -> None:
    srv = make_server(cors_origins=("https://app.example",))
    got, headers, _ = srv.request(
        "OPTIONS",
        "/v1/audio/speech",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert got == 200 and headers["access-control-allow-origin"] == "https://app.example"
    _, headers, _ = srv.request("GET", "/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in headers
