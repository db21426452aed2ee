"""What a server runs with: one frozen, validated object made from the ``flowtts serve`` flags (or a test).

Nonsense fails here, before a model is loaded, with one line naming the setting.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from flowtts.errors import FlowTTSError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    model: str | None = None  # model folder; None: the embedded default model
    device: str = "cpu"
    voices_dir: str | None = None  # the voice library (None: $FLOWTTS_HOME/voices or ~/.local/share/…)
    api_keys: frozenset[str] = frozenset()  # bearer keys; empty: no authentication
    cors_origins: tuple[str, ...] = ()  # allowed browser origins ("*" for any); empty: no CORS headers
    # --- capacity and scheduling ---
    max_streams: int = 16  # concurrent streams (REST requests + WebSocket sessions); past it: busy
    buffer_seconds: float = 2.0  # audio a stream may have waiting for its client before it is paused
    stall_timeout_s: float = 30.0  # a client that accepts no audio for this long is dropped
    max_lead_s: float = 4.0  # under load, streams this far ahead of real time sit out steps
    max_starts_per_step: int = 4  # new sentences prefilled between two frame steps (fairness)
    threads: int | None = None  # torch threads for the model worker (None: torch's default)
    # --- per-request limits ---
    max_input_chars: int = 4096  # REST `input`, and the text of one WebSocket turn
    max_upload_bytes: int = 10 * MIB  # a voice clip upload
    max_body_bytes: int = 1 * MIB  # any other request body
    max_audio_seconds: float = 600.0  # audio of one request or turn
    idle_timeout_s: float = 300.0  # a WebSocket session with no message for this long is closed
    ws_max_message_bytes: int = 1 * MIB
    # --- defaults ---
    default_voice: str | None = None  # None: the model's first preset
    voice_packs: tuple[str, ...] = ()  # voice pack folders (`flowtts finetune`) served as voices by name
    default_language: str = "en"
    default_steps: int | None = None  # flow-matching steps when a request sets none (None: the model's)
    warmup: bool = True  # synthesize one short sentence at start so the first request is warm
    log_level: str = "info"

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise FlowTTSError(message)

        need(1 <= self.port <= 65535 or self.port == 0, f"--port must be in 1..65535, got {self.port}")
        need(1 <= self.max_streams <= 1024, f"--max-streams must be in 1..1024, got {self.max_streams}")
        for name in (
            "buffer_seconds",
            "stall_timeout_s",
            "max_lead_s",
            "max_audio_seconds",
            "idle_timeout_s",
        ):
            v = getattr(self, name)
            need(isinstance(v, (int, float)) and math.isfinite(v) and v > 0, f"{name} must be > 0, got {v}")
        need(self.max_starts_per_step >= 1, "max_starts_per_step must be >= 1")
        need(self.default_steps is None or 1 <= self.default_steps <= 64, "--steps must be in 1..64")
        need(self.threads is None or self.threads >= 1, f"--threads must be >= 1, got {self.threads}")
        need(1 <= self.max_input_chars <= 100_000, "--max-input-chars must be in 1..100000")
        need(1024 <= self.max_upload_bytes <= 1024 * MIB, "--max-upload-bytes must be in 1 KiB..1 GiB")
        need(1024 <= self.max_body_bytes <= 64 * MIB, "max_body_bytes must be in 1 KiB..64 MiB")
        need(1024 <= self.ws_max_message_bytes <= 64 * MIB, "ws_max_message_bytes must be in 1 KiB..64 MiB")
        need(self.log_level in ("debug", "info", "warning", "error"), f"bad log level {self.log_level!r}")
        for k in self.api_keys:
            need(_good_key(k), "API keys must be 16–256 printable characters without spaces")
        for o in self.cors_origins:
            need(o == "*" or o.startswith(("http://", "https://")), f"bad CORS origin {o!r}")
        if self.model is not None:
            need(Path(self.model).is_dir(), f"model folder {self.model} does not exist")

    @property
    def auth_required(self) -> bool:
        return bool(self.api_keys)


def _good_key(key: str) -> bool:
    return 16 <= len(key) <= 256 and key.isprintable() and not any(c.isspace() for c in key)


def read_api_keys(path: str | os.PathLike) -> frozenset[str]:
    """Keys from a file: one per line; blank lines and lines starting with ``#`` are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FlowTTSError(f"cannot read the API key file {path}: {e}") from None
    keys = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not keys:
        raise FlowTTSError(f"the API key file {path} has no keys")
    bad = [i for i, k in enumerate(keys, 1) if not _good_key(k)]
    if bad:
        raise FlowTTSError(
            f"{path}: key {bad[0]} is not 16–256 printable characters without spaces (make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return frozenset(keys)
