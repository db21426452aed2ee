"""``POST /v1/audio/speech``: OpenAI's text-to-speech endpoint, streamed.

The request is checked completely before any audio (4xx with one line); then the stream is admitted
(429 when all slots are taken), and the response starts with the first audio chunk, so its headers
arrive at the time to first audio. ``stream_format=audio`` sends the file's bytes as they are encoded
(chunked transfer); ``sse`` sends ``speech.audio.delta`` events (base64 of the same bytes) and a final
``speech.audio.done`` with usage, or ``speech.audio.error``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import Response

from serve.audio_out import AudioOutput
from serve.deps import KeyDep, ServiceDep
from serve.encoders import FORMATS, check_format
from serve.errors import ApiError, busy_error
from serve.http_stream import AudioStreamResponse
from serve.scheduler import ServerBusy
from serve.schemas import SpeechRequest, error_responses
from serve.streams import AudioChunk, SpeechStream, StreamEnd, StreamEvent, UnitDone
from serve.timings import word_timings

router = APIRouter(tags=["speech"])

AUDIO_RESPONSE = {
    200: {
        "description": "The audio, streamed (or server-sent events with stream_format=sse).",
        "content": {f.media_type: {} for f in FORMATS.values()} | {"text/event-stream": {}},
    }
}


@router.post(
    "/v1/audio/speech",
    summary="Speak text (OpenAI-compatible), streamed as it is generated",
    responses={**AUDIO_RESPONSE, **error_responses(400, 401, 413, 415, 429)},
    response_class=Response,
    status_code=200,
)
async def create_speech(body: SpeechRequest, service: ServiceDep, key: KeyDep):
    service.check_text(body.input)
    try:
        rate = check_format(body.response_format, body.sample_rate)
    except ValueError as e:
        raise ApiError(400, "invalid_sample_rate", str(e), "sample_rate") from None
    voice = body.voice.id if body.voice is not None and not isinstance(body.voice, str) else body.voice
    transport = "sse" if body.stream_format == "sse" else "http"
    spec = service.spec(voice, body.language, body.steps, body.cfg, body.seed, transport)
    units = service.units(body.input, spec.lang)
    try:
        slot = service.scheduler.acquire_slot()
    except ServerBusy:
        raise busy_error(service.settings.max_streams) from None
    stream = None
    try:
        stream = service.scheduler.open_stream(spec, units, input_done=True)
        output = AudioOutput(body.response_format, rate, body.speed)
        first = await stream.next_event()
        if isinstance(first, StreamEnd) and first.reason != "completed":
            raise ApiError(400, first.code or "generation_failed", first.message or f"stream {first.reason}")
    except BaseException:
        if stream is not None and not stream.ended:
            stream.cancel("cancelled")
        slot.release()
        raise

    async def body_iter() -> AsyncIterator[bytes]:
        try:
            events = _events(stream, first)
            if body.stream_format == "sse":
                async for chunk in _sse(events, output, body.word_timestamps):
                    yield chunk
            else:
                async for chunk in _audio(events, output):
                    yield chunk
        finally:
            if not stream.ended:
                stream.cancel("disconnected")
            slot.release()

    fmt = FORMATS[body.response_format]
    headers = {
        "X-Sample-Rate": str(rate),
        "X-Voice": voice or (service.default_voice() or ""),
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
    }
    media = "text/event-stream" if body.stream_format == "sse" else fmt.media_type
    return AudioStreamResponse(body_iter(), media, headers, stream.cancel, service.settings.stall_timeout_s)


async def _events(stream: SpeechStream, first: StreamEvent) -> AsyncIterator[StreamEvent]:
    ev = first
    while True:
        yield ev
        if isinstance(ev, StreamEnd):
            return
        ev = await stream.next_event()


class StreamFailed(Exception):
    """Ends a raw audio body abruptly: the client sees an incomplete response, not a short file."""


async def _audio(events: AsyncIterator[StreamEvent], output: AudioOutput) -> AsyncIterator[bytes]:
    async for ev in events:
        if isinstance(ev, AudioChunk):
            yield output.push(ev.samples)
        elif isinstance(ev, StreamEnd):
            if ev.reason not in ("completed", "limit"):
                raise StreamFailed(ev.message or ev.reason)
            yield output.finish()


def _sse_event(obj: dict) -> bytes:
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


def _delta(data: bytes) -> bytes:
    return _sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})


async def _sse(events, output: AudioOutput, timestamps: bool) -> AsyncIterator[bytes]:
    async for ev in events:
        if isinstance(ev, AudioChunk):
            data = output.push(ev.samples)
            if data:
                yield _delta(data)
        elif isinstance(ev, UnitDone):
            if timestamps:
                yield _sse_event(timing_event(ev, output))
        elif isinstance(ev, StreamEnd):
            tail = output.finish()
            if tail:
                yield _delta(tail)
            if ev.reason in ("completed", "limit"):
                u = ev.usage
                yield _sse_event(
                    {
                        "type": "speech.audio.done",
                        "usage": {
                            "input_tokens": u.input_characters,
                            "output_tokens": u.frames,
                            "total_tokens": u.input_characters + u.frames,
                            **u.to_dict(),
                        },
                        "truncated": ev.reason == "limit",
                    }
                )
            else:
                yield _sse_event(
                    {
                        "type": "speech.audio.error",
                        "error": {"code": ev.code or ev.reason, "message": ev.message},
                    }
                )


def timing_event(ev: UnitDone, output: AudioOutput) -> dict:
    start = output.output_seconds(ev.start_sample)
    end = output.output_seconds(ev.start_sample + ev.num_samples)
    return {
        "type": "speech.word_timestamps",
        "text": ev.text,
        "start": round(start, 3),
        "end": round(end, 3),
        "words": [w.to_dict() for w in word_timings(ev.text, start, end)],
    }
