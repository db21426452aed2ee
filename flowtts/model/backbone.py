"""Decoder-only transformer backbone: RMSNorm, RoPE, SwiGLU, grouped-query attention, KV cache.

One ``forward`` serves training (full causal sequence), prefill (a prompt appended to a cache) and
decoding (one new position per row). The cache is preallocated per row with a ``lengths`` vector, so
rows of different lengths (independent streams batched together) each append at their own position:
the decode step of a batch is one matmul per layer whatever the mix of streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from flowtts.model.config import BackboneConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


def rope_tables(head_dim: int, max_positions: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin ``[max_positions, head_dim / 2]`` for rotary embeddings of adjacent pairs (0,1), (2,3), …"""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(max_positions, dtype=torch.float64)[:, None] * inv_freq[None]  # [P, hd/2]
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates ``x`` ``[B, H, T, hd]`` by per-position angles ``cos``/``sin`` ``[B, 1, T, hd/2]``."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)  # [B, H, T, hd/2] each
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)
    return out.to(x.dtype)


CAPACITY_STEP = 256  # a cache grows to multiples of this: few distinct shapes (flowtts.generation.traced)


def round_capacity(positions: int) -> int:
    """``positions`` rounded up to a multiple of ``CAPACITY_STEP``."""
    return -(-positions // CAPACITY_STEP) * CAPACITY_STEP


@dataclass
class KVCache:
    """Keys and values of every layer for a batch of rows, preallocated to ``capacity`` positions.

    Row b holds ``lengths[b]`` valid positions; positions past that are garbage and masked.
    """

    k: list[torch.Tensor]  # per layer [B, kv_heads, capacity, head_dim]
    v: list[torch.Tensor]
    lengths: torch.Tensor  # [B] long

    @classmethod
    def empty(cls, config: BackboneConfig, batch: int, capacity: int, device, dtype) -> KVCache:
        shape = (batch, config.kv_heads, capacity, config.head_dim)
        return cls(
            k=[torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.layers)],
            v=[torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.layers)],
            lengths=torch.zeros(batch, dtype=torch.long, device=device),
        )

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    @property
    def batch_size(self) -> int:
        return self.k[0].shape[0]

    def ensure_capacity(self, needed: int) -> None:
        """Grows every layer's buffers (doubling, to a multiple of ``CAPACITY_STEP``) so that ``needed``
        positions fit."""
        if needed <= self.capacity:
            return
        new = round_capacity(max(needed, 2 * self.capacity))
        pad = new - self.capacity
        self.k = [F.pad(t, (0, 0, 0, pad)) for t in self.k]
        self.v = [F.pad(t, (0, 0, 0, pad)) for t in self.v]

    def clone(self) -> KVCache:
        return KVCache([t.clone() for t in self.k], [t.clone() for t in self.v], self.lengths.clone())

    @classmethod
    def stack(cls, caches: list[KVCache]) -> KVCache:
        """Concatenates single- or multi-row caches along the batch (buffers padded to the largest)."""
        cap = max(c.capacity for c in caches)
        for c in caches:
            c.ensure_capacity(cap)
        layers = len(caches[0].k)
        return cls(
            k=[torch.cat([c.k[i][:, :, :cap] for c in caches]) for i in range(layers)],
            v=[torch.cat([c.v[i][:, :, :cap] for c in caches]) for i in range(layers)],
            lengths=torch.cat([c.lengths for c in caches]),
        )

    def select(self, rows: torch.Tensor | list[int]) -> KVCache:
        """The cache of some rows (e.g. the streams still running)."""
        idx = torch.as_tensor(rows, dtype=torch.long, device=self.lengths.device)
        return KVCache([t[idx] for t in self.k], [t[idx] for t in self.v], self.lengths[idx])


@dataclass
class AttentionProbe:
    """Asks a training forward (no cache) for the attention probabilities of some heads, e.g. for
    ``flowtts.model.guided_attention``: the first ``heads`` query heads of each layer in ``layers``.

    The forward fills ``probs`` (layer → ``[B, heads, T, T]``, float32, causal) with tensors that keep their
    graph, so a loss on them trains those heads' queries and keys. The attention output itself is unchanged.
    """

    layers: tuple[int, ...]
    heads: int
    probs: dict[int, torch.Tensor] = field(default_factory=dict)


class Attention(nn.Module):
    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = config.heads, config.kv_heads, config.head_dim
        if config.heads % config.kv_heads:
            raise ValueError("heads must be a multiple of kv_heads")
        self.wq = nn.Linear(config.dim, config.heads * config.head_dim, bias=False)
        self.wk = nn.Linear(config.dim, config.kv_heads * config.head_dim, bias=False)
        self.wv = nn.Linear(config.dim, config.kv_heads * config.head_dim, bias=False)
        self.wo = nn.Linear(config.heads * config.head_dim, config.dim, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        cache: KVCache | None,
        layer: int,
        write_at: torch.Tensor | None,
        probe: AttentionProbe | None = None,
    ) -> torch.Tensor:
        """``x`` ``[B, T, dim]``. Without a cache: causal self-attention over T (``mask`` None). With a
        cache: the T new keys/values are written at positions ``write_at`` ``[B, T]`` and the queries
        attend over the whole buffer under ``mask`` ``[B, 1, T, capacity]``. A ``probe`` (no cache) that
        names this layer gets its probed heads' probabilities."""
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)  # [B, H, T, hd]
        k = self.wk(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)  # [B, KV, T, hd]
        v = self.wv(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            if probe is not None and layer in probe.layers:
                probe.probs[layer] = self._probs(q[:, : probe.heads], k)
        else:
            rows = torch.arange(b, device=x.device)[:, None].expand(b, t)  # [B, T]
            ck, cv = cache.k[layer], cache.v[layer]
            ck[rows, :, write_at] = k.transpose(1, 2).to(ck.dtype)  # [B, T, KV, hd] into [B, KV, cap, hd]
            cv[rows, :, write_at] = v.transpose(1, 2).to(cv.dtype)
            # grouped queries without copying the cache: query head h reads key/value head h // group (as
            # enable_gqa does), so the group's queries are stacked along the query axis of their kv head
            # instead of the cache being repeated to every head (what enable_gqa does on CPU: a copy of the
            # whole cache per layer and step)
            group = self.heads // self.kv_heads
            qg = q.reshape(b, self.kv_heads, group * t, self.head_dim)  # [B, KV, group·T, hd]
            mg = mask[:, :, None].expand(b, 1, group, t, mask.shape[-1]).reshape(b, 1, group * t, -1)
            out = F.scaled_dot_product_attention(qg, ck.to(q.dtype), cv.to(q.dtype), attn_mask=mg)
            out = out.view(b, self.heads, t, self.head_dim)  # [B, H, T, hd]
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))

    def _probs(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Causal softmax attention ``[B, h, T, T]`` of the first heads ``q`` ``[B, h, T, hd]`` over the
        keys ``k`` ``[B, KV, T, hd]`` (query head i reads key head i // (heads / kv_heads), as in GQA)."""
        group = self.heads // self.kv_heads
        keys = k[:, [i // group for i in range(q.shape[1])]].float()  # [B, h, T, hd]
        scores = q.float() @ keys.transpose(-1, -2) * self.head_dim**-0.5  # [B, h, T, T]
        t = q.shape[2]
        future = torch.ones(t, t, dtype=torch.bool, device=q.device).triu(1)
        return scores.masked_fill(future, float("-inf")).softmax(-1)


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.attn_norm = RMSNorm(config.dim, config.norm_eps)
        self.attn = Attention(config)
        self.ffn_norm = RMSNorm(config.dim, config.norm_eps)
        self.ffn = SwiGLU(config.dim, config.ffn_dim)

    def forward(self, x, cos, sin, mask, cache, layer, write_at, probe=None):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask, cache, layer, write_at, probe)
        return x + self.ffn(self.ffn_norm(x))


class Backbone(nn.Module):
    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        cos, sin = rope_tables(config.head_dim, config.max_positions, config.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, probe: AttentionProbe | None = None
    ) -> torch.Tensor:
        """Hidden states ``[B, T, dim]`` for inputs ``x`` ``[B, T, dim]``.

        Without a cache the T positions are a causal sequence starting at position 0 (training). With a
        cache each row's T new positions start at ``cache.lengths[b]`` and ``cache.lengths`` grows by T.
        ``probe`` (training, no cache): records some heads' attention probabilities (``AttentionProbe``).
        """
        if probe is not None and cache is not None:
            raise ValueError("an attention probe works on a training forward (no cache)")
        b, t, _ = x.shape
        if cache is None:
            if t > self.config.max_positions:
                raise ValueError(
                    f"sequence of {t} positions exceeds max_positions {self.config.max_positions}"
                )
            positions = torch.arange(t, device=x.device)[None].expand(b, t)
            mask = write_at = None
        else:
            positions = cache.lengths[:, None] + torch.arange(t, device=x.device)[None]  # [B, T]
            end = int(positions.max()) + 1
            if end > self.config.max_positions:
                raise ValueError(
                    f"sequence of {end} positions exceeds max_positions {self.config.max_positions}"
                )
            cache.ensure_capacity(end)
            keys = torch.arange(cache.capacity, device=x.device)
            mask = (keys[None, None, :] <= positions[:, :, None])[:, None]  # [B, 1, T, cap]: causal per row
            write_at = positions
        cos = self.rope_cos[positions][:, None]  # [B, 1, T, hd/2]
        sin = self.rope_sin[positions][:, None]
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, cache, i, write_at, probe)
        if cache is not None:
            cache.lengths = cache.lengths + t
        return self.norm(x)
