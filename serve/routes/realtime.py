"""``WS /v1/audio/speech/stream``: the text-in / audio-out protocol (see ``serve.realtime``)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from serve.realtime import RealtimeSession

router = APIRouter()


@router.websocket("/v1/audio/speech/stream")
async def speech_stream(ws: WebSocket) -> None:
    await RealtimeSession(ws, ws.app.state.service).run()
