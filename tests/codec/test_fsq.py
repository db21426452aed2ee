"""FSQ: grid exactness, code round trips, the straight-through gradient, odd and even level counts."""

from __future__ import annotations

import math

import pytest
import torch

from codec.quantizers import FSQ, FSQConfig


@pytest.fixture(params=[21, 8, 5, 2], ids=lambda n: f"L{n}")
def fsq(request: pytest.FixtureRequest) -> FSQ:
    return FSQ(FSQConfig(dim=6, levels=request.param))


def grid(levels: int) -> torch.Tensor:
    return torch.linspace(-1.0, 1.0, levels)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        FSQConfig(levels=1)
    with pytest.raises(ValueError):
        FSQConfig(dim=0)


def test_shapes_dtypes_and_exact_grid(fsq: FSQ) -> None:
    torch.manual_seed(0)
    x = 3 * torch.randn(2, 7, 6)  # [B, T, D], wide enough to hit both end levels
    r = fsq(x)
    levels = fsq.config.levels
    assert r.values.shape == r.codes.shape == (2, 7, 6)
    assert r.values.dtype == torch.float32 and r.codes.dtype == torch.long
    assert 0 <= r.codes.min() and r.codes.max() < levels
    assert torch.equal(r.values, fsq.codes_to_values(r.codes))  # bit-exact, the STE adds exactly 0
    assert torch.allclose(r.values, grid(levels)[r.codes], atol=1e-6)  # uniform levels spanning [-1, 1]
    assert r.codes.min() == 0 and r.codes.max() == levels - 1


def test_every_level_is_reachable(fsq: FSQ) -> None:
    x = torch.linspace(-6, 6, 4001)[None, :, None].expand(1, 4001, 6)
    assert set(fsq(x).codes.unique().tolist()) == set(range(fsq.config.levels))


def test_nearest_level_of_the_squash(fsq: FSQ) -> None:
    torch.manual_seed(1)
    x = torch.randn(3, 5, 6)
    g = grid(fsq.config.levels)  # [L]
    expected = (torch.tanh(x)[..., None] - g).abs().argmin(-1)  # nearest level in value space
    assert torch.equal(fsq(x).codes, expected)


def test_odd_levels_have_zero_even_levels_do_not() -> None:
    zero = torch.zeros(1, 1, 4)
    odd = FSQ(FSQConfig(dim=4, levels=21))
    assert torch.equal(odd(zero).values, zero) and odd(zero).codes.unique().item() == 10
    even = FSQ(FSQConfig(dim=4, levels=8))
    middle = even.codes_to_values(torch.tensor([3, 4]))
    assert torch.allclose(middle, torch.tensor([-1 / 7, 1 / 7]))  # symmetric around 0, 0 not a level


def test_codes_values_round_trip(fsq: FSQ) -> None:
    codes = torch.arange(fsq.config.levels).repeat(6, 1).T[None]  # [1, L, 6], every code
    assert torch.equal(fsq.values_to_codes(fsq.codes_to_values(codes)), codes)
    torch.manual_seed(2)
    r = fsq(torch.randn(2, 9, 6))
    assert torch.equal(fsq.values_to_codes(r.values), r.codes)


def test_ste_gradient_is_the_squash_derivative(fsq: FSQ) -> None:
    torch.manual_seed(3)
    x = torch.randn(2, 4, 6, requires_grad=True)
    fsq(x).values.sum().backward()
    expected = 1 - torch.tanh(x.detach()) ** 2  # d tanh / dx
    assert x.grad is not None and (x.grad.abs() > 0).all()
    assert torch.allclose(x.grad, expected, atol=1e-6)


def test_snap_is_idempotent_and_nearest(fsq: FSQ) -> None:
    torch.manual_seed(4)
    v = 1.2 * (2 * torch.rand(2, 5, 6) - 1)  # some outside [-1, 1]
    s = fsq.snap(v)
    assert torch.equal(fsq.snap(s), s)
    g = grid(fsq.config.levels)
    nearest = g[(v[..., None] - g).abs().argmin(-1)]
    assert torch.allclose(s, nearest, atol=1e-6)
    assert torch.equal(s, fsq.codes_to_values(fsq.values_to_codes(s)))


def test_bits_per_frame_and_dim_check() -> None:
    fsq = FSQ()
    assert fsq.bits_per_frame == pytest.approx(36 * math.log2(21))
    with pytest.raises(ValueError):
        fsq(torch.zeros(1, 2, 35))


def test_bf16_input_keeps_dtype() -> None:
    fsq = FSQ(FSQConfig(dim=4, levels=21))
    r = fsq(torch.randn(1, 3, 4).to(torch.bfloat16))
    assert r.values.dtype == torch.bfloat16 and r.codes.dtype == torch.long
