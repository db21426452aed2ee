"""Vector quantizer: lookup, straight-through gradient, EMA training, dead-code revival, masks, DDP path."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from codec.quantizers import VectorQuantizer, VQConfig


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread is ~10x faster than two on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small(**kw: object) -> VectorQuantizer:
    torch.manual_seed(0)
    return VectorQuantizer(VQConfig(**{"codebook_size": 64, "dim": 16, **kw}))  # type: ignore[arg-type]


def test_config_validation() -> None:
    assert VQConfig().codebook_size == 8192 and VQConfig().bits_per_frame == 13
    for bad in (
        {"codebook_size": 8193},
        {"codebook_size": 1},
        {"ema_decay": 1.0},
        {"dead_code_threshold": -1},
    ):
        with pytest.raises(ValueError):
            VQConfig(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("cosine", [True, False])
def test_shapes_and_lookup_consistency(cosine: bool) -> None:
    vq = small(cosine=cosine).eval()
    x = torch.randn(3, 7, 16)  # [B, T, C]
    r = vq(x)
    assert r.quantized.shape == (3, 7, 16) and r.quantized.dtype == torch.float32
    assert r.indices.shape == (3, 7) and r.indices.dtype == torch.long
    assert r.commitment_loss.shape == () and r.perplexity.shape == ()
    assert torch.allclose(r.quantized, vq.embed(r.indices), atol=1e-6)
    # the index is the true nearest codeword (brute force)
    z = torch.nn.functional.normalize(x, dim=-1) if cosine else x
    brute = torch.cdist(z.reshape(-1, 16), vq.codebook).argmin(-1).reshape(3, 7)
    assert torch.equal(r.indices, brute)
    # a codeword quantizes to itself
    assert torch.equal(vq(vq.codebook[None]).indices[0], torch.arange(64))


@pytest.mark.parametrize("cosine", [True, False])
def test_straight_through_gradient(cosine: bool) -> None:
    vq = small(cosine=cosine)
    x = torch.randn(2, 5, 16, requires_grad=True)
    w = torch.randn(2, 5, 16)
    (vq(x).quantized * w).sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    z = torch.nn.functional.normalize(x2, dim=-1) if cosine else x2
    (z * w).sum().backward()  # STE: the gradient is that of the (normalised) input itself
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.allclose(x.grad, x2.grad, atol=1e-6)


def test_commitment_loss_has_gradient_to_input() -> None:
    vq = small()
    x = torch.randn(2, 5, 16, requires_grad=True)
    vq(x).commitment_loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(not b.requires_grad for b in vq.buffers())  # EMA codebook: no gradient


def gaussian_mixture_batches(steps: int, clusters: int = 64, dim: int = 16) -> Iterator[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    centers = torch.randn(clusters, dim, generator=g)
    for _ in range(steps):
        idx = torch.randint(0, clusters, (8, 32), generator=g)
        yield centers[idx] + 0.05 * torch.randn(8, 32, dim, generator=g)  # [8, 32, C]


def train_toy(dead_code_threshold: int, cosine: bool = True, steps: int = 250) -> tuple[float, float, float]:
    """EMA-trains a 64-code VQ on 64 Gaussian clusters; returns (first loss, final loss, fraction used)."""
    vq = small(dead_code_threshold=dead_code_threshold, ema_decay=0.9, cosine=cosine).train()
    losses = []
    for step, x in enumerate(gaussian_mixture_batches(steps)):
        if step == steps - 50:
            vq.reset_usage()  # measure usage over the last 50 steps
        losses.append(vq(x).commitment_loss.item())
    return losses[0], sum(losses[-20:]) / 20, vq.usage().fraction_used


@pytest.mark.parametrize("cosine", [True, False])
def test_training_lowers_loss_and_revival_uses_more_codes(cosine: bool) -> None:
    first, final, used = train_toy(dead_code_threshold=10, cosine=cosine)
    _, final_dead, used_dead = train_toy(dead_code_threshold=0, cosine=cosine)
    assert final < 0.5 * first  # EMA k-means pulls codewords onto the clusters
    assert used >= 0.9  # revival: (nearly) every code finds a cluster
    assert used_dead <= 0.75  # without it a good share of random codes is never picked
    assert final < final_dead  # and the quantization is better for it


def test_eval_mode_does_not_update_the_codebook() -> None:
    vq = small().eval()
    before = copy.deepcopy(vq.state_dict())
    vq(torch.randn(2, 9, 16))
    assert all(torch.equal(before[k], v) for k, v in vq.state_dict().items())
    assert vq.usage().frames == 18  # usage statistics still count in eval


def masked_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, garbage, mask): garbage equals x on real frames and is far-off noise on padding frames."""
    torch.manual_seed(5)
    x = torch.randn(2, 6, 16)  # [B, T, C]
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.bool)  # [B, T]
    garbage = x.clone()
    garbage[~mask] = 100 * torch.randn(int((~mask).sum()), 16)
    return x, garbage, mask


@pytest.mark.parametrize("cosine", [True, False])
def test_masked_frames_are_ignored(cosine: bool) -> None:
    x, garbage, mask = masked_batch()
    masked = small(dead_code_threshold=0, cosine=cosine).train()
    plain = copy.deepcopy(masked)
    r = masked(garbage, mask)
    ref = plain(x[mask][None])  # [1, 6, C]: only the real frames
    assert torch.allclose(r.commitment_loss, ref.commitment_loss)
    assert torch.allclose(r.perplexity, ref.perplexity)
    assert torch.equal(r.indices[mask], ref.indices[0])
    for name, buf in masked.state_dict().items():
        assert torch.allclose(buf.float(), plain.state_dict()[name].float()), name
    assert masked.usage().frames == 6
    assert torch.equal(masked.usage_counts, plain.usage_counts)


def test_revival_draws_from_real_frames_only() -> None:
    x, garbage, mask = masked_batch()
    vq = small(dead_code_threshold=1, cosine=False).train()
    r = vq(garbage, mask)
    revived = torch.ones(64, dtype=torch.bool)
    revived[r.indices[mask]] = False  # every code no real frame picked is dead after one update
    assert revived.sum() >= 50  # 64 codes, at most 6 used by the 6 real frames
    # revived codes are real frames plus noise of a tenth of the real frames' spread (std ~1 per dim here)
    dist_to_real = torch.cdist(vq.codebook[revived], x[mask]).min(-1).values
    assert dist_to_real.max() < 0.3 * 16**0.5  # noise 0.1·std over 16 dims: ~0.4 expected, never ~100
    dist_to_garbage = torch.cdist(vq.codebook[revived], garbage[~mask]).min(-1).values
    assert (dist_to_real < dist_to_garbage).all()


def test_all_masked_batch_is_harmless() -> None:
    vq = small().train()
    r = vq(torch.randn(1, 4, 16), torch.zeros(1, 4, dtype=torch.bool))
    assert r.commitment_loss.item() == 0 and r.perplexity.item() == 0
    assert vq.usage().frames == 0 and math.isfinite(vq.codebook.sum().item())


def test_usage_statistics() -> None:
    vq = small().eval()
    vq(vq.codebook[:8][None])  # 8 distinct codes, once each
    u = vq.usage()
    assert u.fraction_used == pytest.approx(8 / 64)
    assert u.perplexity == pytest.approx(8.0, rel=1e-4)
    vq.reset_usage()
    assert vq.usage().frames == 0 and vq.usage().fraction_used == 0


def test_state_dict_keeps_ema_stats_not_usage() -> None:
    keys = set(small().state_dict())
    assert keys == {"embedding_sum", "cluster_usage", "unused_updates"}


def test_single_process_distributed_matches_local(tmp_path: Path) -> None:
    """The all-reduce/broadcast path runs (gloo, world size 1) and gives the local result."""
    local = small(dead_code_threshold=1).train()
    ddp = copy.deepcopy(local)
    x = torch.randn(2, 8, 16)
    torch.manual_seed(7)
    local(x)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        torch.manual_seed(7)
        ddp(x)
    finally:
        dist.destroy_process_group()
    for name, buf in local.state_dict().items():
        assert torch.allclose(buf.float(), ddp.state_dict()[name].float()), name
