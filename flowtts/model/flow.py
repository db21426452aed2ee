"""Conditional flow matching for the acoustic latent: the training loss and the ODE sampler.

Linear (rectified-flow) path from noise x₀ ~ N(0, I) at t = 0 to data x₁ at t = 1:
    x_t = (1 − t)·x₀ + t·x₁,   target velocity u = x₁ − x₀   (constant along the path)
The network regresses u at random t (MSE). To sample, integrate dx/dt = v(x, t) from t = 0 to 1 with a
fixed-step solver from ``torchdiffeq`` (Euler by default, 4–16 steps), with classifier-free guidance
v = α·v(x, t, h) + (1 − α)·v(x, t, 0): the condition h is replaced by zeros in ``cond_dropout`` of the
training examples, so one network learns both branches. The result is snapped to the codec's FSQ grid
before it is fed back to the backbone.
"""

from __future__ import annotations

import torch
from torchdiffeq import odeint

from flowtts.model.flow_head import VelocityNet

FIXED_STEP_SOLVERS = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")


def snap_to_grid(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Nearest FSQ grid value in [-1, 1] (``levels`` levels); the same as ``codec.quantizers.FSQ.snap``."""
    half = (levels - 1) / 2
    return (torch.round((x.clamp(-1, 1) + 1) * half) / half - 1).to(x.dtype)


class FlowMatching:
    """Owns the loss and the sampler; the ``VelocityNet`` only predicts velocities."""

    def __init__(self, net: VelocityNet, cond_dropout: float, fsq_levels: int):
        self.net, self.cond_dropout, self.fsq_levels = net, cond_dropout, fsq_levels

    def loss(
        self,
        x1: torch.Tensor,
        h: torch.Tensor,
        semantic: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Mean squared velocity error for data ``x1`` ``[N, D]``, states ``h`` ``[N, dim]``, ids ``[N]``."""
        n = x1.shape[0]
        t = torch.rand(n, device=x1.device, generator=generator)  # [N]
        x0 = torch.randn(x1.shape, device=x1.device, generator=generator, dtype=x1.dtype)
        xt = (1 - t[:, None]) * x0 + t[:, None] * x1
        drop = torch.rand(n, device=x1.device, generator=generator) < self.cond_dropout
        h = torch.where(drop[:, None], torch.zeros_like(h), h)
        v = self.net(xt, t, h, semantic)
        return (v.float() - (x1 - x0).float()).pow(2).mean()

    @torch.no_grad()
    def sample(
        self,
        h: torch.Tensor,
        semantic: torch.Tensor,
        steps: int = 8,
        cfg: float = 1.2,
        solver: str = "euler",
        noise: torch.Tensor | None = None,
        snap: bool = True,
    ) -> torch.Tensor:
        """Acoustic latents ``[N, D]`` for states ``h`` ``[N, dim]`` and semantic ids ``[N]``.

        ``noise`` ``[N, D]`` is x₀ (drawn from the global RNG if None); with ``cfg == 1`` the unconditional
        branch is skipped.
        """
        if not 1 <= steps <= 64:
            raise ValueError(f"steps must be in [1, 64], got {steps}")
        if solver not in FIXED_STEP_SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(FIXED_STEP_SOLVERS)}, got {solver!r}")
        n = h.shape[0]
        d = self.net.velocity.out_features
        x0 = noise if noise is not None else torch.randn(n, d, device=h.device, dtype=h.dtype)
        guided = cfg != 1.0
        if guided:
            h2 = torch.cat([h, torch.zeros_like(h)])  # [2N, dim]: conditional, then unconditional
            sem2 = torch.cat([semantic, semantic])

        def velocity(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            if not guided:
                return self.net(x, t.expand(n), h, semantic)
            v = self.net(torch.cat([x, x]), t.expand(2 * n), h2, sem2)
            return cfg * v[:n] + (1 - cfg) * v[n:]

        grid = torch.linspace(0, 1, steps + 1, device=h.device, dtype=torch.float32)
        x1 = odeint(velocity, x0, grid, method=solver)[-1]  # [N, D]
        return snap_to_grid(x1, self.fsq_levels) if snap else x1
