"""``flowtts serve``: run the service (FastAPI under uvicorn, with a real WebSocket implementation).

    flowtts serve                                   # the default model on 127.0.0.1:8000
    flowtts serve --model runs/tts/release --host 0.0.0.0 --api-key-file keys.txt --max-streams 8

Registered as a plugin of the ``flowtts`` command (entry-point group ``flowtts.commands`` in
pyproject.toml), so flowtts never imports ``serve``. Heavy imports happen in ``run``.
"""

from __future__ import annotations

import argparse


def _int(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi}, got {v}")
        return v

    return parse


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the streaming TTS server (OpenAI-compatible REST, WebSocket, voice library)",
        description="Serve a flowtts model over HTTP: POST /v1/audio/speech (OpenAI-compatible, streamed, "
        "SSE), /v1/audio/voices (voice library), WS /v1/audio/speech/stream (text in pieces, audio out), "
        "/health, /metrics, API docs at /docs and a demo page at /. Logs are JSON lines on standard error.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_int(1, 65535), default=8000, help="port (default: 8000)")
    p.add_argument(
        "--model", metavar="DIR", default=None, help="model folder (default: the embedded default model)"
    )
    p.add_argument("--device", default="cpu", help="device for the model: cpu, cuda, cuda:N (default: cpu)")
    p.add_argument(
        "--voices-dir",
        metavar="DIR",
        default=None,
        help="the voice library uploads go to (default: $FLOWTTS_HOME/voices, else "
        "~/.local/share/flowtts/voices)",
    )
    p.add_argument(
        "--api-key-file",
        metavar="FILE",
        default=None,
        help="file with one API key per line; when given, every /v1 endpoint needs "
        "'Authorization: Bearer KEY'",
    )
    p.add_argument(
        "--max-streams",
        type=_int(1, 1024),
        default=16,
        help="concurrent streams (REST requests + WebSocket sessions); past it requests get 429 "
        "(default: 16)",
    )
    p.add_argument(
        "--cors",
        metavar="ORIGINS",
        default="",
        help="comma-separated browser origins allowed to call the API, or '*' (default: none)",
    )
    p.add_argument(
        "--max-input-chars",
        type=_int(1, 100_000),
        default=4096,
        help="longest input text of a request or WebSocket turn (default: 4096)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=_int(1, 1024),
        default=10,
        help="largest voice clip upload in MiB (default: 10)",
    )
    p.add_argument(
        "--max-audio-seconds",
        type=_seconds,
        default=600.0,
        help="longest audio of one request or turn (default: 600)",
    )
    p.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=300.0,
        help="close a WebSocket session idle this long, in seconds (default: 300)",
    )
    p.add_argument(
        "--stall-timeout",
        type=_seconds,
        default=30.0,
        help="drop a client that accepts no audio for this long, in seconds (default: 30)",
    )
    p.add_argument(
        "--default-voice", default=None, help="voice when a request names none (default: first preset)"
    )
    p.add_argument(
        "--voice-pack",
        action="append",
        default=[],
        metavar="PACK_DIR",
        help="serve a voice pack made by `flowtts finetune` (repeatable); requests name it as their voice, "
        "and packs switch per stream without reloading the model",
    )
    p.add_argument("--language", default="en", help="default text language (default: en)")
    p.add_argument(
        "--steps",
        type=_int(1, 64),
        default=None,
        help="flow-matching ODE steps when a request sets none (default: the model's, usually 8)",
    )
    p.add_argument("--threads", type=_int(1, 512), default=None, help="torch threads for the model worker")
    p.add_argument("--no-warmup", action="store_true", help="skip the warm-up synthesis at start")
    p.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="lowest level of the JSON log lines written to standard error (default: info)",
    )
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace):
    from serve.settings import MIB, ServeSettings, read_api_keys

    keys = read_api_keys(args.api_key_file) if args.api_key_file else frozenset()
    origins = tuple(o.strip() for o in args.cors.split(",") if o.strip())
    return ServeSettings(
        host=args.host,
        port=args.port,
        model=args.model,
        device=args.device,
        voices_dir=args.voices_dir,
        api_keys=keys,
        cors_origins=origins,
        max_streams=args.max_streams,
        max_input_chars=args.max_input_chars,
        max_upload_bytes=args.max_upload_mb * MIB,
        max_audio_seconds=args.max_audio_seconds,
        idle_timeout_s=args.idle_timeout,
        stall_timeout_s=args.stall_timeout,
        default_voice=args.default_voice,
        voice_packs=tuple(args.voice_pack),
        default_language=args.language,
        default_steps=args.steps,
        threads=args.threads,
        warmup=not args.no_warmup,
        log_level=args.log_level,
    )


def run(args: argparse.Namespace) -> int:
    from flowtts.errors import FlowTTSError

    settings = settings_from_args(args)
    try:
        import uvicorn
        import websockets  # noqa: F401  (without it uvicorn answers WebSocket upgrades with 404)
    except ImportError as e:
        raise FlowTTSError(
            f"the server needs the 'serve' extra: pip install 'flowtts[serve]' ({e})"
        ) from None
    import flowtts
    from serve.app import create_app
    from serve.logs import log_config

    tts = flowtts.load(
        settings.model, device=settings.device, voices_dir=settings.voices_dir
    )  # fails here, clearly
    app = create_app(settings, tts=tts)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_message_bytes,
        log_config=log_config(settings.log_level),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0
