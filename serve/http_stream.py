"""A streamed HTTP response for audio that notices a client going away at once and drops one that stalls.

Starlette's ``StreamingResponse`` learns of a disconnect only when a write fails (ASGI 2.4 servers), which
may be long after: while the model is between chunks, or while the stream is paused because the client
is not reading. Here a watcher task waits on ``receive()`` for ``http.disconnect`` and calls
``on_disconnect`` (the stream is cancelled; the model worker drops it within a frame step), and every
write has ``stall_timeout`` seconds to complete; a client that accepts nothing for that long is
disconnected (the connection is closed without completing the body).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.responses import Response


class AudioStreamResponse(Response):
    def __init__(
        self,
        body: AsyncIterator[bytes],
        media_type: str,
        headers: dict[str, str],
        on_disconnect: Callable[[str], None],
        stall_timeout: float,
    ):
        self.body_iterator = body
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.on_disconnect = on_disconnect
        self.stall_timeout = stall_timeout
        self.init_headers(headers)

    async def __call__(self, scope, receive, send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    self.on_disconnect("disconnected")
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            async for chunk in self.body_iterator:
                if gone.is_set():
                    return
                if chunk:
                    await asyncio.wait_for(
                        send({"type": "http.response.body", "body": chunk, "more_body": True}),
                        self.stall_timeout,
                    )
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, asyncio.TimeoutError) as e:  # the client vanished, or stopped reading
            self.on_disconnect("stalled" if isinstance(e, asyncio.TimeoutError) else "disconnected")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
