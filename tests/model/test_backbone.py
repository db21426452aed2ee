import pytest
import torch

from flowtts.model.backbone import Backbone, KVCache, apply_rope, rope_tables
from tests.model.helpers import tiny_tts_config


@pytest.fixture
def backbone() -> Backbone:
    torch.manual_seed(0)
    return Backbone(tiny_tts_config().backbone).eval()


def test_rope_preserves_norm_and_relative_positions() -> None:
    cos, sin = rope_tables(8, 64, 10_000.0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def rot(x, p):
        return apply_rope(x, cos[p][None, None, None], sin[p][None, None, None])

    assert torch.allclose(rot(q, 5).norm(), q.norm(), atol=1e-5)
    # the score depends only on the distance
    s1 = (rot(q, 7) * rot(k, 3)).sum()
    s2 = (rot(q, 20) * rot(k, 16)).sum()
    assert torch.allclose(s1, s2, atol=1e-5)


def test_causal(backbone: Backbone) -> None:
    x = torch.randn(2, 12, 32)
    y = backbone(x)
    x2 = x.clone()
    x2[:, 7:] += torch.randn(2, 5, 32)
    y2 = backbone(x2)
    assert torch.allclose(y[:, :7], y2[:, :7], atol=1e-5)
    assert not torch.allclose(y[:, 7:], y2[:, 7:], atol=1e-3)


def test_kv_cache_decode_equals_full_forward(backbone: Backbone) -> None:
    x = torch.randn(1, 15, 32)
    full = backbone(x)
    cache = KVCache.empty(backbone.config, 1, 4, x.device, x.dtype)  # small capacity: must grow
    parts = [backbone(x[:, :6], cache)]  # prefill
    for i in range(6, 15):
        parts.append(backbone(x[:, i : i + 1], cache))  # one position at a time
    assert cache.lengths.tolist() == [15]
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


def test_ragged_rows_in_one_batch_match_separate_runs(backbone: Backbone) -> None:
    a, b = torch.randn(1, 9, 32), torch.randn(1, 4, 32)
    ca = KVCache.empty(backbone.config, 1, 16, a.device, a.dtype)
    cb = KVCache.empty(backbone.config, 1, 16, a.device, a.dtype)
    backbone(a, ca)
    backbone(b, cb)
    batch = KVCache.stack([ca.clone(), cb.clone()])
    step = torch.randn(2, 1, 32)
    out = backbone(step, batch)
    ref_a = backbone(torch.cat([a, step[:1]], 1))[:, -1]
    ref_b = backbone(torch.cat([b, step[1:]], 1))[:, -1]
    assert torch.allclose(out[0, 0], ref_a[0], atol=1e-5)
    assert torch.allclose(out[1, 0], ref_b[0], atol=1e-5)
    assert batch.lengths.tolist() == [10, 5]
    kept = batch.select([1])
    assert kept.lengths.tolist() == [5]


def test_too_long_is_a_clear_error(backbone: Backbone) -> None:
    with pytest.raises(ValueError, match="max_positions"):
        backbone(torch.randn(1, 300, 32))
