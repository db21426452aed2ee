"""A live server for tests: uvicorn with the real WebSocket implementation on a real socket, in a thread.

(Starlette's in-process TestClient would pass WebSocket tests even where a real uvicorn answers upgrades
with 404, so every test here goes through a socket.)
"""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import replace

import numpy as np

from tests.live_uvicorn import LiveUvicorn


class LiveServer(LiveUvicorn):
    def __init__(self, settings, tts, sndbuf: int | None = None):
        from serve.app import create_app

        super().__init__(sndbuf)
        self.settings = replace(settings, port=self.port)
        self.serve(
            create_app(self.settings, tts=tts),
            ws="websockets-sansio",
            ws_max_size=self.settings.ws_max_message_bytes,
            lifespan="on",
        )

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/audio/speech/stream"

    @property
    def service(self):
        return self.app.state.service

    # --- small HTTP client (stdlib) -------------------------------------------------------------------

    def request(self, method: str, path: str, body=None, headers=None, timeout: float = 60.0):
        """(status, headers, body bytes); ``body`` a dict is sent as JSON."""
        data = body
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def raw(self, head: str, body: bytes = b"", timeout: float = 10.0) -> tuple[int, bytes]:
        """Sends a raw HTTP request (the body may be cut off by an early answer) -> (status, response)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as c:
            c.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
            try:
                for i in range(0, len(body), 65536):
                    c.sendall(body[i : i + 65536])
            except OSError:  # the server answered and closed before reading everything: fine
                pass
            data = b""
            try:
                while chunk := c.recv(65536):
                    data += chunk
            except OSError:
                pass
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
        return status, data

    def metric(self, name: str, **labels) -> float:
        """A sample's value from /metrics (0 if absent)."""
        _, _, body = self.request("GET", "/metrics")
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
        for line in body.decode().splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until no slot is held and no stream runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sched = self.service.scheduler
            if sched.slots_in_use == 0 and not sched._running:
                return
            time.sleep(0.02)
        raise AssertionError(f"server not idle: {self.service.scheduler.slots_in_use} slots in use")


def speechlike_clip(seconds: float = 4.0, rate: int = 24000, seed: int = 0) -> np.ndarray:
    """Noise shaped like speech (syllable-rate amplitude modulation, pauses): passes the clip checks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.5
    tone = np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 280 * t)
    x = 0.25 * envelope * (0.6 * tone + 0.4 * rng.standard_normal(len(t)))
    return x.astype(np.float32)


def wav_bytes(x: np.ndarray, rate: int = 24000, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decodes a file streamed with an unknown length (FLAC, WAV): reads blocks until the data ends."""
    import soundfile as sf

    parts = []
    with sf.SoundFile(io.BytesIO(data)) as f:
        rate = f.samplerate
        try:
            while True:
                block = f.read(256, dtype="float32")  # small: an unknown-length FLAC fails at its last block
                if len(block) == 0:
                    break
                parts.append(block)
        except sf.LibsndfileError:  # libsndfile seeks past the end of an unknown-length FLAC at the end
            pass
    x = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return (x if x.ndim == 1 else x.mean(axis=1)), rate
