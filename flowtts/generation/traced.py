"""Traced generation steps: a single stream's per-frame work as frozen TorchScript graphs (inference).

A frame of one stream is tiny arithmetic (one position through the backbone; eight 4-token passes of the
velocity net, twice for guidance) spread over ~1,000 small ops, so eager PyTorch on a CPU spends most of
its time dispatching them. Two graphs, traced per input shape (``codec.traced.TracedGraphs``: cache,
staleness check, eager fallback):

- ``flow/<steps>/<cfg>``: ``FlowMatching.sample``'s Euler solve with classifier-free guidance, unrolled
  (the same arithmetic as torchdiffeq's fixed-grid ``euler`` on ``linspace(0, 1, steps + 1)``; other solvers
  run eagerly through torchdiffeq);
- ``backbone``: one decode position appended to a KV cache (written in place) -> the new hidden state.
  Shapes include the cache's capacity, which ``KVCache`` keeps to multiples of ``CAPACITY_STEP``, so the
  requests of one voice share a few graphs.

The flow graph takes batches of any size, padded to a power of two (a server's 1…16 streams share five
graphs, built by ``TTS.warm_up``); the backbone graph only batches of one stream (its shapes include the
cache's, and a server's batches change size every few steps: each new shape would cost a trace, about half a
second). Neither is used by a model with attached adapters (voice packs route rows at run time).
``Generator.trace_steps()`` turns them on; ``TTS.warm_up`` does, as servers and the benchmark do. Outputs
equal the eager path to float tolerance (tests/model/test_traced_generation.py).
"""

from __future__ import annotations

import torch
from torch import nn

from codec.traced import TracedGraphs
from flowtts.model.backbone import Backbone, KVCache
from flowtts.model.flow_head import VelocityNet
from flowtts.model.tts import TTSModel

MAX_FLOW_ROWS = 64  # larger batches run the flow head eagerly


class _EulerSampler(nn.Module):
    """x₁ ``[N, D]`` (not snapped) from x₀ ``[N, D]``, states ``[N, dim]`` and ids ``[N]``: Euler steps on
    the uniform grid with guidance ``cfg`` (``cfg == 1``: the conditional branch only), as
    ``FlowMatching.sample`` does."""

    def __init__(self, net: VelocityNet, steps: int, cfg: float):
        super().__init__()
        self.net, self.steps, self.cfg = net, steps, cfg

    def forward(self, x: torch.Tensor, h: torch.Tensor, semantic: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        grid = torch.linspace(0, 1, self.steps + 1, dtype=torch.float32, device=x.device)
        guided = self.cfg != 1.0
        if guided:
            h = torch.cat([h, torch.zeros_like(h)])  # [2N, dim]: conditional, then unconditional
            semantic = torch.cat([semantic, semantic])
        for i in range(self.steps):
            t = grid[i].expand(h.shape[0])
            if guided:
                v = self.net(torch.cat([x, x]), t, h, semantic)
                v = self.cfg * v[:n] + (1 - self.cfg) * v[n:]
            else:
                v = self.net(x, t, h, semantic)
            x = x + (grid[i + 1] - grid[i]) * v
        return x


class _DecodeStep(nn.Module):
    """One position ``x`` ``[B, 1, dim]`` appended to the cache ``k``, ``v`` (per layer, written in place) at
    ``lengths`` ``[B]`` -> its hidden state ``[B, dim]``. The caller advances ``lengths``."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        self.backbone = backbone

    def forward(
        self, x: torch.Tensor, k: list[torch.Tensor], v: list[torch.Tensor], lengths: torch.Tensor
    ) -> torch.Tensor:
        return self.backbone(x, KVCache(list(k), list(v), lengths))[:, -1]


class TracedGeneration:
    """The generator's traced graphs; each method returns ``None`` where the caller must run eagerly."""

    def __init__(self, model: TTSModel):
        self.model = model
        self.graphs = TracedGraphs(model, self._build, "generation steps")

    def _build(self, kind: str) -> nn.Module:
        if kind == "backbone":
            return _DecodeStep(self.model.backbone)
        _, steps, cfg = kind.split("/")
        return _EulerSampler(self.model.velocity_net, int(steps), float(cfg))

    def _no_adapters(self) -> bool:
        from flowtts.adapters.lora import AdapterSet

        return len(AdapterSet.of(self.model)) == 0

    def flow(
        self,
        h: torch.Tensor,
        semantic: torch.Tensor,
        steps: int,
        cfg: float,
        solver: str,
        noise: torch.Tensor,
    ) -> torch.Tensor | None:
        """Unsnapped x₁ ``[N, D]`` (``FlowMatching.sample(..., snap=False)``), or ``None``.

        Rows are padded to the next power of two (zeros; their results are dropped), so a server's batches of
        1…16 streams share 5 graphs (``warm_up_flow`` builds them)."""
        n = h.shape[0]
        if solver != "euler" or n > MAX_FLOW_ROWS or not self._no_adapters():
            return None
        padded = 1 << (n - 1).bit_length()
        if padded != n:
            extra = padded - n
            h = torch.cat([h, h.new_zeros(extra, h.shape[1])])
            semantic = torch.cat([semantic, semantic.new_zeros(extra)])
            noise = torch.cat([noise, noise.new_zeros(extra, noise.shape[1])])
        x1 = self.graphs(f"flow/{steps}/{float(cfg)!r}", noise, h, semantic)
        return None if x1 is None else x1[:n]

    def warm_up_flow(self, steps: int, cfg: float, max_rows: int) -> None:
        """Builds the flow graphs of ``steps`` and ``cfg`` for every padded batch size up to ``max_rows``."""
        config = self.model.config
        device = next(self.model.parameters()).device
        rows = 1
        with torch.no_grad():
            while True:
                h = torch.zeros(rows, config.backbone.dim, device=device)
                semantic = torch.zeros(rows, dtype=torch.long, device=device)
                noise = torch.zeros(rows, config.acoustic_dim, device=device)
                self.flow(h, semantic, steps, cfg, "euler", noise)
                if rows >= min(max_rows, MAX_FLOW_ROWS):
                    break
                rows *= 2

    def backbone_step(self, x: torch.Tensor, cache: KVCache) -> torch.Tensor | None:
        """The state ``[B, dim]`` of one new position ``x`` ``[B, 1, dim]`` appended to ``cache`` (whose
        lengths then grow by one), or ``None`` (the cache untouched)."""
        end = int(cache.lengths.max()) + 1
        if x.shape[1] != 1 or end > cache.capacity or end > self.model.config.backbone.max_positions:
            return None  # growth and the length error stay with the eager path
        if x.shape[0] != 1 or not self._no_adapters():
            return None
        h = self.graphs("backbone", x, cache.k, cache.v, cache.lengths)
        if h is not None:
            cache.lengths = cache.lengths + 1
        return h
