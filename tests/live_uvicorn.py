"""An ASGI app under a real uvicorn server on a real socket, in a thread: what tests of the service and of
the listening pages talk to (Starlette's in-process TestClient would pass WebSocket tests even where a
real uvicorn answers upgrades with 404, and never exercises the socket)."""

from __future__ import annotations

import socket
import threading
import time


class LiveUvicorn:
    """Binds 127.0.0.1 on a free port; ``start()`` runs uvicorn in a daemon thread; a context manager."""

    def __init__(self, sndbuf: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if sndbuf:  # accepted sockets inherit it: a slow network path, without the kernel's autotuning
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def serve(self, app, **uvicorn_options) -> None:
        """Prepares the server for ``app`` (call once from the subclass's ``__init__``)."""
        import uvicorn

        self.app = app
        config = uvicorn.Config(
            app, log_config=None, access_log=False, timeout_graceful_shutdown=2, **uvicorn_options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0):
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__}: the server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
