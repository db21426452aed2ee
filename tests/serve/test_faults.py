"""Faults: a client that never reads, clients that vanish mid-stream, 50 clients at once, many requests."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from serve.streams import SpeechStream

LONG = "One more short sentence here. " * 10  # about 30 s of audio on the tiny model


def _post_head(srv, body: bytes) -> bytes:
    return (
        f"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _wait(predicate, timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - t0


@pytest.fixture(scope="module")
def srv(make_server):
    return make_server(max_streams=8, buffer_seconds=0.3, stall_timeout_s=1.5, sndbuf=32768)


def test_a_client_that_never_reads_is_paused_then_dropped(srv) -> None:
    body = json.dumps({"input": LONG, "response_format": "wav", "sample_rate": 48000}).encode()
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server's writes block
    c.connect(("127.0.0.1", srv.port))
    c.sendall(_post_head(srv, body))
    try:
        frames = []

        def stuck() -> bool:  # paused, and no frame made for 0.3 s
            frames.append(srv.metric("flowtts_frames_total"))
            time.sleep(0.1)
            return srv.metric("flowtts_streams_paused") >= 1 and len(frames) > 3 and frames[-1] == frames[-4]

        _wait(stuck, 40, "the stream to be paused")
        frames_when_paused = frames[-1]
        assert frames_when_paused < 300  # well before the end of its text (≈ 380 frames)
        status, _, _ = srv.request(
            "POST", "/v1/audio/speech", {"input": "Meanwhile.", "response_format": "pcm"}
        )
        assert status == 200  # others are served while it sits out
        _wait(lambda: srv.service.scheduler.slots_in_use == 0, 30, "the stalled client to be dropped")
        assert srv.metric("flowtts_streams_ended_total", reason="stalled") >= 1
        assert srv.metric("flowtts_frames_total") - frames_when_paused < 60  # only the other request's
    finally:
        c.close()


def test_a_client_that_vanishes_mid_stream_stops_its_generation(srv) -> None:
    body = json.dumps({"input": LONG, "response_format": "pcm"}).encode()
    before = srv.metric("flowtts_stop_latency_seconds_count")
    c = socket.create_connection(("127.0.0.1", srv.port))
    c.sendall(_post_head(srv, body))
    assert c.recv(4096).startswith(b"HTTP/1.1 200")
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # reset: gone without a goodbye
    took = _wait(
        lambda: srv.service.scheduler.slots_in_use == 0 and not srv.service.scheduler._running,
        5,
        "the stream to stop",
    )
    assert took < 1.0
    assert srv.metric("flowtts_stop_latency_seconds_count") == before + 1
    assert srv.metric("flowtts_streams_ended_total", reason="disconnected") >= 1


def test_a_websocket_client_that_vanishes_stops_its_generation(srv) -> None:
    async def go():
        ws = await websockets.connect(f"ws://127.0.0.1:{srv.port}/v1/audio/speech/stream")
        await ws.recv()
        await ws.send(json.dumps({"type": "input_text.append", "text": LONG}))
        await ws.send(json.dumps({"type": "input_text.flush"}))
        while json.loads(await ws.recv())["type"] != "speech.audio.delta":
            pass
        ws.transport.abort()

    asyncio.run(go())
    took = _wait(
        lambda: srv.service.scheduler.slots_in_use == 0 and not srv.service.scheduler._running,
        5,
        "the session to end",
    )
    assert took < 1.0


def test_fifty_clients_at_once_are_served_or_told_to_retry(srv) -> None:
    def rest(i: int) -> int:
        return srv.request(
            "POST",
            "/v1/audio/speech",
            {"input": "Hello there.", "response_format": ["pcm", "mp3", "ulaw"][i % 3]},
        )[0]

    async def ws_client() -> str:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{srv.port}/v1/audio/speech/stream") as ws:
                first = json.loads(await ws.recv())
                if first["type"] == "error":
                    return first["error"]["code"]
                await ws.send(json.dumps({"type": "input_text.append", "text": "Hello there."}))
                await ws.send(json.dumps({"type": "input_text.end"}))
                while True:
                    m = json.loads(await ws.recv())
                    if m["type"] == "speech.audio.done":
                        return m["reason"]
        except websockets.ConnectionClosed as e:
            return f"closed {e.rcvd.code if e.rcvd else None}"

    async def many_ws():
        return await asyncio.gather(*(ws_client() for _ in range(10)))

    with ThreadPoolExecutor(40) as pool:
        futures = [pool.submit(rest, i) for i in range(40)]
        ws_results = asyncio.run(many_ws())
        statuses = [f.result() for f in futures]
    assert set(statuses) <= {200, 429} and 200 in statuses
    assert set(ws_results) <= {"completed", "server_busy"}
    srv.wait_idle()
    assert srv.request("GET", "/health")[0] == 200
    assert srv.metric("flowtts_http_requests_total", route="/v1/audio/speech", status=500) == 0


def _many_requests(srv, n: int) -> None:
    formats = ["pcm", "wav", "mp3", "opus", "flac", "ulaw", "alaw"]
    for i in range(n):
        body = {
            "input": f"Request {i}.",
            "response_format": formats[i % len(formats)],
            "stream_format": "sse" if i % 5 == 0 else "audio",
        }
        assert srv.request("POST", "/v1/audio/speech", body)[0] == 200


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _live_streams() -> list:
    # type(), not isinstance(): isinstance on a weakref proxy whose object is gone raises ReferenceError
    return [o for o in gc.get_objects() if type(o) is SpeechStream]


def test_no_stream_state_outlives_its_request(make_server) -> None:
    srv = make_server(max_audio_seconds=0.3)  # short audio: many requests, quickly
    _many_requests(srv, 30)
    srv.wait_idle()
    gc.collect()
    assert not _live_streams()
    assert srv.service.scheduler._batch is None


@pytest.mark.slow
def test_memory_is_flat_over_a_thousand_requests(make_server) -> None:
    srv = make_server(max_audio_seconds=0.3)
    _many_requests(srv, 100)  # warm: allocator pools, caches
    gc.collect()
    before = _rss_mb()
    _many_requests(srv, 1000)
    srv.wait_idle()
    gc.collect()
    assert _rss_mb() - before < 40, f"RSS grew from {before:.0f} MB to {_rss_mb():.0f} MB"
    assert not _live_streams()
