"""Building blocks shared by the codec's encoder, decoder and phoneme head.

Every time-axis operation here is causal (it reads the current and past steps only), so a stream can be
processed piece by piece: a causal conv's streaming state is simply the last ``kernel - 1`` input columns,
and starting from zeros is the same as the zero left-padding of a one-shot call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from vocos.modules import ConvNeXtBlock

from flowtts.model.backbone import RMSNorm

SMALL_T = 32  # pieces up to this many steps take the einsum path of the depthwise conv (inference only)


def causal_pad(x: torch.Tensor, past: torch.Tensor | None, width: int) -> torch.Tensor:
    """``x`` ``[B, C, T]`` with ``width`` columns of history on the left: ``past`` or zeros (stream start)."""
    if width == 0:
        return x
    if past is None:
        return F.pad(x, (width, 0))
    return torch.cat([past, x], dim=-1)


class CausalConvNeXtBlock(ConvNeXtBlock):
    """The Vocos ConvNeXt block (``vocos.modules.ConvNeXtBlock``) with a past-only depthwise conv.

    Vocos pads its depthwise conv by 3 on both sides, so each output reads 3 future steps; here the kernel
    reads ``kernel_size - 1`` past steps and the current one. Everything after the depthwise conv (LayerNorm,
    pointwise MLP, layer scale, residual) is per step, so the block streams exactly.
    """

    def __init__(
        self, dim: int, intermediate_dim: int, kernel_size: int = 7, layer_scale: float | None = None
    ):
        super().__init__(dim, intermediate_dim, layer_scale_init_value=layer_scale or 1.0 / 8)
        self.kernel_size = kernel_size
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=kernel_size, padding=0, groups=dim)

    @property
    def history(self) -> int:
        """Past input steps this block needs: its streaming state width."""
        return self.kernel_size - 1

    def forward(self, x: torch.Tensor, past: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """``x`` ``[B, C, T]`` -> ``[B, C, T]``; ``past`` ``[B, C, kernel-1]`` is the input before ``x``."""
        return self.forward_padded(x, causal_pad(x, past, self.history))

    def forward_padded(self, x: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """``forward`` with the history in place: ``padded`` ``[B, C, history + T]`` ends with ``x``."""
        residual = x
        if x.shape[-1] <= SMALL_T and not torch.is_grad_enabled():
            # Streaming pieces are a few steps long, where the conv kernel's fixed cost dominates; the same
            # depthwise conv as a weighted sum over sliding windows is several times faster there.
            windows = padded.unfold(-1, self.kernel_size, 1)  # [B, C, T, k]
            h = (windows * self.dwconv.weight[:, None, 0]).sum(-1) + self.dwconv.bias[:, None]
        else:
            h = self.dwconv(padded)  # [B, C, T]
        h = self.norm(h.transpose(1, 2))  # [B, T, C]
        h = self.pwconv2(self.act(self.pwconv1(h)))
        if self.gamma is not None:
            h = self.gamma * h
        return residual + h.transpose(1, 2)


class CausalConv1d(nn.Module):
    """Conv1d that sees the current and past steps; with stride s, output i reads inputs up to s·i + s - 1.

    Left padding is ``kernel - stride`` (zeros), so output i covers inputs ``s·i + s - kernel .. s·i + s - 1``
    and a stride-2 stage turns steps (2i, 2i+1) into one step i without reading ahead.
    """

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, stride: int = 1):
        super().__init__()
        if kernel_size < stride:
            raise ValueError("kernel_size must be >= stride")
        self.stride = stride
        self.pad = kernel_size - stride
        self.conv = nn.Conv1d(in_dim, out_dim, kernel_size, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, C_in, T]`` with T a multiple of the stride -> ``[B, C_out, T / stride]``."""
        if x.shape[-1] % self.stride:
            raise ValueError(f"length {x.shape[-1]} is not a multiple of stride {self.stride}")
        return self.conv(F.pad(x, (self.pad, 0)))


def alibi_window_bias(length: int, heads: int, window: int, device: torch.device) -> torch.Tensor:
    """Additive attention bias ``[H, T, T]``: ``-slope_h · (i - j)`` for ``i - window <= j <= i``, else -inf.

    Causal sliding window with ALiBi distance penalties (voxtral-spec.md §1.2): each query sees ``window``
    past steps plus itself. Slopes are ``2^(-8h/H)`` for h = 0 .. H-1 (Voxtral's; 1 .. 1/128 for 8 heads).
    No position embedding is needed and the result only depends on relative positions, so encoding a
    prefix gives the same steps as encoding the whole signal.
    """
    pos = torch.arange(length, device=device)
    dist = pos[:, None] - pos[None, :]  # [T, T], i - j
    slopes = torch.tensor([2.0 ** (-8.0 * h / heads) for h in range(heads)], device=device)  # [H]
    bias = -slopes[:, None, None] * dist[None].float()  # [H, T, T]
    allowed = (dist >= 0) & (dist <= window)
    return bias.masked_fill(~allowed[None], float("-inf"))


class WindowedAttentionLayer(nn.Module):
    """Pre-norm transformer layer: causal sliding-window attention with ALiBi, then a SwiGLU MLP.

    LayerScale (per-channel, initialised small) on both branches, as in Voxtral's codec, lets a deep stack
    start close to the identity.
    """

    def __init__(self, dim: int, heads: int, window: int, mlp_ratio: float = 8 / 3, layer_scale: float = 0.1):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads, self.window = heads, window
        self.attn_norm = RMSNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        hidden = int(math.ceil(dim * mlp_ratio / 64) * 64)
        self.mlp_norm = RMSNorm(dim)
        self.w_gate = nn.Linear(dim, hidden, bias=False)
        self.w_up = nn.Linear(dim, hidden, bias=False)
        self.w_down = nn.Linear(hidden, dim, bias=False)
        self.attn_scale = nn.Parameter(torch.full((dim,), layer_scale))
        self.mlp_scale = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, T, C]`` -> ``[B, T, C]``."""
        b, t, c = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.heads, c // self.heads).unbind(2)
        bias = alibi_window_bias(t, self.heads, self.window, x.device).to(x.dtype)  # [H, T, T]
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), bias)
        x = x + self.attn_scale * self.out(a.transpose(1, 2).reshape(b, t, c))  # a: [B, H, T, C/H]
        h = self.mlp_norm(x)
        return x + self.mlp_scale * self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))
