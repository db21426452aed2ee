"""Finite Scalar Quantization (FSQ) for the acoustic half of a codec frame.

FSQ (Mentzer et al. 2023, "Finite Scalar Quantization: VQ-VAE Made Simple") replaces a learned codebook by
a fixed grid: each of the D latent dimensions is squashed into a bounded interval and rounded to one of L
uniform levels, so the implicit codebook has L**D entries and nothing can collapse or go unused. Voxtral
uses D = 36, L = 21 (../../shared/research/voxtral-spec.md §1.3): 36·log2(21) ≈ 158.1 bits per frame.

Values live in [-1, 1] on the grid ``-1 + 2k / (L - 1)`` for ``k = 0 .. L-1`` (the integer code ``k``).
The TTS flow head predicts acoustic vectors in this same space and ``snap`` puts them on the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class FSQConfig:
    dim: int = 36  # D: acoustic dimensions per frame
    levels: int = 21  # L: uniform levels per dimension in [-1, 1] (odd or even, >= 2)

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise ValueError(f"FSQ dim must be >= 1, got {self.dim}")
        if self.levels < 2:
            raise ValueError(f"FSQ levels must be >= 2, got {self.levels}")


@dataclass
class QuantizedResult:
    """What ``FSQ.forward`` returns."""

    values: torch.Tensor  # [B, T, D] float, exactly on the grid in [-1, 1]; gradient via the squash (STE)
    codes: torch.Tensor  # [B, T, D] long in [0, levels)


class FSQ(nn.Module):
    """Finite scalar quantizer: ``[B, T, D]`` latents -> grid values in [-1, 1] and integer codes.

    No parameters and no auxiliary loss: the grid is fixed, the encoder learns to use it.
    """

    def __init__(self, config: FSQConfig | None = None) -> None:
        super().__init__()
        self.config = config or FSQConfig()
        # Half-width of the grid in code units: codes span [0, L-1], i.e. centre ± (L-1)/2.
        self.half_width = (self.config.levels - 1) / 2

    @property
    def bits_per_frame(self) -> float:
        """Information per frame: D dimensions × log2(L) bits each."""
        return self.config.dim * math.log2(self.config.levels)

    def squash(self, x: torch.Tensor) -> torch.Tensor:
        """Bounded, differentiable map of raw latents into code units, the open interval (0, L-1).

        Math: ``s = h · (tanh(x) + 1)`` with half-width ``h = (L - 1) / 2``. tanh is in (-1, 1), so s is in
        (0, L-1) and ``round(s)`` takes every integer 0 .. L-1: code 0 needs s < 1/2 and code L-1 needs
        s > L - 3/2, both inside the open interval. Working in code units (origin at the lowest level) makes
        odd and even L the same case: the grid is the integers 0 .. L-1 either way. Centred, it is the
        integers -h .. h for odd L (0 is a level) and the half-integers -h .. h for even L (0 is not a level,
        the two middle levels are ±1/(L-1) in value space). The centred FSQ of the paper needs an explicit
        0.5 offset and an atanh shift for even L to get the same grid; here no branch is needed.
        """
        return self.half_width * (torch.tanh(x) + 1.0)

    def forward(self, x: torch.Tensor) -> QuantizedResult:
        """Quantizes latents ``x`` ``[B, T, D]`` (any float dtype) to the grid."""
        if x.shape[-1] != self.config.dim:
            raise ValueError(f"FSQ expects last dim {self.config.dim}, got shape {tuple(x.shape)}")
        soft = torch.tanh(x.float())  # [B, T, D] in (-1, 1): the squash in value space
        codes = torch.round(self.squash(x.float())).long()  # [B, T, D] in [0, L)
        hard = self.codes_to_values(codes)  # [B, T, D] exactly on the grid
        # Straight-through estimator (STE): rounding has zero gradient almost everywhere, so the forward
        # pass uses the rounded value and the backward pass pretends rounding was the identity.
        # `soft - soft.detach()` is exactly 0 in the forward pass (so `values` is bit-exact on the grid) and
        # has the gradient of the squash in the backward pass: d values / dx = d tanh(x) / dx = 1 - tanh²(x).
        values = hard + (soft - soft.detach())  # [B, T, D]
        return QuantizedResult(values=values.to(x.dtype), codes=codes)

    def codes_to_values(self, codes: torch.Tensor) -> torch.Tensor:
        """Integer codes in [0, L) -> float32 grid values ``code / h - 1`` in [-1, 1] (same shape)."""
        return codes.to(torch.float32) / self.half_width - 1.0

    def values_to_codes(self, values: torch.Tensor) -> torch.Tensor:
        """Values in [-1, 1] -> integer codes of the nearest grid point (long, same shape).

        Values outside [-1, 1] map to the nearest end level.
        """
        codes = torch.round((values.float() + 1.0) * self.half_width)
        return codes.clamp(0, self.config.levels - 1).long()

    def snap(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest grid point of values already in value space (no squash), e.g. the flow head's output.

        Idempotent: ``snap(snap(x)) == snap(x)``. Keeps ``x``'s dtype; no gradient (a decision, not a loss).
        """
        return self.codes_to_values(self.values_to_codes(x.detach())).to(x.dtype)
