"""Request and response bodies (pydantic), which are also the OpenAPI schema at ``/openapi.json``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ResponseFormat = Literal["mp3", "opus", "flac", "wav", "pcm", "ulaw", "alaw"]


class VoiceRef(BaseModel):
    """OpenAI's custom-voice object: ``{"id": "my-voice"}``."""

    id: str = Field(max_length=200)


class SpeechRequest(BaseModel):
    """OpenAI's ``POST /v1/audio/speech`` body, plus flowtts extensions (``language`` … ``word_timestamps``).

    Unknown fields are ignored (OpenAI-compatible clients send a few of their own)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field("flowtts", max_length=200, description="Any name: the server serves one model.")
    input: str = Field(
        description="The text to speak (the limit is the server's --max-input-chars, 4096 by default)."
    )
    voice: str | VoiceRef | None = Field(
        None,
        description='A voice id (GET /v1/audio/voices) or {"id": …}; default: the model\'s first preset.',
    )
    instructions: str | None = Field(None, max_length=4096, description="Accepted and ignored.")
    response_format: ResponseFormat = Field(
        "mp3", description="ulaw and alaw are G.711 at 8 kHz, headerless; pcm is 16-bit little-endian mono."
    )
    speed: float = Field(1.0, ge=0.5, le=2.0, description="Tempo, pitch kept (WSOLA).")
    stream_format: Literal["audio", "sse"] = Field(
        "audio",
        description="audio: the file's bytes as they are made (chunked); sse: server-sent events "
        "speech.audio.delta (base64) … speech.audio.done (usage).",
    )
    language: str | None = Field(None, max_length=8, description="Text language (en, fr, de, …).")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Same seed, same audio.")
    steps: int | None = Field(None, ge=1, le=64, description="Flow-matching ODE steps (default 8).")
    cfg: float | None = Field(None, ge=0.0, le=10.0, description="Classifier-free guidance strength.")
    sample_rate: int | None = Field(
        None,
        description="Output rate: 8000, 11025, 12000, 16000, 22050, 24000 (default), 32000, 44100, "
        "48000; ulaw/alaw: 8000 only; opus: 8000/12000/16000/24000/48000.",
    )
    word_timestamps: bool = Field(False, description="SSE only: also send speech.word_timestamps events.")


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class VoiceObject(BaseModel):
    id: str
    object: Literal["audio.voice"] = "audio.voice"
    type: Literal["preset", "audio_sample", "voice_pack"]
    name: str
    created_at: int
    duration_s: float
    language: str
    transcript: str
    consent: str
    deletable: bool


class VoiceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VoiceObject]


class VoiceDeleted(BaseModel):
    id: str
    object: Literal["audio.voice.deleted"] = "audio.voice.deleted"
    deleted: bool


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    model: str
    sample_rate: int
    streams_active: int
    slots_in_use: int
    max_streams: int
    worker_alive: bool
    uptime_s: float
    auth: bool


def error_responses(*codes: int) -> dict:
    """The OpenAPI ``responses`` entry for the error statuses an endpoint can answer."""
    return {c: {"model": ErrorResponse} for c in codes}
