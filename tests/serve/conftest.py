"""Fixtures: a tiny random model (it speaks noise; fast) and a live server shared by most tests.

Each server gets its own loaded ``TTS`` (the model worker owns it), so servers with different settings may
run side by side.
"""

from __future__ import annotations

import pytest
import torch

import flowtts
from serve.settings import ServeSettings
from tests.model.helpers import make_tiny_model_dir
from tests.serve.helpers import LiveServer


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("serve-model") / "model")


@pytest.fixture(scope="session")
def make_server(model_dir, tmp_path_factory):
    """``make_server(**settings)`` -> a started ``LiveServer`` (stopped at the end of the session);
    ``sndbuf=N`` caps the server sockets' send buffers."""
    started = []

    def make(**over) -> LiveServer:
        voices = over.pop("voices_dir", None) or str(tmp_path_factory.mktemp("voices"))
        sndbuf = over.pop("sndbuf", None)
        base = dict(
            max_streams=8, warmup=False, threads=1, stall_timeout_s=10.0, idle_timeout_s=30.0, default_steps=1
        )
        settings = ServeSettings(voices_dir=voices, **{**base, **over})
        tts = flowtts.load(model_dir, voices_dir=voices)
        server = LiveServer(settings, tts, sndbuf=sndbuf).start()
        started.append(server)
        return server

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def server(make_server):
    """The shared server: no keys, 8 streams, default limits, 1 flow step (fast)."""
    return make_server()
