"""The velocity network of the flow-matching head: it only predicts a velocity (``flow.py`` owns the loss
and the sampler).

Input: the noisy acoustic vector x_t ``[B, D]``, the time t ``[B]``, the backbone state h ``[B, dim]`` and
the frame's semantic id ``[B]``. Each becomes one token of width ``flow.dim``; a small bidirectional
transformer (no mask, no positions: the order of four tokens carries nothing) mixes them, and the x_t
token's output is projected to the velocity ``[B, D]`` (Voxtral's design, voxtral-spec.md §3.1, plus the
semantic-id token). For classifier-free guidance the unconditional branch gets h = 0 and the
projection of h has no bias, so that token is exactly zero.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from flowtts.model.backbone import RMSNorm, SwiGLU
from flowtts.model.config import TTSConfig


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1]: ``[B]`` -> ``[B, dim]`` as [cos, sin] (Voxtral's layout)."""
    half = dim // 2
    inv_freq = torch.exp(
        -math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    )
    angles = t.float()[:, None] * inv_freq[None]  # [B, half]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class _Layer(nn.Module):
    def __init__(self, dim: int, heads: int, ffn_dim: int):
        super().__init__()
        self.heads = heads
        self.attn_norm = RMSNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.ffn_norm = RMSNorm(dim)
        self.ffn = SwiGLU(dim, ffn_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape  # [B, 4, dim]
        q, k, v = self.qkv(self.attn_norm(x)).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = x + self.out(a.transpose(1, 2).reshape(b, n, d))
        return x + self.ffn(self.ffn_norm(x))


class VelocityNet(nn.Module):
    def __init__(self, config: TTSConfig, semantic_table: nn.Embedding):
        """``semantic_table``: the backbone's semantic-id embedding ``[K + 1, backbone.dim]``, shared
        (kept in a list, so it is not registered twice and the state_dict holds it once)."""
        super().__init__()
        f = config.flow
        self._table = [semantic_table]
        self.dim = f.dim
        self.x_proj = nn.Linear(config.acoustic_dim, f.dim, bias=False)
        self.time_proj = nn.Linear(f.dim, f.dim, bias=False)
        self.h_proj = nn.Linear(config.backbone.dim, f.dim, bias=False)  # no bias: h = 0 gives a zero token
        self.semantic_proj = nn.Linear(config.backbone.dim, f.dim, bias=False)  # of the shared table
        self.layers = nn.ModuleList(_Layer(f.dim, f.heads, f.ffn_dim) for _ in range(f.layers))
        self.norm = RMSNorm(f.dim)
        self.velocity = nn.Linear(f.dim, config.acoustic_dim, bias=False)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, h: torch.Tensor, semantic: torch.Tensor
    ) -> torch.Tensor:
        """Velocity ``[B, D]`` at noisy latents ``x`` ``[B, D]``, times ``t`` ``[B]``, backbone states
        ``h`` ``[B, dim]`` (zeros = unconditional) and semantic ids ``[B]``."""
        tokens = torch.stack(
            [
                self.x_proj(x),
                self.time_proj(time_embedding(t, self.dim).to(x.dtype)),
                self.h_proj(h),
                self.semantic_proj(self._table[0](semantic)),
            ],
            dim=1,
        )  # [B, 4, flow.dim]
        for layer in self.layers:
            tokens = layer(tokens)
        return self.velocity(self.norm(tokens[:, 0]))
