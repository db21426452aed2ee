import math

import pytest
import torch
from torch import nn

from flowtts.model.flow import FlowMatching, snap_to_grid


class AnalyticField(nn.Module):
    """v(x, t) = a·x (+ b when conditioned: h != 0), so x(1) = x0·e^a without guidance."""

    def __init__(self, d: int, a: float, b: float = 0.0):
        super().__init__()
        self.a, self.b = a, b
        self.velocity = nn.Linear(1, d)  # only out_features is read by the sampler

    def forward(self, x, t, h, semantic):
        cond = (h.abs().sum(-1, keepdim=True) > 0).float()
        return self.a * x + self.b * cond


@pytest.mark.parametrize("solver,steps,tol", [("euler", 64, 2e-2), ("midpoint", 16, 2e-3), ("rk4", 8, 1e-5)])
def test_solvers_integrate_an_analytic_field(solver: str, steps: int, tol: float) -> None:
    net = AnalyticField(4, a=-1.0)
    fm = FlowMatching(net, 0.1, 21)
    x0 = torch.randn(5, 4)
    x1 = fm.sample(
        torch.ones(5, 3), torch.zeros(5, dtype=torch.long), steps, 1.0, solver, noise=x0, snap=False
    )
    assert torch.allclose(x1, x0 * math.exp(-1.0), atol=tol)


def test_euler_matches_its_closed_form() -> None:
    net = AnalyticField(3, a=-1.0)
    x0 = torch.randn(2, 3)
    x1 = FlowMatching(net, 0.1, 21).sample(
        torch.ones(2, 1), torch.zeros(2, dtype=torch.long), 4, 1.0, "euler", x0, False
    )
    assert torch.allclose(x1, x0 * (1 - 1 / 4) ** 4, atol=1e-6)


def test_cfg_extrapolates_from_the_unconditional_branch() -> None:
    net = AnalyticField(2, a=0.0, b=1.0)  # conditioned velocity 1, unconditioned 0
    x0 = torch.zeros(3, 2)
    h = torch.ones(3, 4)
    sem = torch.zeros(3, dtype=torch.long)
    fm = FlowMatching(net, 0.1, 21)
    assert torch.allclose(fm.sample(h, sem, 4, 1.0, "euler", x0, False), torch.ones(3, 2))
    assert torch.allclose(fm.sample(h, sem, 4, 1.5, "euler", x0, False), torch.full((3, 2), 1.5))


def test_snap_is_on_the_grid_and_idempotent() -> None:
    x = torch.randn(100) * 2
    s = snap_to_grid(x, 21)
    assert s.abs().max() <= 1.0
    assert torch.allclose((s + 1) * 10, torch.round((s + 1) * 10), atol=1e-5)
    assert torch.equal(snap_to_grid(s, 21), s)


def test_bad_solver_or_steps() -> None:
    fm = FlowMatching(AnalyticField(2, -1.0), 0.1, 21)
    h, sem = torch.ones(1, 1), torch.zeros(1, dtype=torch.long)
    with pytest.raises(ValueError, match="solver"):
        fm.sample(h, sem, 4, 1.0, "dopri5")
    with pytest.raises(ValueError, match="steps"):
        fm.sample(h, sem, 0, 1.0, "euler")
