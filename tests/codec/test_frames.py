"""Frames: validation, slicing, concatenation and the safetensors file round trip."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from codec.frames import FORMAT_VERSION, Frames
from codec.quantizers import FSQ, FSQConfig
from flowtts.constants import FRAME_SAMPLES
from flowtts.errors import FlowTTSError


def make_frames(b: int = 2, t: int = 5, d: int = 36, seed: int = 0) -> Frames:
    g = torch.Generator().manual_seed(seed)
    fsq = FSQ(FSQConfig(dim=d, levels=21))
    acoustic = fsq(torch.randn(b, t, d, generator=g)).values  # [B, T, D] on the grid
    return Frames(semantic=torch.randint(0, 8192, (b, t), generator=g), acoustic=acoustic)


def assert_same(a: Frames, b: Frames) -> None:
    assert torch.equal(a.semantic, b.semantic) and torch.equal(a.acoustic, b.acoustic)
    assert (a.codebook_size, a.fsq_levels) == (b.codebook_size, b.fsq_levels)


def test_sizes() -> None:
    f = make_frames(b=2, t=5)
    assert (f.batch_size, f.num_frames, f.acoustic_dim) == (2, 5, 36)
    assert f.num_samples == 5 * FRAME_SAMPLES == 9600
    assert f.duration_s == pytest.approx(0.4)
    assert (f.codebook_size, f.fsq_levels) == (8192, 21)


@pytest.mark.parametrize(
    ("semantic", "acoustic", "error"),
    [
        (torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 4, 36), ValueError),  # T differs
        (torch.zeros(3, 5, dtype=torch.long), torch.zeros(2, 5, 36), ValueError),  # B differs
        (torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5), ValueError),  # acoustic not 3-D
        (torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5, 0), ValueError),  # D = 0
        (torch.zeros(10, dtype=torch.long), torch.zeros(2, 5, 36), ValueError),  # semantic not 2-D
        (torch.zeros(2, 5, dtype=torch.int32), torch.zeros(2, 5, 36), TypeError),  # ids not long
        (torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5, 36, dtype=torch.long), TypeError),
    ],
)
def test_validation(semantic: torch.Tensor, acoustic: torch.Tensor, error: type[Exception]) -> None:
    with pytest.raises(error):
        Frames(semantic, acoustic)


def test_frozen() -> None:
    f = make_frames()
    with pytest.raises(AttributeError):
        f.semantic = f.semantic  # type: ignore[misc]


def test_slice_and_cat() -> None:
    f = make_frames(t=7)
    head, mid, tail = f.slice(0, 2), f.slice(2, 5), f.slice(5)
    assert (head.num_frames, mid.num_frames, tail.num_frames) == (2, 3, 2)
    assert torch.equal(mid.semantic, f.semantic[:, 2:5])
    assert_same(Frames.cat([head, mid, tail]), f)
    assert f.slice(-1).num_frames == 1 and f.slice(3, 3).num_frames == 0


def test_cat_rejects_mismatches() -> None:
    with pytest.raises(ValueError):
        Frames.cat([])
    with pytest.raises(ValueError):
        Frames.cat([make_frames(b=2), make_frames(b=1)])
    with pytest.raises(ValueError):
        Frames.cat([make_frames(d=36), make_frames(d=8)])


def test_to_device() -> None:
    f = make_frames()
    g = f.to("cpu")
    assert g is not f and g.semantic.device.type == "cpu"
    assert_same(f, g)


def test_check_values() -> None:
    f = make_frames()
    f.check_values()
    with pytest.raises(ValueError):
        Frames(f.semantic + 8192, f.acoustic).check_values()
    with pytest.raises(ValueError):
        Frames(f.semantic, f.acoustic + 0.04).check_values()  # between levels (spacing 0.1)
    Frames(f.semantic, f.acoustic.to(torch.bfloat16)).check_values()  # bf16 rounding is tolerated


def test_save_load_round_trip(tmp_path: Path) -> None:
    f = make_frames()
    path = tmp_path / "f.safetensors"
    f.save(path)
    g = Frames.load(path)
    assert_same(f, g)
    assert g.semantic.dtype == torch.long and g.acoustic.dtype == torch.float32
    meta = _read_header(path)["__metadata__"]
    assert meta == {
        "format": "flowtts.codec.frames",
        "format_version": str(FORMAT_VERSION),
        "sample_rate": "24000",
        "frame_rate": "12.5",
        "codebook_size": "8192",
        "fsq_levels": "21",
    }
    assert not list(tmp_path.glob("*.part"))


def test_save_load_keeps_codec_sizes(tmp_path: Path) -> None:
    fsq = FSQ(FSQConfig(dim=4, levels=8))
    f = Frames(torch.tensor([[1, 2, 3]]), fsq(torch.randn(1, 3, 4)).values, codebook_size=16, fsq_levels=8)
    f.save(tmp_path / "f.safetensors")
    assert_same(Frames.load(tmp_path / "f.safetensors"), f)


def _read_header(path: Path) -> dict:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n])


def _write(path: Path, meta: dict[str, str], tensors: dict[str, torch.Tensor] | None = None) -> Path:
    f = make_frames()
    save_file(tensors or {"semantic": f.semantic, "acoustic": f.acoustic}, str(path), metadata=meta)
    return path


@pytest.mark.parametrize(
    "change",
    [
        {"format_version": str(FORMAT_VERSION + 1)},
        {"sample_rate": "22050"},
        {"frame_rate": "50.0"},
        {"format": "something.else"},
        {"codebook_size": "many"},
        {"codebook_size": "100"},  # ids in the file exceed it
    ],
)
def test_load_refuses_bad_metadata(tmp_path: Path, change: dict[str, str]) -> None:
    meta = make_frames().metadata() | change
    with pytest.raises(FlowTTSError):
        Frames.load(_write(tmp_path / "bad.safetensors", meta))


def test_load_refuses_bad_files(tmp_path: Path) -> None:
    meta = make_frames().metadata()
    with pytest.raises(FlowTTSError):
        Frames.load(_write(tmp_path / "extra.safetensors", meta, {"semantic": torch.zeros(1, 2).long()}))
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(FlowTTSError):
        Frames.load(tmp_path / "junk.safetensors")
    with pytest.raises(FlowTTSError):
        Frames.load(tmp_path / "missing.safetensors")
