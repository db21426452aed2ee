"""Save -> load round trip of a TTS model folder: safetensors only, never pickle."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import flowtts
from flowtts.model.tts import TTSModel
from flowtts.release import load_tts_model, write_model_dir
from tests.model.helpers import make_tiny_model_dir, tiny_tts_config


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def no_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any use of torch.load or pickle while loading fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a model")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return make_tiny_model_dir(tmp_path_factory.mktemp("release") / "model")


def _random_model(**over) -> TTSModel:
    """A random model that fits ``model_dir``'s tokenizer and codec."""
    torch.manual_seed(3)
    return TTSModel(tiny_tts_config(text_vocab_size=400, codebook_size=64, acoustic_dim=4, **over)).eval()


def _write_float32(model: TTSModel, root: Path, model_dir: Path) -> Path:
    """``model`` as a float32 model folder with ``model_dir``'s codec and tokenizer."""
    return write_model_dir(
        root, model, model_dir / "codec.safetensors", model_dir / "tokenizer.model", dtype=torch.float32
    )


def _assert_speaks(root: Path, tmp_path: Path) -> None:
    tts = flowtts.load(root, voices_dir=str(tmp_path / "voices"))
    audio = tts.synthesize("Hello there.", seed=0, steps=2)
    assert audio.duration > 0 and np.isfinite(audio.samples).all()


def test_float32_round_trip_is_exact(model_dir: Path, tmp_path: Path, no_pickle) -> None:
    model = _random_model()
    config = model.config
    root = _write_float32(model, tmp_path / "m", model_dir)
    loaded = load_tts_model(root)
    assert loaded.config == config and not loaded.training
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    tokens = torch.randint(0, 400, (1, 9))
    x = model.embed(
        tokens, torch.zeros(1, 9, dtype=torch.bool), torch.zeros_like(tokens), torch.zeros(1, 9, 4)
    )
    assert torch.equal(model.backbone(x), loaded.backbone(x))


def test_default_float16_files_load_as_float32(model_dir: Path, no_pickle) -> None:
    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as f:
        assert (f.metadata() or {}).get("format") == "flowtts.model"
        assert {f.get_tensor(k).dtype for k in f.keys()} <= {torch.float16, torch.int64}
    model = load_tts_model(model_dir)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # re-saving the loaded model gives the same weights (float16 values are exact in float32)
    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as f:
        on_disk = {k: f.get_tensor(k) for k in f.keys()}
    state = model.state_dict()
    assert all(torch.equal(state[k].to(on_disk[k].dtype), on_disk[k]) for k in on_disk)


def test_a_model_folder_holds_no_pickle_and_loads_without_it(
    model_dir: Path, tmp_path: Path, no_pickle
) -> None:
    files = [p for p in model_dir.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".json", ".safetensors", ".model", ".md"}
    for p in files:
        if p.suffix == ".safetensors":
            with safe_open(str(p), framework="pt"):
                pass  # every weights file is a safetensors file
    _assert_speaks(model_dir, tmp_path)


def test_the_training_only_text_ctc_head_is_never_released(
    model_dir: Path, tmp_path: Path, no_pickle
) -> None:
    model = _random_model(text_ctc=True)
    config = model.config
    assert model.text_ctc_head is not None
    root = _write_float32(model, tmp_path / "m", model_dir)
    with safe_open(str(root / "model.safetensors"), framework="pt") as f:
        keys = set(f.keys())
    assert keys == {k for k in model.state_dict() if not k.startswith("text_ctc_head.")}
    on_disk = json.loads((root / "config.json").read_text())["model"]
    assert "text_ctc" not in on_disk  # the config of the inference model, as flowtts wrote it before
    loaded = load_tts_model(root)
    assert loaded.config == replace(config, text_ctc=False) and loaded.text_ctc_head is None
    state = loaded.state_dict()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    _assert_speaks(root, tmp_path)

    # a folder that names the head anyway (config and weights) loads as the inference model
    (root / "config.json").write_text(
        json.dumps({**json.loads((root / "config.json").read_text()), "model": config.to_dict()})
    )
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "model.safetensors"))
    loaded = load_tts_model(root)
    assert loaded.text_ctc_head is None and loaded.state_dict().keys() == state.keys()
