"""A speech stream: one utterance (a REST request or one WebSocket turn) between the event loop and the model
worker thread.

The event loop side puts text in (``add_units``, ``end_input``), may ``cancel``, and reads events
(``next_event``): ``AudioChunk`` (24 kHz float32 as the model makes it), ``UnitDone`` (one text unit's span,
for word timings) and finally one ``StreamEnd`` (why it ended, with usage). The worker side takes the text
(``take_units``) and ``emit``s events; it reads ``queued_samples`` (audio emitted but not yet taken by the
client side) to pause a stream whose client does not keep up.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flowtts.generation.generator import SamplingParams
from flowtts.voices import Voice


@dataclass(frozen=True)
class StreamSpec:
    """What a stream speaks with; fixed for its life."""

    voice: Voice | None
    lang: str
    params: SamplingParams
    max_audio_seconds: float
    transport: str  # "http", "sse" or "ws" (metrics)
    voice_pack: str | None = None  # an attached voice pack's adapter (the voice is its reference prompt)


@dataclass(frozen=True)
class AudioChunk:
    samples: np.ndarray  # float32 [n] at 24 kHz


@dataclass(frozen=True)
class UnitDone:
    """A text unit (sentence or clause) is fully spoken: its samples are ``[start, start + length)``."""

    index: int
    text: str
    start_sample: int
    num_samples: int
    frames: int


@dataclass(frozen=True)
class Usage:
    input_characters: int  # normalized characters spoken
    units: int  # sentences / clauses generated
    frames: int  # 80 ms frames generated
    audio_seconds: float  # at 24 kHz, before any speed change
    compute_seconds: float  # wall time of the frame steps this stream took part in

    @property
    def rtf(self) -> float | None:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds > 0 else None

    def to_dict(self) -> dict:
        return {
            "input_characters": self.input_characters,
            "units": self.units,
            "frames": self.frames,
            "audio_seconds": round(self.audio_seconds, 4),
            "compute_seconds": round(self.compute_seconds, 4),
            "rtf": None if self.rtf is None else round(self.rtf, 4),
        }


ENDED_OK = "completed"


@dataclass(frozen=True)
class StreamEnd:
    reason: str  # completed | cancelled | disconnected | stalled | limit | error | shutdown
    usage: Usage
    message: str = ""
    code: str = ""
    stop_latency_s: float | None = None  # cancel/disconnect -> the worker dropped the stream


StreamEvent = AudioChunk | UnitDone | StreamEnd


class SpeechStream:
    def __init__(self, spec: StreamSpec, loop: asyncio.AbstractEventLoop, wake: Callable[[], None]):
        self.id = uuid.uuid4().hex[:12]
        self.spec = spec
        self.created = time.monotonic()
        self._loop = loop
        self._wake = wake
        self._events: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self._lock = threading.Lock()
        self._units: deque[str] = deque()
        self._input_done = False
        self._cancel: tuple[str, float] | None = None
        self._queued = 0  # samples emitted, not yet taken by next_event
        self._low_water = 0  # set by the scheduler: below this, a paused stream may go on
        self.ended = False  # the consumer has seen StreamEnd

    # --- event loop side ----------------------------------------------------------------------------

    def add_units(self, units: list[str]) -> None:
        if not units:
            return
        with self._lock:
            if self._input_done:
                raise RuntimeError("input already ended")
            self._units.extend(units)
        self._wake()

    def end_input(self) -> None:
        with self._lock:
            self._input_done = True
        self._wake()

    def cancel(self, reason: str = "cancelled") -> None:
        """Stops generation at the next frame step (the worker then emits ``StreamEnd(reason)``)."""
        with self._lock:
            if self._cancel is None:
                self._cancel = (reason, time.monotonic())
        self._wake()

    async def next_event(self) -> StreamEvent:
        ev = await self._events.get()
        if isinstance(ev, AudioChunk):
            with self._lock:
                before = self._queued
                self._queued -= len(ev.samples)
                crossed = before >= self._low_water > self._queued
            if crossed:
                self._wake()  # a stream paused for a slow reader may go on
        elif isinstance(ev, StreamEnd):
            self.ended = True
        return ev

    # --- worker side ---------------------------------------------------------------------------------

    def take_units(self) -> list[str]:
        with self._lock:
            out = list(self._units)
            self._units.clear()
            return out

    @property
    def input_done(self) -> bool:
        with self._lock:
            return self._input_done and not self._units

    @property
    def cancel_request(self) -> tuple[str, float] | None:
        with self._lock:
            return self._cancel

    @property
    def queued_samples(self) -> int:
        with self._lock:
            return self._queued

    def set_low_water(self, samples: int) -> None:
        self._low_water = samples

    def emit(self, ev: StreamEvent) -> None:
        """Thread-safe: hands ``ev`` to the event loop (dropped if the loop is gone)."""
        if isinstance(ev, AudioChunk):
            with self._lock:
                self._queued += len(ev.samples)
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, ev)
        except RuntimeError:  # the event loop is closed (server shutting down)
            pass
