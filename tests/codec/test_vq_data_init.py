"""VQ ``data_init``: the first training batch (its real frames only) seeds the codebook, exactly once."""

from __future__ import annotations

import copy

import pytest
import torch

from codec.quantizers import VectorQuantizer, VQConfig
from tests.codec.helpers import tiny_codec


def _vq(**kw: object) -> VectorQuantizer:
    torch.manual_seed(0)
    return VectorQuantizer(VQConfig(**{"codebook_size": 32, "dim": 8, "data_init": True, **kw}))  # type: ignore[arg-type]


@pytest.mark.parametrize("cosine", [True, False])
def test_first_training_batch_seeds_the_codebook_from_real_frames(cosine: bool) -> None:
    vq = _vq(cosine=cosine, dead_code_threshold=0).train()
    assert "initialized" in vq.state_dict() and not bool(vq.initialized)
    torch.manual_seed(1)
    x = torch.randn(2, 5, 8) + 3.0  # far from the random unit-norm start
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    garbage = x.clone()
    garbage[~mask] = -1000.0  # padding must never become a codeword
    vq(garbage, mask)
    assert bool(vq.initialized)
    real = x[mask]  # [8, C]
    real = torch.nn.functional.normalize(real, dim=-1) if cosine else real
    # every codeword is a real frame plus a little noise (then one EMA step toward its cluster)
    nearest = (vq.codebook[:, None] - real[None]).norm(dim=-1).min(-1).values  # [K]
    assert float(nearest.max()) < 0.5 * float(real.norm(dim=-1).min())
    assert (vq.codebook > -100).all()


def test_data_init_happens_once_and_never_in_eval() -> None:
    vq = _vq().eval()
    vq(torch.randn(1, 4, 8))
    assert not bool(vq.initialized)  # eval: the codebook is left alone
    vq.train()
    vq(torch.randn(1, 4, 8), torch.zeros(1, 4, dtype=torch.bool))
    assert not bool(vq.initialized)  # no real frame: nothing to seed from
    vq(torch.randn(1, 4, 8))
    assert bool(vq.initialized)
    seeded = vq.codebook.clone()
    state = copy.deepcopy(vq.state_dict())
    vq(torch.randn(1, 4, 8) + 10)
    # a second batch takes an EMA step only: most codewords stay where the seeding put them
    moved = (vq.codebook - seeded).norm(dim=-1) > 1e-5
    assert moved.sum() <= 4
    # the flag travels with the state (a resumed run does not re-seed)
    fresh = _vq().train()
    fresh.load_state_dict(state)
    assert bool(fresh.initialized)


def test_codec_encode_never_seeds() -> None:
    c = tiny_codec(vq=VQConfig(codebook_size=16, dim=8, data_init=True)).train()
    c.encode(torch.randn(1, 4000) * 0.1)
    assert not bool(c.vq.initialized)
    c(torch.randn(1, 3840) * 0.1)
    assert bool(c.vq.initialized)
