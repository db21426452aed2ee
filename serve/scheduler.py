"""The model worker: one thread that owns the model and advances every active stream by one frame per step.

Continuous batching. Every stream (a REST request or a WebSocket turn) speaks a queue of text units
(sentences or clauses). A unit is one generation of ``flowtts``'s step-wise ``Generator``: its text is
prefilled after the voice prefix (``generator.start``) and the resulting row is merged into the one running
``GenerationBatch``; each ``generator.step`` then makes one 80 ms frame for every row, whatever the rows'
lengths, voices or settings, and rows whose unit ended drop out. So streams join and leave between any two
steps, and each step costs one batched backbone call instead of one per stream. Each stream has its own
streaming codec decoder (audio stays continuous across its units) and its own seeded RNG (its audio does
not depend on who else is in the batch).

One loop iteration:

1. take new streams, new text and cancels from the event loop (under a lock; ``wake`` interrupts the wait);
2. drop cancelled streams from the batch (so compute for a cancelled or vanished client stops within one
   step) and finish streams whose text is all spoken;
3. pause / resume streams: a stream whose client has more than ``buffer_seconds`` of audio waiting
   (backpressure) sits out until it has taken half of it, and one paused past ``stall_timeout_s`` is
   dropped; under load (the last step took more than ``busy_step_fraction`` of a frame) a stream more than
   ``max_lead_s`` ahead of real time sits out until it is ``max_lead_s / 2`` ahead, so steps stay short
   for the streams that are close to running dry;
4. start at most ``max_starts_per_step`` waiting units, oldest first (a burst of new streams costs the
   running ones a bounded delay per step);
5. one frame step for the batch; decode each row's frame into audio; emit it.

Admission: ``acquire_slot`` refuses past ``max_streams`` (the HTTP layer answers 429 / WebSocket close
1013). Nothing else touches the model, so the model needs no lock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from flowtts.constants import FRAME_SAMPLES, SAMPLE_RATE
from flowtts.errors import FlowTTSError
from flowtts.generation.generator import GenerationBatch
from serve.metrics import Metrics
from serve.streams import AudioChunk, SpeechStream, StreamEnd, StreamSpec, UnitDone, Usage

log = logging.getLogger("flowtts.serve.scheduler")

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE


@dataclass(frozen=True)
class SchedulerConfig:
    max_streams: int = 16
    buffer_seconds: float = 2.0
    stall_timeout_s: float = 30.0
    max_lead_s: float = 4.0
    max_starts_per_step: int = 4
    busy_step_fraction: float = 0.6
    threads: int | None = None


class ServerBusy(Exception):
    pass


class Slot:
    """One admission slot; ``release`` is idempotent."""

    def __init__(self, scheduler: Scheduler):
        self._scheduler = scheduler
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._scheduler._release_slot()


@dataclass(eq=False)
class _Running:
    """The worker's private state of one stream."""

    stream: SpeechStream
    decoder: object  # codec StreamingDecoder
    pending: deque = field(default_factory=deque)  # text units received, not started
    generating: bool = False  # a unit is in the batch (or parked)
    parked: GenerationBatch | None = None  # this stream's row, held out of the batch while paused
    pause: str | None = None  # None | "buffer" | "ahead"
    paused_since: float = 0.0
    ready_since: float = 0.0  # when its next unit became startable (oldest first)
    units: int = 0
    unit_text: str = ""
    unit_start: int = 0
    unit_frames: int = 0
    samples: int = 0
    frames: int = 0
    chars: int = 0
    compute: float = 0.0
    first_audio_at: float | None = None

    def usage(self) -> Usage:
        return Usage(self.chars, self.units, self.frames, self.samples / SAMPLE_RATE, self.compute)


class Scheduler:
    def __init__(self, tts, config: SchedulerConfig, metrics: Metrics | None = None):
        self.tts = tts
        self.config = config
        self.metrics = metrics or Metrics()
        self._cv = threading.Condition()
        self._inbox: list[SpeechStream] = []
        self._dirty = False
        self._stopping = False
        self._slots = 0
        self._running: dict[SpeechStream, _Running] = {}
        self._batch: GenerationBatch | None = None
        self._last_step = 0.0
        self._thread: threading.Thread | None = None
        self._buffer_hi = int(config.buffer_seconds * SAMPLE_RATE)
        self.steps = 0  # frame steps run (tests, /health)

    # --- admission (any thread) -------------------------------------------------------------------------

    def acquire_slot(self) -> Slot:
        with self._cv:
            if self._slots >= self.config.max_streams:
                self.metrics.inc("flowtts_streams_rejected_total")
                raise ServerBusy(f"all {self.config.max_streams} streams are in use")
            self._slots += 1
            self.metrics.set("flowtts_slots_in_use", self._slots)
        return Slot(self)

    def _release_slot(self) -> None:
        with self._cv:
            self._slots -= 1
            self.metrics.set("flowtts_slots_in_use", self._slots)

    @property
    def slots_in_use(self) -> int:
        return self._slots

    # --- streams (event loop thread) --------------------------------------------------------------------

    def open_stream(self, spec: StreamSpec, units: list[str] = (), input_done: bool = False) -> SpeechStream:
        """A new stream (the caller holds a slot for it); must be called from the event loop."""
        if self._stopping:
            raise FlowTTSError("the server is shutting down")
        stream = SpeechStream(spec, asyncio.get_running_loop(), self.wake)
        stream.set_low_water(self._buffer_hi // 2)
        if units:
            stream.add_units(list(units))
        if input_done:
            stream.end_input()
        with self._cv:
            self._inbox.append(stream)
            self._dirty = True
            self._cv.notify()
        self.metrics.inc("flowtts_streams_total", transport=spec.transport)
        return stream

    def wake(self) -> None:
        with self._cv:
            self._dirty = True
            self._cv.notify()

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="flowtts-model-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        for r in list(self._running.values()):
            self._end(r, "shutdown", "the server is shutting down", code="shutdown")

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the worker -------------------------------------------------------------------------------------

    def _loop(self) -> None:
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        while True:
            with self._cv:
                if self._stopping:
                    return
                if not self._dirty and not self._inbox and not self._batch_active():
                    # idle, or every stream waits for text or a reader: look again now and then
                    self._cv.wait(timeout=0.05 if self._running else None)
                new, self._inbox, self._dirty = self._inbox, [], False
            try:
                self._iteration(new)
            except Exception:  # a bug: fail what was running, keep serving
                log.exception("model worker error")
                for r in list(self._running.values()):
                    if r.generating:
                        self._end(r, "error", "internal error in the model worker", code="internal_error")
                self._batch = None

    def _batch_active(self) -> bool:
        return self._batch is not None and self._batch.active

    def _iteration(self, new: list[SpeechStream]) -> None:
        now = time.monotonic()
        for s in new:
            self._running[s] = _Running(s, self.tts.codec.streaming_decoder(), ready_since=now)
        self._collect(now)
        self._pace(now)
        self._start_units(now)
        if self._batch_active():
            self._step()
        self.metrics.set("flowtts_streams_active", len(self._running))
        self.metrics.set("flowtts_streams_generating", self._batch.size if self._batch_active() else 0)
        self.metrics.set("flowtts_streams_paused", sum(1 for r in self._running.values() if r.pause))

    def _collect(self, now: float) -> None:
        for r in list(self._running.values()):
            cancel = r.stream.cancel_request
            if cancel is not None:
                reason, at = cancel
                self._end(r, reason, stop_latency=now - at)
                continue
            units = r.stream.take_units()
            if units:
                if not r.pending and not r.generating:
                    r.ready_since = now
                r.pending.extend(units)
            if not r.generating and not r.pending and r.stream.input_done:
                self._finish(r)

    def _pace(self, now: float) -> None:
        busy = self._last_step > self.config.busy_step_fraction * FRAME_SECONDS
        for r in list(self._running.values()):
            queued = r.stream.queued_samples
            if r.pause is None:
                if queued > self._buffer_hi:
                    self._park(r, "buffer", now)
                elif busy and r.generating and r.first_audio_at is not None:
                    lead = r.samples / SAMPLE_RATE - (now - r.first_audio_at)
                    if lead > self.config.max_lead_s:
                        self._park(r, "ahead", now)
            elif r.pause == "buffer":
                if queued <= self._buffer_hi // 2:
                    self._resume(r)
                elif now - r.paused_since > self.config.stall_timeout_s:
                    self._end(r, "stalled", "the client stopped reading", code="client_stalled")
            elif r.pause == "ahead":
                lead = r.samples / SAMPLE_RATE - (now - (r.first_audio_at or now))
                if lead <= self.config.max_lead_s / 2 or queued > self._buffer_hi:
                    self._resume(r)  # (a slow reader is then paused as such at the next iteration)

    def _row_of(self, r: _Running) -> int | None:
        if not self._batch_active():
            return None
        for i, s in enumerate(self._batch.streams):
            if s.request.tag is r:
                return i
        return None

    def _take_row(self, r: _Running) -> GenerationBatch | None:
        """Removes ``r``'s row from the batch and returns it as a one-row batch (None if it has none)."""
        i = self._row_of(r)
        if i is None:
            return None
        row = self._batch.keep([i])
        rest = [j for j in range(self._batch.size) if j != i]
        self._batch = self._batch.keep(rest) if rest else None
        return row

    def _park(self, r: _Running, why: str, now: float) -> None:
        r.pause, r.paused_since = why, now
        if r.generating:
            r.parked = self._take_row(r)

    def _resume(self, r: _Running) -> None:
        r.pause = None
        if r.parked is not None:
            self._batch = r.parked if not self._batch_active() else self._batch.merge(r.parked)
            r.parked = None

    def _start_units(self, now: float) -> None:
        ready = [r for r in self._running.values() if not r.generating and r.pending and r.pause is None]
        ready.sort(key=lambda r: r.ready_since)
        requests, owners = [], []
        for r in ready[: self.config.max_starts_per_step]:
            text = r.pending.popleft()
            spec = r.stream.spec
            params = spec.params
            if params.seed is not None:
                params = replace(params, seed=params.seed + r.units)
            try:
                requests.append(
                    self.tts.request(text, spec.voice, spec.lang, params, tag=r, voice_pack=spec.voice_pack)
                )
            except FlowTTSError as e:
                self._end(r, "error", str(e), code="invalid_request")
                continue
            owners.append((r, text))
        if not requests:
            return
        new = self.tts.generator.start(requests)
        self._batch = new if not self._batch_active() else self._batch.merge(new)
        for r, text in owners:
            r.generating = True
            r.units += 1
            r.unit_text, r.unit_start, r.unit_frames = text, r.samples, 0
            r.chars += len(text)

    def _step(self) -> None:
        from codec.streaming import push_many

        t0 = time.perf_counter()
        step, self._batch = self.tts.generator.step(self._batch)
        if not self._batch.active:
            self._batch = None
        now = time.monotonic()
        size = len(step.tags)
        rows: list[int] = []
        for i, r in enumerate(step.tags):
            if r.stream not in self._running or self._running[r.stream] is not r:
                continue
            if bool(step.finished[i]):
                r.generating = False
                r.ready_since = now
                r.stream.emit(
                    UnitDone(r.units - 1, r.unit_text, r.unit_start, r.samples - r.unit_start, r.unit_frames)
                )
                continue
            rows.append(i)
        # every live stream's new frame through the codec decoder in one batched pass
        live = [step.tags[i] for i in rows]
        chunks = []
        if rows:
            frames = step.frames(rows, self.tts.codec.config, self.tts.codec_device)  # [N, 1]
            chunks = push_many([r.decoder for r in live], frames)
        for r, chunk in zip(live, chunks, strict=True):
            self._emit_audio(r, chunk[0].cpu().numpy(), now)
            r.frames += 1
            r.unit_frames += 1
            if r.samples > r.stream.spec.max_audio_seconds * SAMPLE_RATE:
                self._end(
                    r,
                    "limit",
                    f"the audio reached the limit of {r.stream.spec.max_audio_seconds:g} s",
                    code="audio_limit",
                )
        dt = time.perf_counter() - t0
        for r in step.tags:
            r.compute += dt
        self._last_step = dt
        self.steps += 1
        self.metrics.observe("flowtts_step_seconds", dt)
        self.metrics.observe("flowtts_batch_size", size)
        self.metrics.inc("flowtts_frames_total", size)

    def _emit_audio(self, r: _Running, chunk: np.ndarray, now: float) -> None:
        if len(chunk) == 0:
            return
        chunk = np.clip(chunk, -1.0, 1.0).astype(np.float32)
        if r.first_audio_at is None:
            r.first_audio_at = now
            self.metrics.observe(
                "flowtts_time_to_first_audio_seconds",
                now - r.stream.created,
                transport=r.stream.spec.transport,
            )
        r.samples += len(chunk)
        self.metrics.inc("flowtts_audio_seconds_total", len(chunk) / SAMPLE_RATE)
        r.stream.emit(AudioChunk(chunk))

    def _finish(self, r: _Running) -> None:
        """All text spoken: the decoder's held-back tail, then the end."""
        if r.frames:
            self._emit_audio(r, r.decoder.flush()[0].cpu().numpy(), time.monotonic())
        self._end(r, "completed")

    def _end(
        self, r: _Running, reason: str, message: str = "", code: str = "", stop_latency: float | None = None
    ) -> None:
        if self._running.get(r.stream) is not r:
            return
        self._take_row(r)
        r.parked = None
        del self._running[r.stream]
        usage = r.usage()
        if stop_latency is not None:
            self.metrics.observe("flowtts_stop_latency_seconds", stop_latency)
        self.metrics.inc("flowtts_streams_ended_total", reason=reason)
        if reason == "completed" and usage.rtf is not None:
            self.metrics.observe("flowtts_stream_rtf", usage.rtf)
        if code and reason not in ("cancelled", "disconnected"):
            self.metrics.inc("flowtts_errors_total", code=code)
        r.stream.emit(StreamEnd(reason, usage, message, code, stop_latency))
