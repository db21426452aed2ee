"""Server benchmark: a running ``flowtts serve`` measured over real sockets, as a client sees it.

    report = benchmark_server("http://127.0.0.1:8000", runs=20, concurrency=(1, 4, 8, 16))

or ``flowtts eval bench --server http://127.0.0.1:8000 --server-only``. Expects an otherwise idle server
(other clients share its batch and change every number). Raw 16-bit PCM at 24 kHz throughout (no encoder on
the path).

- **Time to first audio over HTTP** (``ttfa_ms_p50`` / ``_p95``, warm): a new connection per run, from just
  before the request is sent to the first byte of audio. The connection is then reset mid-stream, and the
  time until the server's ``/health`` shows no active stream is the **disconnect latency**
  (``disconnect_ms``: the server noticed and its model worker dropped the stream; it includes up to one
  ``/health`` round trip).
- **Time to first audio over WebSocket** (``ws_ttfa_ms``): one session, one turn per run (append + flush)
  to the first ``speech.audio.delta``; each turn is then cancelled: ``cancel_ms`` is cancel sent -> its
  ``speech.audio.done`` received, ``cancel_stop_ms`` the server's own cancel -> compute stopped (``stop_ms``).
- **Concurrency sweep**: N streams (1, 4, 8, 16) started together, over WebSocket and over HTTP, each
  speaking ``sweep_text`` (≈10 s). Each stream is played back in simulation: playback starts
  ``prebuffer_ms`` after its first byte and consumes 24 kHz in real time; a chunk arriving after its
  playback time is an underrun (playback waits, later deadlines move). A level is real time when every
  stream completes without underrun and none is refused as busy. ``realtime_streams`` is the largest N
  such that it and every smaller N in the sweep were real time over both transports.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import statistics
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import numpy as np

from flowtts.errors import FlowTTSError

PCM_BYTES_PER_SECOND = 24000 * 2
TTFA_TEXT = "Hello there, this is a short test of how quickly the first audio arrives."
SWEEP_TEXT = (
    "The old lighthouse keeper climbed the narrow stairs every evening to light the lamp. "
    "Ships passing in the night trusted its steady beam to guide them safely home."
)
DEFAULT_CONCURRENCY = (1, 4, 8, 16)


@dataclass
class StreamTrace:
    """What one client saw of one stream."""

    start: float  # request sent (perf_counter)
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (time, bytes of audio)
    outcome: str = "completed"  # completed | busy | error: …

    @property
    def ttfa(self) -> float | None:
        return self.arrivals[0][0] - self.start if self.arrivals else None

    def playback(self, prebuffer_s: float) -> tuple[int, float]:
        """(underruns, worst lateness in seconds) when played in real time from first byte + prebuffer."""
        if not self.arrivals:
            return 0, 0.0
        play_start = self.arrivals[0][0] + prebuffer_s
        position, underruns, worst = 0.0, 0, 0.0
        for t, n in self.arrivals:
            deadline = play_start + position
            late = t - deadline
            if late > 0:
                underruns += 1
                worst = max(worst, late)
                play_start += late  # playback waits for the data
            position += n / PCM_BYTES_PER_SECOND
        return underruns, worst

    @property
    def audio_seconds(self) -> float:
        return sum(n for _, n in self.arrivals) / PCM_BYTES_PER_SECOND


class _Server:
    def __init__(self, url: str, api_key: str | None, timeout: float):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise FlowTTSError(f"--server {url!r}: give an http:// URL such as http://127.0.0.1:8000")
        if parsed.scheme == "https":
            raise FlowTTSError("the server benchmark speaks plain http:// (run it next to the server)")
        self.url = url.rstrip("/")
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.api_key = api_key
        self.timeout = timeout
        self.ws_url = f"ws://{self.host}:{self.port}/v1/audio/speech/stream"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def get_json(self, path: str) -> dict:
        req = urllib.request.Request(self.url + path, headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise FlowTTSError(f"{self.url}{path}: HTTP {e.code} {e.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError) as e:
            raise FlowTTSError(f"cannot reach the server at {self.url}: {e}") from None

    def speech_body(self, text: str, voice: str | None) -> bytes:
        body = {"model": "flowtts", "input": text, "response_format": "pcm"}
        if voice:
            body["voice"] = voice
        return json.dumps(body).encode()

    def http_stream(
        self, text: str, voice: str | None, stop_after_first: bool = False
    ) -> tuple[StreamTrace, socket.socket]:
        """One streamed request; returns its trace and (when stopped early) the still-open socket."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        body = self.speech_body(text, voice)
        trace = StreamTrace(time.perf_counter())
        conn.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json", **self.headers})
        resp = conn.getresponse()
        if resp.status == 429:
            resp.read()
            trace.outcome = "busy"
            conn.close()
            return trace, None
        if resp.status != 200:
            trace.outcome = f"error: HTTP {resp.status} {resp.read()[:200]!r}"
            conn.close()
            return trace, None
        while True:
            data = resp.read1(65536)
            if not data:
                break
            trace.arrivals.append((time.perf_counter(), len(data)))
            if stop_after_first:
                return trace, conn.sock
        conn.close()
        return trace, None


def _ms(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "min": None, "max": None}
    a = 1000.0 * np.asarray(values, dtype=np.float64)
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "min": float(a.min()),
        "max": float(a.max()),
    }


def _reset(sock: socket.socket) -> None:
    """Closes with a TCP reset: the client vanishes without a goodbye."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _wait_idle(server: _Server, timeout: float) -> None:
    """Until /health shows no active stream."""
    t0 = time.perf_counter()
    while True:
        if server.get_json("/health")["streams_active"] == 0:
            return
        if time.perf_counter() - t0 > timeout:
            raise FlowTTSError(f"the server still has active streams after {timeout:.0f} s (is it idle?)")
        time.sleep(0.002)


def _http_runs(server: _Server, text: str, voice: str | None, runs: int) -> tuple[list[float], list[float]]:
    ttfa, disconnect = [], []
    for i in range(runs + 1):  # the first run warms up
        trace, sock = server.http_stream(text, voice, stop_after_first=True)
        if trace.outcome != "completed" or sock is None:
            raise FlowTTSError(f"the server refused the benchmark request: {trace.outcome}")
        t_close = time.perf_counter()
        _reset(sock)
        _wait_idle(server, 30)
        if i:
            ttfa.append(trace.ttfa)
            disconnect.append(time.perf_counter() - t_close)  # reset -> no stream left
    return ttfa, disconnect


async def _ws_runs(server: _Server, text: str, voice: str | None, runs: int) -> dict:
    import websockets

    ttfa, cancel, stop = [], [], []
    async with websockets.connect(server.ws_url, additional_headers=server.headers, max_size=None) as ws:
        first = json.loads(await ws.recv())
        if first["type"] == "error":
            raise FlowTTSError(f"WebSocket refused: {first['error']['message']}")
        if voice:
            await ws.send(json.dumps({"type": "session.update", "session": {"voice": voice}}))
            m = json.loads(await ws.recv())
            if m["type"] == "error":
                raise FlowTTSError(f"session.update refused: {m['error']['message']}")
        for i in range(runs + 1):
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "input_text.append", "text": text}))
            await ws.send(json.dumps({"type": "input_text.flush"}))
            while json.loads(await ws.recv())["type"] != "speech.audio.delta":
                pass
            t1 = time.perf_counter()
            await ws.send(json.dumps({"type": "input_text.cancel"}))
            while True:
                m = json.loads(await ws.recv())
                if m["type"] == "speech.audio.done":
                    break
            t2 = time.perf_counter()
            if i:
                ttfa.append(t1 - t0)
                cancel.append(t2 - t1)
                if m.get("stop_ms") is not None:
                    stop.append(m["stop_ms"] / 1000.0)
    return {"ttfa": ttfa, "cancel": cancel, "stop": stop}


async def _ws_stream(server: _Server, text: str, voice: str | None) -> StreamTrace:
    import base64

    import websockets

    trace = StreamTrace(time.perf_counter())
    try:
        async with websockets.connect(server.ws_url, additional_headers=server.headers, max_size=None) as ws:
            first = json.loads(await ws.recv())
            if first["type"] == "error":
                trace.outcome = (
                    "busy" if first["error"]["code"] == "server_busy" else f"error: {first['error']}"
                )
                return trace
            if voice:
                await ws.send(json.dumps({"type": "session.update", "session": {"voice": voice}}))
            trace.start = time.perf_counter()
            await ws.send(json.dumps({"type": "input_text.append", "text": text}))
            await ws.send(json.dumps({"type": "input_text.end"}))
            while True:
                m = json.loads(await ws.recv())
                if m["type"] == "speech.audio.delta":
                    trace.arrivals.append((time.perf_counter(), len(base64.b64decode(m["audio"]))))
                elif m["type"] == "speech.audio.done":
                    if m["reason"] != "completed":
                        trace.outcome = f"error: {m['reason']}"
                    return trace
                elif m["type"] == "error":
                    trace.outcome = f"error: {m['error']['message']}"
                    return trace
    except Exception as e:  # a dropped connection is a failed stream, not a crashed benchmark
        trace.outcome = f"error: {type(e).__name__}: {e}"
        return trace


def _sweep_level(
    server: _Server, n: int, transport: str, text: str, voice: str | None, prebuffer_s: float
) -> dict:
    t0 = time.perf_counter()
    if transport == "ws":

        async def all_streams():
            return await asyncio.gather(*(_ws_stream(server, text, voice) for _ in range(n)))

        traces = asyncio.run(all_streams())
    else:
        traces: list[StreamTrace] = [None] * n
        barrier = threading.Barrier(n)

        def one(i: int) -> None:
            barrier.wait()
            try:
                traces[i] = server.http_stream(text, voice)[0]
            except Exception as e:
                traces[i] = StreamTrace(time.perf_counter(), outcome=f"error: {type(e).__name__}: {e}")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    wall = time.perf_counter() - t0
    completed = [t for t in traces if t.outcome == "completed"]
    played = [t.playback(prebuffer_s) for t in completed]
    underruns = sum(u for u, _ in played)
    ttfa = [t.ttfa for t in completed if t.ttfa is not None]
    out = {
        "streams": n,
        "transport": transport,
        "completed": len(completed),
        "busy": sum(1 for t in traces if t.outcome == "busy"),
        "failed": [t.outcome for t in traces if t.outcome not in ("completed", "busy")][:3],
        "underruns": underruns,
        "streams_with_underrun": sum(1 for u, _ in played if u),
        "worst_lateness_ms": 1000.0 * max((w for _, w in played), default=0.0),
        "ttfa_ms_p50": _ms(ttfa)["p50"],
        "ttfa_ms_p95": _ms(ttfa)["p95"],
        "audio_seconds_mean": statistics.fmean(t.audio_seconds for t in completed) if completed else 0.0,
        "wall_seconds": wall,
    }
    out["realtime"] = len(completed) == n and underruns == 0
    return out


def benchmark_server(
    url: str,
    text: str | None = None,
    voice=None,
    api_key: str | None = None,
    runs: int = 20,
    concurrency: tuple[int, ...] = DEFAULT_CONCURRENCY,
    transports: tuple[str, ...] = ("ws", "http"),
    sweep_text: str = SWEEP_TEXT,
    prebuffer_ms: float = 100.0,
    timeout: float = 120.0,
    **_unused,
) -> dict:
    """Measures the server at ``url`` (see the module doc); ``text``: the time-to-first-audio text.
    ``voice``: a voice id of the server (None: its default). Raises FlowTTSError if the server is not
    reachable or refuses the requests."""
    if runs < 1:
        raise FlowTTSError(f"runs must be >= 1, got {runs}")
    if not concurrency or any(n < 1 for n in concurrency):
        raise FlowTTSError(f"concurrency levels must be >= 1, got {concurrency}")
    if not set(transports) <= {"ws", "http"} or not transports:
        raise FlowTTSError(f"transports must be ws and/or http, got {transports}")
    voice = voice if isinstance(voice, str) else None
    text = TTFA_TEXT if text is None else text
    server = _Server(url, api_key, timeout)
    health = server.get_json("/health")
    _wait_idle(server, timeout)
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    http_ttfa, disconnect = _http_runs(server, text, voice, runs)
    ws = asyncio.run(_ws_runs(server, text, voice, runs))
    sweep = []
    for transport in transports:
        for n in sorted(concurrency):
            sweep.append(_sweep_level(server, n, transport, sweep_text, voice, prebuffer_ms / 1000.0))
            _wait_idle(server, timeout)

    realtime = 0
    for n in sorted(concurrency):
        if all(s["realtime"] for s in sweep if s["streams"] == n):
            realtime = n
        else:
            break
    h, w, c, st, d = _ms(http_ttfa), _ms(ws["ttfa"]), _ms(ws["cancel"]), _ms(ws["stop"]), _ms(disconnect)
    return {
        "url": server.url,
        "model": health.get("model"),
        "max_streams": health.get("max_streams"),
        "voice": voice,
        "format": "pcm 24 kHz",
        "runs": runs,
        "ttfa_text_chars": len(text),
        "sweep_text_chars": len(sweep_text),
        "prebuffer_ms": prebuffer_ms,
        "load_average_before": load_before,
        "ttfa_ms_p50": h["p50"],
        "ttfa_ms_p95": h["p95"],
        "ttfa_ms_min": h["min"],
        "ttfa_ms_max": h["max"],
        "ws_ttfa_ms_p50": w["p50"],
        "ws_ttfa_ms_p95": w["p95"],
        "cancel_ms_p50": c["p50"],
        "cancel_ms_p95": c["p95"],
        "cancel_stop_ms_p50": st["p50"],
        "cancel_stop_ms_p95": st["p95"],
        "disconnect_ms_p50": d["p50"],
        "disconnect_ms_p95": d["p95"],
        "sweep": sweep,
        "realtime_streams": realtime,
    }


def server_markdown(s: dict) -> list[str]:
    """The report section of a ``benchmark_server`` result."""
    lines = [
        f"Server {s['url']} (model `{s['model']}`, max {s['max_streams']} streams), raw PCM 24 kHz, "
        f"{s['runs']} warm runs per latency; sweep text {s['sweep_text_chars']} characters, playback "
        f"simulated from first byte + {s['prebuffer_ms']:.0f} ms.",
        "",
        "| what | p50 | p95 |",
        "| --- | ---: | ---: |",
        f"| time to first audio, HTTP | {_f(s['ttfa_ms_p50'])} ms | {_f(s['ttfa_ms_p95'])} ms |",
        f"| time to first audio, WebSocket turn | {_f(s['ws_ttfa_ms_p50'])} ms | "
        f"{_f(s['ws_ttfa_ms_p95'])} ms |",
        f"| cancel -> compute stopped (server) | {_f(s['cancel_stop_ms_p50'])} ms | "
        f"{_f(s['cancel_stop_ms_p95'])} ms |",
        f"| cancel -> turn done received (client) | {_f(s['cancel_ms_p50'])} ms | "
        f"{_f(s['cancel_ms_p95'])} ms |",
        f"| disconnect -> no active stream | {_f(s['disconnect_ms_p50'])} ms | "
        f"{_f(s['disconnect_ms_p95'])} ms |",
        "",
        "| streams | transport | completed | busy | underruns (streams) | worst lateness | TTFA p50 / p95 | "
        "audio per stream | wall |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in s["sweep"]:
        lines.append(
            f"| {r['streams']} | {r['transport']} | {r['completed']} | {r['busy']} | {r['underruns']} "
            f"({r['streams_with_underrun']}) | {r['worst_lateness_ms']:.0f} ms | {_f(r['ttfa_ms_p50'])} / "
            f"{_f(r['ttfa_ms_p95'])} ms | {r['audio_seconds_mean']:.1f} s | {r['wall_seconds']:.1f} s |"
        )
    lines += [
        "",
        f"Concurrent real-time streams (every level up to it, both transports): **{s['realtime_streams']}**.",
    ]
    return lines


def _f(v) -> str:
    return "–" if v is None else f"{v:.1f}"
