"""``/v1/audio/voices``: list the voices, add one from a 3–25 s clip (multipart, with a consent statement),
read or delete one. The upload is OpenAI's shape (``audio_sample``, ``name``, ``consent``) plus
``transcript`` and ``language``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from serve.deps import KeyDep, ServiceDep
from serve.errors import ApiError
from serve.schemas import VoiceDeleted, VoiceList, VoiceObject, error_responses

router = APIRouter(tags=["voices"])


@router.get(
    "/v1/audio/voices",
    response_model=VoiceList,
    responses=error_responses(401),
    summary="List the voices: the model's presets and the library",
)
async def list_voices(service: ServiceDep, key: KeyDep):
    return {"object": "list", "data": [v.to_dict() for v in service.voices.list()]}


@router.get(
    "/v1/audio/voices/{voice_id}",
    response_model=VoiceObject,
    responses=error_responses(401, 404),
    summary="One voice",
)
async def get_voice(voice_id: str, service: ServiceDep, key: KeyDep):
    try:
        return service.voices.info(voice_id).to_dict()
    except ApiError as e:
        raise ApiError(404, "voice_not_found", e.message) from None


@router.post(
    "/v1/audio/voices",
    response_model=VoiceObject,
    status_code=201,
    responses=error_responses(400, 401, 409, 413),
    summary="Add a voice from a 3–25 s clip of one speaker (multipart/form-data)",
)
async def create_voice(
    service: ServiceDep,
    key: KeyDep,
    audio_sample: Annotated[UploadFile, File(description="WAV, FLAC, OGG or MP3: 3–25 s of speech")],
    name: Annotated[
        str, Form(min_length=1, max_length=200, description="Display name; the id is made from it")
    ],
    consent: Annotated[
        str, Form(max_length=2000, description="How the speaker agreed to be cloned (stored)")
    ],
    transcript: Annotated[str, Form(max_length=2000, description="What is said in the clip")] = "",
    language: Annotated[str, Form(max_length=8, description="Language spoken in the clip")] = "",
):
    limit = service.settings.max_upload_bytes
    data = await audio_sample.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "upload_too_large", f"the clip is larger than {limit} bytes", "audio_sample")
    async with service.upload_lock:  # one codec encode at a time, off the event loop
        info = await asyncio.to_thread(
            service.voices.create, data, name, consent, transcript, language, audio_sample.filename or "", key
        )
    service.metrics.inc("flowtts_voices_created_total")
    return info.to_dict()


@router.delete(
    "/v1/audio/voices/{voice_id}",
    response_model=VoiceDeleted,
    responses=error_responses(401, 403, 404),
    summary="Delete a voice of the library (presets cannot be deleted)",
)
async def delete_voice(voice_id: str, service: ServiceDep, key: KeyDep):
    service.voices.delete(voice_id)
    return {"id": voice_id, "object": "audio.voice.deleted", "deleted": True}
