"""The WebSocket protocol over a real socket (the ``websockets`` client against uvicorn)."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
import websockets


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def recv(ws) -> dict:
    msg = await ws.recv()
    return {"type": "<binary>", "data": msg} if isinstance(msg, bytes) else json.loads(msg)


async def until(ws, kind: str, seen: list | None = None) -> dict:
    while True:
        m = await recv(ws)
        if seen is not None:
            seen.append(m)
        if m["type"] == kind:
            return m


async def send(ws, kind: str, **fields) -> None:
    await ws.send(json.dumps({"type": kind, **fields}))


def audio_of(messages: list[dict]) -> bytes:
    return b"".join(base64.b64decode(m["audio"]) for m in messages if m["type"] == "speech.audio.delta")


def test_speaks_before_the_text_is_complete_and_keeps_the_socket_for_more_turns(server) -> None:
    async def go():
        async with websockets.connect(server.ws_url) as ws:
            created = await recv(ws)
            assert created["type"] == "session.created" and created["session"]["response_format"] == "pcm"
            assert created["limits"]["max_input_chars"] == 4096
            await send(ws, "input_text.append", text="The first sentence is complete. And the second")
            started = await recv(ws)
            assert started == {"type": "speech.started", "turn_id": 1}
            first = await until(ws, "speech.audio.delta")  # audio while the turn's text is unfinished
            assert first["turn_id"] == 1 and first["seq"] == 0
            seen = [first]
            await send(ws, "input_text.append", text=" one arrives later, in pieces.")
            await send(ws, "input_text.flush")
            done = await until(ws, "speech.audio.done", seen)
            assert done["reason"] == "completed" and done["usage"]["units"] == 3
            timings = [m for m in seen if m["type"] == "speech.word_timestamps"]
            assert [t["text"] for t in timings] == [  # spoken clause by clause
                "The first sentence is complete.",
                "And the second one arrives later,",
                "in pieces.",
            ]
            words = [w for t in timings for w in t["words"]]
            assert all(a["start"] <= b["start"] for a, b in zip(words, words[1:], strict=False))
            pcm = audio_of(seen)
            assert abs(len(pcm) / 48000 - done["usage"]["audio_seconds"]) < 0.02
            seqs = [m["seq"] for m in seen if m["type"] == "speech.audio.delta"]
            assert seqs == list(range(len(seqs)))
            for turn in (2, 3):  # more turns on the same socket
                await send(ws, "input_text.append", text=f"Turn number {turn}.")
                await send(ws, "flush")  # the short alias
                done = await until(ws, "speech.audio.done")
                assert done["turn_id"] == turn and done["reason"] == "completed"
            await send(ws, "input_text.end")
            with pytest.raises(websockets.ConnectionClosedOK):
                await recv(ws)
            assert ws.close_code == 1000

    run(go())


def test_cancel_stops_the_turn_within_a_frame(server) -> None:
    async def go():
        async with websockets.connect(server.ws_url) as ws:
            await recv(ws)
            await send(ws, "input_text.append", text="A long turn that the listener interrupts. " * 8)
            await send(ws, "input_text.flush")
            await until(ws, "speech.audio.delta")
            t0 = time.perf_counter()
            await send(ws, "input_text.cancel")
            seen = []
            done = await until(ws, "speech.audio.done", seen)
            elapsed = time.perf_counter() - t0
            assert done["reason"] == "cancelled" and done["turn_id"] == 1
            assert done["stop_ms"] < 250  # the worker dropped it at the next frame step (≈10 ms here)
            assert elapsed < 1.0 and done["usage"]["frames"] < 100  # far from its ≈300 frames
            # the socket goes on: a new turn after a barge-in
            await send(ws, "input_text.append", text="After the interruption.")
            await send(ws, "input_text.flush")
            assert (await until(ws, "speech.audio.done"))["reason"] == "completed"

    run(go())


def test_out_of_order_and_bad_messages_get_errors_and_the_session_survives(server) -> None:
    async def go():
        async with websockets.connect(server.ws_url) as ws:
            await recv(ws)
            bad = [
                ('{"type": "input_text.flush"}', "no_open_turn"),
                ('{"type": "input_text.cancel"}', "no_active_turn"),
                ("not json", "invalid_json"),
                ('["a", "list"]', "invalid_message"),
                ('{"type": "dance"}', "unknown_type"),
                ('{"type": "input_text.append", "text": 5}', "invalid_message"),
                ('{"type": "session.update", "session": {"response_format": "aac"}}', "invalid_value"),
                (
                    '{"type": "session.update", "session": {"response_format": "ulaw", '
                    '"sample_rate": 16000}}',
                    "invalid_value",
                ),
                ('{"type": "session.update", "session": {"voice": "nope"}}', "unknown_voice"),
                ('{"type": "session.update", "session": {"language": "xx"}}', "unsupported_language"),
                ('{"type": "session.update", "session": {"bogus": 1}}', "invalid_value"),
                ('{"type": "session.update"}', "invalid_message"),
            ]
            for text, code in bad:
                await ws.send(text)
                m = await recv(ws)
                assert m["type"] == "error" and m["error"]["code"] == code, (text, m)
            await ws.send(b"\x00\x01")
            assert (await recv(ws))["error"]["code"] == "binary_not_accepted"
            await send(ws, "input_text.append", text="Now a turn.")
            await until(ws, "speech.started")
            await send(ws, "session.update", session={"speed": 1.5})
            assert (await until(ws, "error"))["error"]["code"] == "turn_in_progress"
            await send(ws, "input_text.append", text="x" * 5000)
            assert (await until(ws, "error"))["error"]["code"] == "input_too_long"
            assert (await until(ws, "speech.audio.done"))["reason"] == "cancelled"
            await send(ws, "input_text.append", text="Still working.")
            await send(ws, "input_text.flush")
            assert (await until(ws, "speech.audio.done"))["reason"] == "completed"

    run(go())


def test_telephony_and_binary_audio(server) -> None:
    async def go():
        async with websockets.connect(server.ws_url) as ws:
            await recv(ws)
            await send(
                ws,
                "session.update",
                session={
                    "response_format": "ulaw",
                    "binary_audio": True,
                    "word_timestamps": False,
                    "seed": 3,
                },
            )
            upd = await recv(ws)
            assert upd["type"] == "session.updated" and upd["session"]["sample_rate"] == 8000
            await send(ws, "input_text.append", text="Calling from a phone.")
            await send(ws, "input_text.flush")
            seen = []
            done = await until(ws, "speech.audio.done", seen)
            raw = b"".join(m["data"] for m in seen if m["type"] == "<binary>")
            assert abs(len(raw) / 8000 - done["usage"]["audio_seconds"]) < 0.02
            assert not [m for m in seen if m["type"] == "speech.word_timestamps"]

    run(go())


def test_idle_sessions_are_closed_and_busy_servers_refuse_with_1013(make_server) -> None:
    srv = make_server(max_streams=2, idle_timeout_s=2.0)  # long enough that a, b hold their slots below

    async def go():
        async with websockets.connect(srv.ws_url) as a, websockets.connect(srv.ws_url) as b:
            await recv(a)
            await recv(b)
            async with websockets.connect(srv.ws_url) as c:
                m = await recv(c)
                assert m["type"] == "error" and m["error"]["code"] == "server_busy"
                with pytest.raises(websockets.ConnectionClosed):
                    await recv(c)
                assert c.close_code == 1013
            status, headers, raw = srv.request("POST", "/v1/audio/speech", {"input": "Hi."})
            assert status == 429 and headers["retry-after"] == "1"
            assert json.loads(raw)["error"]["code"] == "server_busy"
            m = await recv(a)  # nothing sent for 2 s
            assert m["error"]["code"] == "idle_timeout"
            with pytest.raises(websockets.ConnectionClosed):
                await recv(a)
            assert a.close_code == 1000

    run(go())
    srv.wait_idle()


def test_an_oversized_message_closes_with_1009(server) -> None:
    async def go():
        async with websockets.connect(server.ws_url, max_size=None) as ws:
            await recv(ws)
            await send(ws, "input_text.append", text="x" * (2 * 1024 * 1024))
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)
            return ws.close_code

    assert run(go()) == 1009
    server.wait_idle()


def test_websocket_auth(make_server) -> None:
    key = "w" * 24
    srv = make_server(api_keys=frozenset({key}))

    async def go():
        async with websockets.connect(srv.ws_url) as ws:
            m = await recv(ws)
            assert m["error"]["code"] == "missing_api_key"
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)
            assert ws.close_code == 1008
        async with websockets.connect(
            srv.ws_url, additional_headers={"Authorization": f"Bearer {key}"}
        ) as ws:
            assert (await recv(ws))["type"] == "session.created"
        async with websockets.connect(srv.ws_url + f"?api_key={key}") as ws:  # browsers cannot set headers
            assert (await recv(ws))["type"] == "session.created"

    run(go())
