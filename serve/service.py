"""Everything a request handler needs, built once at start-up and kept on ``app.state.service``; plus the
checks shared by REST and WebSocket (voice, language, sampling options, text -> units)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from flowtts.errors import FlowTTSError
from serve.auth import ApiKeys
from serve.errors import ApiError
from serve.metrics import Metrics
from serve.scheduler import Scheduler
from serve.settings import ServeSettings
from serve.streams import StreamSpec
from serve.voice_store import VoiceStore


@dataclass
class Service:
    settings: ServeSettings
    tts: object  # flowtts.api.TTS
    scheduler: Scheduler
    voices: VoiceStore
    metrics: Metrics
    keys: ApiKeys
    model_name: str
    started_at: float
    upload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one voice encode at a time

    def default_voice(self, lang: str | None = None) -> str | None:
        """``--default-voice`` if set, else the model's preset for ``lang`` (see ``TTS.default_voice``)."""
        if self.settings.default_voice:
            return self.settings.default_voice
        return self.tts.default_voice(lang or self.settings.default_language)

    def spec(
        self,
        voice: str | None,
        lang: str | None,
        steps: int | None,
        cfg: float | None,
        seed: int | None,
        transport: str,
    ) -> StreamSpec:
        """A stream's fixed settings; ApiError 400 naming the bad parameter."""
        lang = lang or self.settings.default_language
        try:
            self.tts.tokenizer.lang_id(lang)
        except FlowTTSError as e:
            raise ApiError(400, "unsupported_language", str(e), "language") from None
        vid = voice or self.default_voice(lang)
        v = self.voices.get(vid) if vid else None
        try:
            params = self.tts._params(steps or self.settings.default_steps, cfg, seed, None, None)
        except FlowTTSError as e:
            raise ApiError(400, "invalid_value", str(e)) from None
        pack = self.voices.pack_of(vid) if vid else None
        return StreamSpec(v, lang, params, self.settings.max_audio_seconds, transport, voice_pack=pack)

    def check_text(self, text: str, param: str = "input") -> None:
        limit = self.settings.max_input_chars
        if len(text) > limit:
            raise ApiError(
                400, "input_too_long", f"{param} has {len(text)} characters; the limit is {limit}", param
            )

    def units(self, text: str, lang: str, param: str = "input") -> list[str]:
        """The normalized sentences of ``text`` (each one generation); ApiError 400 if there are none."""
        if not text.strip():
            raise ApiError(400, "empty_input", f"{param} is empty", param)
        try:
            return self.tts.sentences(text, lang)
        except FlowTTSError as e:
            raise ApiError(400, "invalid_input", str(e), param) from None
