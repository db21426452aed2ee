"""A codec saved without its CTC phoneme head (as `flowtts release` ships it): loads, makes the same frames
and audio, keeps its frames_id; the evaluation skips PER with a note; float16 and ``exact_frames``."""

from __future__ import annotations

import torch
from safetensors import safe_open

from codec.model import Codec
from codec.release import frames_id, load_codec, release_state, save_codec
from evals.codec_eval import evaluate_codec
from tests.codec.helpers import speechlike
from tests.evals.test_codec_eval import corpus  # noqa: F401  (fixture: a tiny corpus with a test split)


def test_without_the_head_it_loads_and_makes_the_same_frames_and_audio(codec: Codec, tmp_path) -> None:
    full = save_codec(codec, tmp_path / "full.safetensors")
    bare = save_codec(codec, tmp_path / "bare.safetensors", phoneme_head=False)
    with safe_open(str(bare), framework="pt") as f:
        assert not [k for k in f.keys() if k.startswith("phoneme_head.")]
    loaded = load_codec(bare)  # strict: the header's config lists no phonemes, so no head is built
    assert loaded.phoneme_head is None and loaded.config.phonemes == ()
    assert load_codec(full).phoneme_head is not None
    assert frames_id(bare) == frames_id(full)
    wav = torch.from_numpy(speechlike(1.0))  # [S]
    a, b = codec.encode(wav), loaded.encode(wav)
    assert torch.equal(a.semantic, b.semantic) and torch.equal(a.acoustic, b.acoustic)
    assert torch.equal(codec.decode(a), loaded.decode(b))


def test_float16_state_keeps_the_vq_and_exact_frames_keeps_the_frame_tensors(codec: Codec) -> None:
    half = release_state(codec, torch.float16, phoneme_head=False)
    exact = release_state(codec, torch.float16, phoneme_head=False, exact_frames=True)
    for name, t in half.items():
        if t.is_floating_point():
            assert t.dtype == (torch.float32 if name.startswith("vq.") else torch.float16), name
    for name, t in exact.items():
        if t.is_floating_point():
            frame = name.startswith(("encoder.", "vq.", "fsq."))
            assert t.dtype == (torch.float32 if frame else torch.float16), name


def test_float16_encoder_gets_its_own_frames_id(codec: Codec, tmp_path) -> None:
    full = save_codec(codec, tmp_path / "full.safetensors")
    half = save_codec(codec, tmp_path / "half.safetensors", dtype=torch.float16, phoneme_head=False)
    exact = save_codec(
        codec, tmp_path / "exact.safetensors", dtype=torch.float16, phoneme_head=False, exact_frames=True
    )
    assert frames_id(exact) == frames_id(full) != frames_id(half)


def test_codec_eval_skips_per_without_the_head(codec: Codec, tmp_path, corpus) -> None:  # noqa: F811
    path = save_codec(codec, tmp_path / "codec.safetensors", phoneme_head=False)
    r = evaluate_codec(path, corpus, split="test", max_per_group=None, speed=False, wer=False, progress=False)
    assert r["quality"]["overall"]["per"] is None
    assert "this codec has no phoneme head: PER not measured" in r["notes"]
