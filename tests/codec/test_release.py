"""Release files: save_codec/load_codec round trip, the config in the header, bad files refused clearly."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from codec import CodecConfig, load_codec, save_codec
from codec.model import Codec
from codec.release import FILE_NAME, FORMAT, codec_metadata, release_state
from flowtts.errors import FlowTTSError
from tests.codec.helpers import random_frames, speechlike, tiny_config


def test_config_dict_round_trip() -> None:
    for config in (tiny_config(), CodecConfig()):
        d = json.loads(json.dumps(config.to_dict()))  # JSON turns tuples into lists
        assert d["format_version"] == 1
        assert CodecConfig.from_dict(d) == config


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"vq": {"codebook_size": 16, "dimm": 8}}, "unknown keys \\['dimm'\\] in vq"),
        ({"format_version": 99}, "newer"),
    ],
)
def test_config_from_dict_refuses_unknown_keys_and_newer_versions(patch: dict, message: str) -> None:
    d = {**tiny_config().to_dict(), **patch}
    with pytest.raises(FlowTTSError, match=message):
        CodecConfig.from_dict(d)


def test_config_file_round_trip(tmp_path: Path) -> None:
    tiny_config().save(tmp_path / "codec.json")
    assert CodecConfig.load(tmp_path / "codec.json") == tiny_config()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FlowTTSError, match="cannot read codec config"):
        CodecConfig.load(tmp_path / "bad.json")
    with pytest.raises(FlowTTSError):
        CodecConfig.load(tmp_path / "missing.json")
    (tmp_path / "invalid.json").write_text(json.dumps({"decoder": {"n_fft": 300}}))
    with pytest.raises(FlowTTSError, match="n_fft"):
        CodecConfig.load(tmp_path / "invalid.json")


def test_bitrate() -> None:
    default = CodecConfig()
    assert default.bits_per_frame == pytest.approx(13 + 36 * 4.392317422778761)
    assert default.bitrate == pytest.approx(2139.04, abs=0.01) and default.bitrate <= 2200
    assert tiny_config().bitrate == pytest.approx(12.5 * (4 + 4 * 2.321928094887362))


@pytest.mark.parametrize("as_folder", [True, False])
def test_save_load_round_trip(codec: Codec, tmp_path: Path, as_folder: bool) -> None:
    # move the codebook off its initial state so the round trip has something to carry
    codec.train()
    codec(torch.from_numpy(speechlike(0.8))[None, : 6 * 1920])
    codec.eval()
    target = tmp_path if as_folder else tmp_path / "my.safetensors"
    written = save_codec(codec, target, extra={"step": "7"})
    assert written == (tmp_path / FILE_NAME if as_folder else target) and written.exists()
    assert codec_metadata(written)["step"] == "7" and codec_metadata(written)["format"] == FORMAT

    loaded = load_codec(target)
    assert not loaded.training and loaded.config == codec.config
    wav = torch.from_numpy(speechlike(1.0, seed=5))
    a, b = codec.encode(wav), loaded.encode(wav)
    assert torch.equal(a.semantic, b.semantic) and torch.equal(a.acoustic, b.acoustic)
    frames = random_frames(codec, 1, 6)
    assert torch.equal(codec.decode(frames), loaded.decode(frames))
    assert loaded.phonemes_from_ids(frames.semantic) == codec.phonemes_from_ids(frames.semantic)


def test_load_half_precision_release(codec: Codec, tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    meta = {"format": FORMAT, "config": json.dumps(codec.config.to_dict())}
    save_file(release_state(codec, torch.bfloat16), path, metadata=meta)
    loaded = load_codec(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())


def _write(path: Path, state: dict, meta: dict) -> Path:
    save_file(state, path, metadata=meta)
    return path


def test_bad_files_are_flowtts_errors(codec: Codec, tmp_path: Path) -> None:
    state = release_state(codec)
    good_config = json.dumps(codec.config.to_dict())
    with pytest.raises(FlowTTSError, match="no codec at"):
        load_codec(tmp_path / "missing.safetensors")
    with pytest.raises(FlowTTSError, match="no codec at"):
        load_codec(tmp_path)  # a folder without codec.safetensors
    (tmp_path / "text.safetensors").write_text("this is not a safetensors file")
    with pytest.raises(FlowTTSError):
        load_codec(tmp_path / "text.safetensors")
    # a frames file is a safetensors file, but not a codec
    frames = random_frames(codec, 1, 2)
    frames.save(tmp_path / "frames.safetensors")
    with pytest.raises(FlowTTSError, match="not a flowtts codec file"):
        load_codec(tmp_path / "frames.safetensors")
    bad = {
        "no_config": {"format": FORMAT},
        "config_not_json": {"format": FORMAT, "config": "{oops"},
        "unknown_key": {"format": FORMAT, "config": json.dumps({**codec.config.to_dict(), "bogus": 1})},
        "unknown_sub_key": {
            "format": FORMAT,
            "config": json.dumps({**codec.config.to_dict(), "decoder": {"dimension": 3}}),
        },
        "invalid_value": {
            "format": FORMAT,
            "config": json.dumps({**codec.config.to_dict(), "vq": {"codebook_size": 1, "dim": 8}}),
        },
    }
    for name, meta in bad.items():
        with pytest.raises(FlowTTSError):
            load_codec(_write(tmp_path / f"{name}.safetensors", state, meta))
    # weights that do not fit the config in the header: a missing tensor, a wrong shape
    partial = {k: v for k, v in state.items() if not k.startswith("decoder.blocks.1.")}
    with pytest.raises(FlowTTSError, match="do not match"):
        load_codec(
            _write(tmp_path / "partial.safetensors", partial, {"format": FORMAT, "config": good_config})
        )
    wider = json.dumps(replace(codec.config, decoder=replace(codec.config.decoder, dim=24)).to_dict())
    with pytest.raises(FlowTTSError, match="do not match"):
        load_codec(_write(tmp_path / "shape.safetensors", state, {"format": FORMAT, "config": wider}))


def test_release_state_drops_training_bookkeeping(codec: Codec) -> None:
    state = release_state(codec, torch.float16)
    assert not any(k.endswith("unused_updates") for k in state)
    assert "vq.embedding_sum" in state and state["vq.embedding_sum"].dtype == torch.float32  # kept exact
    assert state["encoder.stem.conv.weight"].dtype == torch.float16
