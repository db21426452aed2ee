"""``TTSModel`` shapes and causality over whole training sequences (tiny random config, CPU)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from flowtts.model.backbone import KVCache
from flowtts.model.tts import IGNORE, TTSBatch, TTSModel
from tests.model.helpers import tiny_tts_config

B, L = 2, 12


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def model() -> TTSModel:
    torch.manual_seed(0)
    return TTSModel(tiny_tts_config()).eval()


def random_batch(model: TTSModel, seed: int = 0) -> TTSBatch:
    """Text at positions 0–3, frames at 4–11; positions 3–10 predict the next frame, 11 predicts END."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    is_frame = torch.zeros(B, L, dtype=torch.bool)
    is_frame[:, 4:] = True
    semantic = torch.randint(0, cfg.codebook_size, (B, L), generator=g) * is_frame
    acoustic = (torch.randint(0, cfg.fsq_levels, (B, L, cfg.acoustic_dim), generator=g) / 10 - 1) * is_frame[
        ..., None
    ]
    target_semantic = torch.full((B, L), IGNORE)
    target_semantic[:, 3:11] = semantic[:, 4:]
    target_semantic[:, 11] = cfg.end_id
    target_acoustic = torch.zeros(B, L, cfg.acoustic_dim)
    target_acoustic[:, 3:11] = acoustic[:, 4:]
    return TTSBatch(
        tokens=torch.randint(0, cfg.text_vocab_size, (B, L), generator=g),
        is_frame=is_frame,
        semantic=semantic,
        acoustic=acoustic,
        target_semantic=target_semantic,
        target_acoustic=target_acoustic,
    )


def test_shapes(model: TTSModel) -> None:
    cfg = model.config
    batch = random_batch(model)
    x = model.embed(batch.tokens, batch.is_frame, batch.semantic, batch.acoustic)
    assert x.shape == (B, L, cfg.backbone.dim)
    h = model.hidden(batch)
    assert h.shape == (B, L, cfg.backbone.dim)
    assert model.semantic_logits(h).shape == (B, L, cfg.codebook_size + 1)  # + END_AUDIO
    n = 5
    v = model.velocity_net(
        torch.randn(n, cfg.acoustic_dim), torch.rand(n), torch.randn(n, cfg.backbone.dim), torch.arange(n)
    )
    assert v.shape == (n, cfg.acoustic_dim)
    sample = model.flow.sample(torch.randn(n, cfg.backbone.dim), torch.arange(n), steps=2, cfg=1.5)
    assert sample.shape == (n, cfg.acoustic_dim) and sample.abs().max() <= 1
    loss = model(batch)
    for name in ("total", "semantic", "flow", "semantic_accuracy", "end_accuracy", "text_ctc"):
        value = getattr(loss, name)
        assert value.shape == () and torch.isfinite(value), name
    assert 0 <= loss.semantic_accuracy <= 1 and 0 <= loss.end_accuracy <= 1
    assert loss.text_ctc == 0  # off by default
    # a cache holds keys and values for every layer
    cache = KVCache.empty(cfg.backbone, B, 4, batch.tokens.device, torch.float32)
    assert model.hidden(batch, cache).shape == (B, L, cfg.backbone.dim)
    assert cache.lengths.tolist() == [L] * B


def test_the_model_is_causal(model: TTSModel) -> None:
    """Changing frame 8 onwards (ids and latents) leaves the states and logits before it unchanged."""
    a = random_batch(model, seed=0)
    b = random_batch(model, seed=0)
    other = random_batch(model, seed=1)
    b.semantic[:, 8:] = other.semantic[:, 8:]
    b.acoustic[:, 8:] = other.acoustic[:, 8:]
    ha, hb = model.hidden(a), model.hidden(b)
    assert torch.allclose(ha[:, :8], hb[:, :8], atol=1e-5)
    assert not torch.allclose(ha[:, 8:], hb[:, 8:], atol=1e-4)
    la, lb = model.semantic_logits(ha), model.semantic_logits(hb)
    assert torch.allclose(la[:, :8], lb[:, :8], atol=1e-5)


def test_cached_decode_of_the_whole_model_equals_its_full_forward(model: TTSModel) -> None:
    batch = random_batch(model)
    full = model.semantic_logits(model.hidden(batch))
    cache = KVCache.empty(model.config.backbone, B, 2, batch.tokens.device, torch.float32)
    x = model.embed(batch.tokens, batch.is_frame, batch.semantic, batch.acoustic)
    parts = [model.backbone(x[:, :5], cache)] + [model.backbone(x[:, i : i + 1], cache) for i in range(5, L)]
    assert torch.allclose(model.semantic_logits(torch.cat(parts, 1)), full, atol=1e-5)


def test_the_text_ctc_head_exists_only_when_on_and_changes_nothing_else() -> None:
    torch.manual_seed(0)
    plain = TTSModel(tiny_tts_config())
    torch.manual_seed(0)
    with_head = TTSModel(tiny_tts_config(text_ctc=True))
    assert plain.text_ctc_head is None and not any("ctc" in k for k in plain.state_dict())
    a, b = plain.state_dict(), with_head.state_dict()
    assert set(b) - set(a) == {"text_ctc_head.weight", "text_ctc_head.bias"}
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same seed: every other weight is the same
    # the other parameters keep their order (an optimizer state saved without the head still fits)
    assert [n for n, _ in with_head.named_parameters()][: len(a)] == [n for n, _ in plain.named_parameters()]
    head = with_head.text_ctc_head
    assert head is not None and head.weight.shape == (64 + 1, 32)  # text vocabulary + blank (index 64)
    assert with_head.text_ctc_blank == 64
