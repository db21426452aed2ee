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

Only batches of one stream take them (a server's batches change size every few steps and would pay a trace,
about half a second, for each new size), and only a model without attached adapters (voice packs route
rows at run time). ``Generator.trace_steps()`` turns them on; ``TTS.warm_up`` does, as servers and the
benchmark do. Outputs equal the eager path to float tolerance (tests/model/test_traced_generation.py).
"""

from __future__ import annotations

import torch
from torch import nn

from codec.traced import TracedGraphs
from flowtts.model.backbone import Backbone, KVCache
from flowtts.model.flow_head import VelocityNet
from flowtts.model.tts import TTSModel


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

    def _usable(self, rows: int) -> bool:
        from flowtts.adapters.lora import AdapterSet

        return rows == 1 and len(AdapterSet.of(self.model)) == 0

    def flow(
        self,
        h: torch.Tensor,
        semantic: torch.Tensor,
        steps: int,
        cfg: float,
        solver: str,
        noise: torch.Tensor,
    ) -> torch.Tensor | None:
        """Unsnapped x₁ ``[N, D]`` (``FlowMatching.sample(..., snap=False)``), or ``None``."""
        if solver != "euler" or not self._usable(h.shape[0]):
            return None
        return self.graphs(f"flow/{steps}/{float(cfg)!r}", noise, h, semantic)

    def backbone_step(self, x: torch.Tensor, cache: KVCache) -> torch.Tensor | None:
        """The state ``[B, dim]`` of one new position ``x`` ``[B, 1, dim]`` appended to ``cache`` (whose
        lengths then grow by one), or ``None`` (the cache untouched)."""
        end = int(cache.lengths.max()) + 1
        if x.shape[1] != 1 or end > cache.capacity or end > self.model.config.backbone.max_positions:
            return None  # growth and the length error stay with the eager path
        if not self._usable(x.shape[0]):
            return None
        h = self.graphs("backbone", x, cache.k, cache.v, cache.lengths)
        if h is not None:
            cache.lengths = cache.lengths + 1
        return h
