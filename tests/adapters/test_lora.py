"""LoRA over a loaded model: identity at init, only adapters train, attach / detach / switch restore the
base exactly, per-row routing (a mixed batch equals separate runs), default sizes."""

from __future__ import annotations

import pytest
import torch

from flowtts.adapters.lora import Adapter, AdapterSet, LoRAConfig, resolve_targets
from flowtts.errors import FlowTTSError
from flowtts.model.config import TTSConfig
from flowtts.model.tts import TTSModel
from tests.model.helpers import tiny_tts_config


def tiny_model(seed: int = 0) -> TTSModel:
    torch.manual_seed(seed)
    return TTSModel(tiny_tts_config()).eval()


def random_adapter(model: TTSModel, seed: int, **over) -> Adapter:
    """An adapter with non-zero B (a trained one), so it changes the outputs."""
    torch.manual_seed(seed)
    adapter = Adapter.for_model(model, LoRAConfig(rank=4, alpha=8, **over))
    with torch.no_grad():
        for p in adapter.parameters():
            p.normal_(0, 0.3)
    return adapter


def hidden(model: TTSModel, x: torch.Tensor) -> torch.Tensor:
    return model.backbone(x)  # [B, T, dim]


@pytest.fixture()
def model() -> TTSModel:
    m = tiny_model()
    yield m
    AdapterSet.of(m).clear()


@pytest.fixture()
def x() -> torch.Tensor:
    return torch.randn(3, 7, 32, generator=torch.Generator().manual_seed(1))  # [B, T, dim]


def test_untrained_adapter_is_the_identity(model, x) -> None:
    base = hidden(model, x)
    adapters = AdapterSet.of(model)
    adapters.add("fresh", Adapter.for_model(model, LoRAConfig(rank=4)))
    with adapters.use("fresh"):
        assert torch.equal(hidden(model, x), base)  # B = 0: exactly, not approximately


def test_attach_detach_switch_restore_the_base_exactly(model, x) -> None:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    base = hidden(model, x)
    adapters = AdapterSet.of(model)
    adapters.add("a", random_adapter(model, 1))
    adapters.add("b", random_adapter(model, 2))
    assert torch.equal(hidden(model, x), base)  # attached but not in use: the base model
    with adapters.use("a"):
        out_a = hidden(model, x)
    with adapters.use("b"):
        out_b = hidden(model, x)
    assert not torch.allclose(out_a, base, atol=1e-3) and not torch.allclose(out_a, out_b, atol=1e-3)
    adapters.remove("a")  # switching: b alone gives what it gave beside a
    with adapters.use("b"):
        assert torch.equal(hidden(model, x), out_b)
    adapters.remove("b")
    assert torch.equal(hidden(model, x), base)
    assert all(not m._forward_hooks for m in model.modules())  # nothing left behind
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # weights never touched
    assert not any("lora" in k for k in model.state_dict())  # adapters are not part of the model


def test_only_adapter_parameters_get_gradients(model, x) -> None:
    adapters = AdapterSet.of(model)
    adapter = adapters.add("t", Adapter.for_model(model, LoRAConfig(rank=4)))
    model.requires_grad_(False)
    with adapters.use("t"):
        hidden(model, x).pow(2).mean().backward()
    assert all(p.grad is None for p in model.parameters())
    used = [p for p in adapter.paths if p.startswith("backbone.")]  # the flow head did not run
    assert used and all(adapter.lora(p).b.grad is not None for p in used)
    assert any(adapter.lora(p).b.grad.abs().sum() > 0 for p in used)


def test_a_mixed_batch_equals_separate_runs(model, x) -> None:
    adapters = AdapterSet.of(model)
    adapters.add("a", random_adapter(model, 1))
    adapters.add("b", random_adapter(model, 2))
    with adapters.route(["a", None, "b"]):
        mixed = hidden(model, x)
    with adapters.use("a"):
        row0 = hidden(model, x[:1])
    row1 = hidden(model, x[1:2])
    with adapters.use("b"):
        row2 = hidden(model, x[2:])
    torch.testing.assert_close(mixed, torch.cat([row0, row1, row2]), atol=1e-5, rtol=1e-5)


def test_flow_head_routing_with_guidance(model) -> None:
    """Classifier-free guidance doubles the flow head's batch: routing tiles the rows."""
    adapters = AdapterSet.of(model)
    adapters.add("a", random_adapter(model, 1, targets=("flow",)))
    g = torch.Generator().manual_seed(3)
    h, noise = torch.randn(2, 32, generator=g), torch.randn(2, 6, generator=g)
    ids = torch.tensor([3, 5])
    with adapters.route(["a", None]):
        mixed = model.flow.sample(h, ids, steps=3, cfg=1.5, noise=noise, snap=False)
    with adapters.use("a"):
        first = model.flow.sample(h[:1], ids[:1], steps=3, cfg=1.5, noise=noise[:1], snap=False)
    second = model.flow.sample(h[1:], ids[1:], steps=3, cfg=1.5, noise=noise[1:], snap=False)
    torch.testing.assert_close(mixed, torch.cat([first, second]), atol=1e-5, rtol=1e-5)
    with adapters.route(["a", None]), pytest.raises(ValueError, match="routing is set for 2 rows"):
        model.velocity_net.x_proj(torch.zeros(3, 6))


def test_bad_names_targets_and_shapes(model) -> None:
    adapters = AdapterSet.of(model)
    with pytest.raises(FlowTTSError, match="no adapter 'x'"):
        with adapters.route(["x"]):
            pass
    with pytest.raises(FlowTTSError, match="selects no Linear"):
        Adapter.for_model(model, LoRAConfig(targets=("nonsense",)))
    with pytest.raises(FlowTTSError, match="rank must be"):
        LoRAConfig(rank=0)
    other = TTSModel(tiny_tts_config(acoustic_dim=8))
    with pytest.raises(FlowTTSError, match="another architecture"):
        adapters.add("other", Adapter.for_model(other, LoRAConfig(targets=("flow",))))
    adapters.add("a", random_adapter(model, 1))
    with pytest.raises(FlowTTSError, match="already attached"):
        adapters.add("a", random_adapter(model, 1))


def test_target_groups_and_the_default_model_size() -> None:
    """The numbers in FinetuneConfig's docstring: rank 16 on attention, ffn and flow of the default model."""
    with torch.device("meta"):
        model = TTSModel(TTSConfig())
    names = resolve_targets(model, ("attention", "ffn", "flow"))
    assert len(names) == 8 * 7 + 15 and "backbone.blocks.7.attn.wk" in names
    assert "velocity_net.layers.1.ffn.w2" in names and "velocity_net.velocity" in names
    assert "acoustic_projection" not in names
    with torch.device("meta"):
        adapter = Adapter.for_model(model, LoRAConfig(rank=16))
    assert adapter.num_parameters() == 1_053_824  # 2.1 MB in float16
