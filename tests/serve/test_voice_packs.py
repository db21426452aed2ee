"""`flowtts serve --voice-pack`: a fine-tuned pack is a voice by name; its adapter applies to its streams
only, next to streams of the base model in the same batches; packs cannot be deleted or shadowed."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

import flowtts
from flowtts.errors import FlowTTSError
from tests.adapters.test_pack import make_pack


@pytest.fixture(scope="module")
def pack_dir(model_dir, tmp_path_factory):
    tts = flowtts.load(model_dir)
    root = tmp_path_factory.mktemp("packs") / "anna"
    make_pack(root, tts, "anna", 1)
    return root


def _speech(srv, voice: str) -> np.ndarray:
    body = {"input": "Hello there.", "voice": voice, "response_format": "wav", "seed": 3}
    status, _, raw = srv.request("POST", "/v1/audio/speech", body)
    assert status == 200, raw[:300]
    return sf.read(io.BytesIO(raw), dtype="float32")[0]


def test_a_pack_is_served_as_a_voice(make_server, pack_dir, model_dir) -> None:
    srv = make_server(voice_packs=(str(pack_dir),))
    status, _, raw = srv.request("GET", "/v1/audio/voices")
    assert status == 200
    voices = json.loads(raw)
    anna = [v for v in voices["data"] if v["id"] == "anna"]
    assert anna and anna[0]["type"] == "voice_pack" and not anna[0]["deletable"]

    packed = _speech(srv, "anna")
    # the same request through the library: the pack's adapter on its own reference prompt
    tts = flowtts.load(model_dir)
    pack = tts.load_voice_pack(pack_dir)
    expected = tts.synthesize("Hello there.", voice=pack.voice, lang="en", seed=3, steps=1, voice_pack=pack)
    plain = tts.synthesize("Hello there.", voice=pack.voice, lang="en", seed=3, steps=1)
    assert len(packed) == len(expected.samples)
    np.testing.assert_allclose(packed, expected.samples, atol=2e-4)  # 16-bit WAV rounding
    assert len(plain.samples) != len(packed) or not np.allclose(plain.samples, packed, atol=2e-4)

    status, _, raw = srv.request("DELETE", "/v1/audio/voices/anna")
    assert status == 403 and json.loads(raw)["error"]["code"] == "voice_pack"


def test_a_bad_pack_stops_the_server_with_one_line(tmp_path, model_dir) -> None:
    from serve.app import _start_service
    from serve.metrics import Metrics
    from serve.settings import ServeSettings

    (tmp_path / "broken").mkdir()
    settings = ServeSettings(voices_dir=str(tmp_path / "v"), voice_packs=(str(tmp_path / "broken"),))
    with pytest.raises(FlowTTSError, match="broken"):
        _start_service(settings, flowtts.load(model_dir), Metrics())
