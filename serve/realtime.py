"""The WebSocket protocol of ``/v1/audio/speech/stream``: text in pieces, audio out while it is written.

Client -> server (JSON text messages; ``type`` picks the action):

- ``session.update`` ``{session: {…}}``: voice, response_format, sample_rate, language, speed, seed, steps,
  cfg, word_timestamps, binary_audio (between turns only);
- ``input_text.append`` ``{text}``: more text for the current turn (opens a turn if none is open);
- ``input_text.flush`` (or ``flush``): the turn's text is complete: speak the rest and end the turn;
- ``input_text.cancel`` (or ``cancel``): barge-in: stop the current and queued turns now;
- ``input_text.end`` (or ``end``): flush, finish speaking, then close (1000); until then only
  ``input_text.cancel`` is accepted.

Server -> client: ``session.created`` / ``session.updated`` (the effective config), ``speech.started``
(``turn_id``), ``speech.audio.delta`` (``turn_id``, ``seq``, base64 ``audio``; or a binary message of the
raw bytes with ``binary_audio``), ``speech.word_timestamps`` (``turn_id``, ``text``, ``words``: approximate,
see ``serve.timings``), ``speech.audio.done`` (``turn_id``, ``reason`` completed | cancelled | limit,
``usage``, and for a cancel ``stop_ms``: cancel to compute stopped), and ``error`` (``code``, ``message``;
the session goes on unless it is closed right after).

A turn is spoken clause by clause as its text arrives: ``flowtts.text.splitter.IncrementalSplitter`` in
clause mode returns each clause or sentence as soon as it is certainly complete, and it joins the turn's
stream in the model worker at once; the audio of a turn is one continuous stream (one codec decoder).
Turns are spoken one after another; text appended after a flush opens the next turn, which starts when
the current one ends. A session holds one admission slot for its whole life.

Close codes: 1000 normal (after ``end`` or an idle timeout), 1008 bad API key or a client that stopped
reading, 1009 message too large, 1011 server error, 1013 server busy (all slots in use).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from itertools import count

from fastapi import WebSocket
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from flowtts.errors import FlowTTSError
from serve.audio_out import AudioOutput
from serve.encoders import check_format
from serve.errors import ApiError
from serve.routes.speech import timing_event
from serve.scheduler import ServerBusy, Slot
from serve.schemas import ResponseFormat
from serve.service import Service
from serve.streams import AudioChunk, SpeechStream, StreamEnd, StreamSpec, UnitDone

log = logging.getLogger("flowtts.serve.ws")

CLOSE_NORMAL, CLOSE_POLICY, CLOSE_INTERNAL, CLOSE_BUSY = 1000, 1008, 1011, 1013
ALIASES = {"flush": "input_text.flush", "cancel": "input_text.cancel", "end": "input_text.end"}
MIN_CLAUSE_CHARS = 20  # a clause shorter than this waits for more text (no tiny fragments)
MAX_UNIT_CHARS = 150  # run-on text without punctuation is cut at a space past this


class SessionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voice: str | None = Field(None, max_length=64)
    response_format: ResponseFormat | None = None
    sample_rate: int | None = None
    language: str | None = Field(None, max_length=8)
    speed: float | None = Field(None, ge=0.5, le=2.0)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    steps: int | None = Field(None, ge=1, le=64)
    cfg: float | None = Field(None, ge=0.0, le=10.0)
    word_timestamps: bool | None = None
    binary_audio: bool | None = None


@dataclass(frozen=True)
class SessionConfig:
    voice: str | None = None
    response_format: str = "pcm"
    sample_rate: int = 24000
    language: str = "en"
    speed: float = 1.0
    seed: int | None = None
    steps: int | None = None
    cfg: float | None = None
    word_timestamps: bool = True
    binary_audio: bool = False


class ProtocolError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(eq=False)
class Turn:
    id: int
    spec: StreamSpec
    config: SessionConfig
    splitter: object  # IncrementalSplitter
    units: list  # normalized units not yet handed to the stream
    stream: SpeechStream | None = None
    flushed: bool = False
    cancelled: str | None = None  # the reason, once cancelled
    chars: int = 0


class RealtimeSession:
    def __init__(self, ws: WebSocket, service: Service):
        self.ws, self.service = ws, service
        s = service.settings
        self.config = SessionConfig(
            voice=service.default_voice(s.default_language), language=s.default_language
        )
        self.turns: list[Turn] = []  # not yet done, in order; the first one is being spoken
        self.queue: asyncio.Queue[Turn | None] = asyncio.Queue()  # turns for the sender; None: close
        self.turn_ids = count(1)
        self.send_lock = asyncio.Lock()
        self.slot: Slot | None = None
        self.closing = False

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self) -> None:
        ws, service = self.ws, self.service
        await ws.accept()
        try:
            service.keys.check(ws.headers.get("authorization"), ws.query_params.get("api_key"))
        except ApiError as e:
            await self._fatal(e.code, e.message, CLOSE_POLICY)
            return
        try:
            self.slot = service.scheduler.acquire_slot()
        except ServerBusy:
            await self._fatal(
                "server_busy",
                f"the server is busy: all {service.settings.max_streams} streams are in use; retry shortly",
                CLOSE_BUSY,
            )
            return
        service.metrics.inc("flowtts_ws_sessions_active", 1)
        sender = asyncio.create_task(self._sender())
        try:
            await self._send(
                {"type": "session.created", "session": asdict(self.config), "limits": self._limits()}
            )
            await self._receive_loop(sender)
        except Exception as e:  # the client went away or stopped reading; nothing to answer
            log.info("websocket session ended", extra={"why": type(e).__name__})
        finally:
            self._cancel_all("disconnected")
            if not sender.done():
                sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            self.slot.release()
            service.metrics.inc("flowtts_ws_sessions_active", -1)
            if ws.client_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close(CLOSE_NORMAL)

    def _limits(self) -> dict:
        s = self.service.settings
        return {
            "max_input_chars": s.max_input_chars,
            "max_audio_seconds": s.max_audio_seconds,
            "idle_timeout_s": s.idle_timeout_s,
        }

    async def _fatal(self, code: str, message: str, close_code: int) -> None:
        with contextlib.suppress(Exception):
            await self._send({"type": "error", "error": {"code": code, "message": message}})
            await self.ws.close(close_code, reason=message[:120])

    async def _receive_loop(self, sender: asyncio.Task) -> None:
        idle = self.service.settings.idle_timeout_s
        get: asyncio.Future | None = None
        try:
            while True:
                if get is None:
                    get = asyncio.ensure_future(self.ws.receive())
                done, _ = await asyncio.wait({get, sender}, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
                if sender in done:  # closed after input_text.end, or failed (client not reading, gone)
                    return
                if get not in done:
                    if not self.turns and not self.closing:
                        await self._fatal("idle_timeout", f"no message for {idle:g} s", CLOSE_NORMAL)
                        return
                    continue  # still speaking: not idle
                message, get = get.result(), None
                if message["type"] == "websocket.disconnect":
                    raise WebSocketDisconnect(message.get("code", 1000))
                try:
                    self._handle(message)
                except ProtocolError as e:
                    await self._error(e.code, e.message)
        finally:
            if get is not None and not get.done():
                get.cancel()

    # --- client messages ---------------------------------------------------------------------------

    def _handle(self, message: dict) -> None:
        if message.get("bytes") is not None:
            raise ProtocolError(
                "binary_not_accepted", "send JSON text messages; audio only flows to the client"
            )
        try:
            data = json.loads(message.get("text") or "")
        except ValueError:
            raise ProtocolError("invalid_json", "the message is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise ProtocolError("invalid_message", "a message is a JSON object with a string 'type'")
        kind = ALIASES.get(data["type"], data["type"])
        if self.closing and kind != "input_text.cancel":
            raise ProtocolError(
                "session_ending",
                "the session is ending (input_text.end was sent); only input_text.cancel is accepted",
            )
        if kind == "session.update":
            self._update(data.get("session"))
        elif kind == "input_text.append":
            self._append(data.get("text"))
        elif kind == "input_text.flush":
            self._flush()
        elif kind == "input_text.cancel":
            if not self.turns:
                raise ProtocolError("no_active_turn", "nothing to cancel")
            self._cancel_all("cancelled")
        elif kind == "input_text.end":
            if self._open_turn() is not None:
                self._flush()
            self.closing = True
            self.queue.put_nowait(None)  # the sender closes the socket after the last turn
        else:
            raise ProtocolError(
                "unknown_type",
                f"unknown message type {data['type'][:64]!r} (use session.update, "
                "input_text.append, input_text.flush, input_text.cancel, input_text.end)",
            )

    def _update(self, session) -> None:
        if self.turns:
            raise ProtocolError("turn_in_progress", "session.update is only allowed between turns")
        if not isinstance(session, dict):
            raise ProtocolError("invalid_message", "session.update needs a 'session' object")
        try:
            upd = SessionUpdate.model_validate(session)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err.get("loc", ()))
            raise ProtocolError("invalid_value", f"session.{where}: {err.get('msg', 'invalid')}") from None
        changes = upd.model_dump(exclude_unset=True)
        nullable = ("voice", "seed", "steps", "cfg")  # null resets these to the server's default
        new = replace(self.config, **{k: v for k, v in changes.items() if v is not None or k in nullable})
        if new.voice is None:
            new = replace(new, voice=self.service.default_voice(new.language))
        if "response_format" in changes and "sample_rate" not in changes:
            new = replace(new, sample_rate=check_format(new.response_format, None))
        try:
            check_format(new.response_format, new.sample_rate)
            self.service.spec(new.voice, new.language, new.steps, new.cfg, new.seed, "ws")
        except ValueError as e:
            raise ProtocolError("invalid_value", str(e)) from None
        except ApiError as e:
            raise ProtocolError(e.code, e.message) from None
        self.config = new
        self._post({"type": "session.updated", "session": asdict(new)})

    def _open_turn(self) -> Turn | None:
        return self.turns[-1] if self.turns and not self.turns[-1].flushed else None

    def _append(self, text) -> None:
        from flowtts.text.splitter import IncrementalSplitter

        if not isinstance(text, str):
            raise ProtocolError("invalid_message", "input_text.append needs a string 'text'")
        turn = self._open_turn()
        if turn is None:
            if not text.strip():
                return  # leading whitespace: no turn yet
            c = self.config
            try:
                spec = self.service.spec(c.voice, c.language, c.steps, c.cfg, c.seed, "ws")
            except ApiError as e:
                raise ProtocolError(e.code, e.message) from None
            splitter = IncrementalSplitter(
                c.language, clauses=True, min_clause_chars=MIN_CLAUSE_CHARS, max_chars=MAX_UNIT_CHARS
            )
            turn = Turn(next(self.turn_ids), spec, c, splitter, [])
            self.turns.append(turn)
            self._post({"type": "speech.started", "turn_id": turn.id})
            self.queue.put_nowait(turn)
        turn.chars += len(text)
        limit = self.service.settings.max_input_chars
        if turn.chars > limit:
            self._cancel_turn(turn, "cancelled")
            raise ProtocolError(
                "input_too_long", f"turn {turn.id} has more than {limit} characters; it was cancelled"
            )
        self._feed(turn, turn.splitter.push(text))

    def _flush(self) -> None:
        turn = self._open_turn()
        if turn is None:
            raise ProtocolError("no_open_turn", "nothing to flush: append text first")
        turn.flushed = True
        self._feed(turn, turn.splitter.flush())
        if turn.stream is not None:
            turn.stream.end_input()

    def _feed(self, turn: Turn, pieces: list[str]) -> None:
        units = []
        for piece in pieces:
            try:
                units.extend(self.service.tts.sentences(piece, turn.spec.lang))
            except FlowTTSError:
                continue  # nothing speakable in this piece (punctuation, emoji …)
        if not units:
            return
        if turn.stream is not None:
            turn.stream.add_units(units)
        else:
            turn.units.extend(units)

    def _cancel_turn(self, turn: Turn, reason: str) -> None:
        if turn.cancelled:
            return
        turn.cancelled = reason
        turn.flushed = True
        if turn.stream is not None and not turn.stream.ended:
            turn.stream.cancel(reason)

    def _cancel_all(self, reason: str) -> None:
        for turn in list(self.turns):
            self._cancel_turn(turn, reason)

    # --- server messages ---------------------------------------------------------------------------

    def _post(self, obj: dict) -> None:
        """Sends from synchronous code (message handlers), in order with everything else (the send lock is
        FIFO); a failed send shows up in the sender or the receive loop, so its error is only collected."""
        task = asyncio.ensure_future(self._send(obj))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "error": {"code": code, "message": message}})

    async def _send(self, obj: dict | bytes) -> None:
        timeout = self.service.settings.stall_timeout_s
        async with self.send_lock:
            if isinstance(obj, bytes):
                await asyncio.wait_for(self.ws.send_bytes(obj), timeout)
            else:
                await asyncio.wait_for(self.ws.send_text(json.dumps(obj, separators=(",", ":"))), timeout)

    async def _sender(self) -> None:
        """Speaks the turns one after another."""
        try:
            while True:
                turn = await self.queue.get()
                if turn is None:
                    with contextlib.suppress(Exception):
                        await self.ws.close(CLOSE_NORMAL)
                    return
                await self._speak(turn)
                if turn in self.turns:
                    self.turns.remove(turn)
        except asyncio.TimeoutError:
            self._cancel_all("stalled")
            with contextlib.suppress(Exception):
                await self.ws.close(CLOSE_POLICY, reason="client stopped reading")

    async def _speak(self, turn: Turn) -> None:
        if turn.cancelled:
            await self._send(
                {"type": "speech.audio.done", "turn_id": turn.id, "reason": turn.cancelled, "usage": None}
            )
            return
        c = turn.config
        stream = self.service.scheduler.open_stream(turn.spec, turn.units, input_done=turn.flushed)
        turn.stream, turn.units = stream, []
        if turn.cancelled:  # cancelled while we were opening
            stream.cancel(turn.cancelled)
        output = AudioOutput(c.response_format, c.sample_rate, c.speed)
        seq = 0
        try:
            while True:
                ev = await stream.next_event()
                if isinstance(ev, AudioChunk):
                    seq = await self._audio(turn, output.push(ev.samples), seq)
                elif isinstance(ev, UnitDone):
                    if c.word_timestamps:
                        await self._send({**timing_event(ev, output), "turn_id": turn.id})
                elif isinstance(ev, StreamEnd):
                    if ev.reason in ("completed", "limit"):
                        seq = await self._audio(turn, output.finish(), seq)
                    if ev.reason == "error":
                        await self._send(
                            {
                                "type": "error",
                                "turn_id": turn.id,
                                "error": {"code": ev.code or "generation_failed", "message": ev.message},
                            }
                        )
                    done = {
                        "type": "speech.audio.done",
                        "turn_id": turn.id,
                        "reason": ev.reason,
                        "usage": ev.usage.to_dict(),
                    }
                    if ev.stop_latency_s is not None:
                        done["stop_ms"] = round(1000 * ev.stop_latency_s, 2)
                    await self._send(done)
                    return
        finally:
            if not stream.ended:
                stream.cancel("disconnected")

    async def _audio(self, turn: Turn, data: bytes, seq: int) -> int:
        if not data:
            return seq
        if turn.config.binary_audio:
            await self._send(data)
        else:
            await self._send(
                {
                    "type": "speech.audio.delta",
                    "turn_id": turn.id,
                    "seq": seq,
                    "audio": base64.b64encode(data).decode(),
                }
            )
        return seq + 1
