"""``create_app(settings)``: the FastAPI application. Nothing happens at import; the model loads (and is
warmed up) in the lifespan, the model worker thread starts there and stops at shutdown.

    app = create_app(ServeSettings(model="runs/tts/release", max_streams=8))
    uvicorn.run(app, ws="websockets")          # or: flowtts serve --model runs/tts/release

Middleware, outermost first: request context (id, log line, request counter) -> CORS (when origins are
set) -> body size limit. Errors are one JSON shape (``serve.errors``).
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serve.auth import ApiKeys
from serve.errors import install_error_handlers
from serve.metrics import Metrics
from serve.middleware import BodyLimit, RequestContext
from serve.settings import ServeSettings

log = logging.getLogger("flowtts.serve")

VOICE_UPLOAD_PATH = "/v1/audio/voices"
JSON_ROUTES = frozenset({"/v1/audio/speech"})
UPLOAD_OVERHEAD = 64 * 1024  # multipart framing and form fields around the clip

DESCRIPTION = """\
Streaming text-to-speech with flowtts.

- `POST /v1/audio/speech` — OpenAI-compatible (`model`, `input`, `voice`, `response_format`, `speed`,
  `stream_format` audio|sse) plus `language`, `seed`, `steps`, `cfg`, `sample_rate`, `word_timestamps`.
  Formats: mp3, opus, flac, wav, pcm (16-bit LE), ulaw and alaw (G.711, 8 kHz).
- `GET/POST/DELETE /v1/audio/voices` — the voice library (clone from a 3–25 s clip, with consent).
- `WS /v1/audio/speech/stream` — text in pieces, audio out while the text is still being written:
  `session.update`, `input_text.append`, `input_text.flush`, `input_text.cancel`, `input_text.end`;
  the server sends `speech.audio.delta`, `speech.word_timestamps`, `speech.audio.done`, `error`.
- `GET /health`, `GET /metrics` (Prometheus).

With API keys configured, every `/v1` endpoint needs `Authorization: Bearer <key>`. A busy server (all
`--max-streams` in use) answers 429 (WebSocket: close code 1013).
"""


def create_app(settings: ServeSettings | None = None, tts=None) -> FastAPI:
    """The app for ``settings`` (default: ``ServeSettings()``, the default model); ``tts`` (a loaded
    ``flowtts.api.TTS``) skips loading the model. ``uvicorn --factory serve.app:create_app`` works too (give
    it ``--ws websockets-sansio``)."""
    settings = settings or ServeSettings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service = _start_service(settings, tts, metrics)
        app.state.service = service
        log.info(
            "ready",
            extra={
                "model": service.model_name,
                "host": settings.host,
                "port": settings.port,
                "max_streams": settings.max_streams,
                "auth": service.keys.required,
            },
        )
        try:
            yield
        finally:
            service.scheduler.stop()
            log.info("stopped")

    app = FastAPI(
        title="flowtts",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app, JSON_ROUTES)
    from serve.routes import realtime, speech, system, voices

    for r in (speech.router, voices.router, realtime.router, system.router):
        app.include_router(r)

    def limit_for(scope) -> int:
        if scope.get("path") == VOICE_UPLOAD_PATH and scope.get("method") == "POST":
            return settings.max_upload_bytes + UPLOAD_OVERHEAD
        return settings.max_body_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id", "X-Sample-Rate", "X-Voice"],
            max_age=600,
        )
    app.add_middleware(RequestContext, metrics=metrics)
    return app


def _start_service(settings: ServeSettings, tts, metrics: Metrics):
    import torch

    import flowtts
    from flowtts.errors import FlowTTSError
    from serve.errors import ApiError
    from serve.scheduler import Scheduler, SchedulerConfig
    from serve.service import Service
    from serve.voice_store import VoiceStore

    if settings.threads:
        torch.set_num_threads(settings.threads)
    if tts is None:
        tts = flowtts.load(settings.model, device=settings.device, voices_dir=settings.voices_dir)
    voices = VoiceStore(tts)
    for path in settings.voice_packs:
        voices.load_pack(path)  # one-line FlowTTSError for a bad or foreign pack
    if settings.default_voice:
        try:
            voices.get(settings.default_voice)  # an unknown default voice fails at start, not per request
        except ApiError as e:
            raise FlowTTSError(f"--default-voice: {e.message}") from None
    if settings.warmup:
        default = settings.default_voice or tts.default_voice(settings.default_language)
        tts.warm_up(voices.get(default) if default else None, settings.default_language, settings.max_streams)
    scheduler = Scheduler(
        tts,
        SchedulerConfig(
            max_streams=settings.max_streams,
            buffer_seconds=settings.buffer_seconds,
            stall_timeout_s=settings.stall_timeout_s,
            max_lead_s=settings.max_lead_s,
            max_starts_per_step=settings.max_starts_per_step,
            threads=settings.threads,
        ),
        metrics,
    )
    scheduler.start()
    return Service(
        settings=settings,
        tts=tts,
        scheduler=scheduler,
        voices=voices,
        metrics=metrics,
        keys=ApiKeys(settings.api_keys),
        model_name=_model_name(tts),
        started_at=time.monotonic(),
    )


def _model_name(tts) -> str:
    from flowtts.errors import FlowTTSError
    from flowtts.release import read_config

    try:
        return str(read_config(tts.root).get("name") or tts.root.name)
    except FlowTTSError:
        return tts.root.name


def _version() -> str:
    from flowtts import __version__

    return __version__
