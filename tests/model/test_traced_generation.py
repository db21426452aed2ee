"""Traced generation steps (``flowtts.generation.traced``): the same frames as the eager generator, for one
stream only, rebuilt after a weight change."""

from __future__ import annotations

import torch

from flowtts.generation.generator import Generator, SamplingParams
from flowtts.model.backbone import CAPACITY_STEP, KVCache
from tests.model.test_generator import model, request, run


def frames(gen: Generator, **kw) -> list:
    return run(gen, [request(gen, [4, 20, 21, 22], tag="a", min_frames=6, max_frames=10, **kw)])["a"]


def assert_same(a: list, b: list) -> None:
    assert [x[0] for x in a] == [x[0] for x in b] and [x[2:] for x in a] == [x[2:] for x in b]
    for (_, x, _, _), (_, y, _, _) in zip(a, b, strict=True):
        assert torch.allclose(x, y, atol=1e-5)


def test_a_traced_stream_gives_the_eager_streams_frames() -> None:
    eager = Generator(model())
    traced = Generator(model())
    traced.trace_steps()
    for params in (
        SamplingParams(steps=4, seed=7, temperature=1.0),  # guided (cfg 1.2)
        SamplingParams(steps=3, cfg=1.0, seed=2, temperature=1.0),  # unguided
    ):
        assert_same(frames(eager, params=params), frames(traced, params=params))
    kinds = {key[0] for key in traced.traced.graphs._graphs}
    assert kinds == {"backbone", "flow/4/1.2", "flow/3/1.0"}  # the traced graphs did the work


def test_a_batch_takes_the_padded_flow_graph_and_gives_the_eager_frames() -> None:
    def three(gen: Generator) -> dict:
        return run(gen, [request(gen, [4, 20 + k], tag=k, min_frames=5, max_frames=6) for k in range(3)])

    eager, traced = Generator(model()), Generator(model())
    traced.trace_steps()
    a, b = three(eager), three(traced)
    for k in range(3):
        assert_same(a[k], b[k])
    shapes = {key[0]: key[1][0][0] for key in traced.traced.graphs._graphs}  # kind -> rows of the noise
    assert shapes == {"flow/4/1.2": 4}  # 3 rows padded to 4; the backbone of a batch runs eagerly


def test_other_solvers_adapters_and_training_run_eagerly() -> None:
    gen = Generator(model())
    gen.trace_steps()
    frames(gen, params=SamplingParams(steps=4, solver="midpoint", seed=1))  # the flow: eager
    assert {key[0] for key in gen.traced.graphs._graphs} == {"backbone"}
    with torch.enable_grad():
        x = torch.zeros(1, 1, gen.config.backbone.dim)
        cache = KVCache.empty(gen.config.backbone, 1, 8, "cpu", torch.float32)
        assert gen.traced.backbone_step(x, cache) is None


def test_warm_up_flow_builds_every_padded_size() -> None:
    gen = Generator(model())
    gen.trace_steps()
    gen.traced.warm_up_flow(8, 1.2, max_rows=5)
    assert sorted(key[1][0][0] for key in gen.traced.graphs._graphs) == [1, 2, 4, 8]


def test_a_weight_change_drops_the_graphs() -> None:
    gen = Generator(model())
    gen.trace_steps()
    before = frames(gen)
    with torch.no_grad():
        for p in gen.model.velocity_net.parameters():
            p.mul_(1.5)  # in place: what an optimizer step or load_state_dict does
    changed = frames(gen)
    eager = Generator(gen.model)
    assert_same(changed, frames(eager))
    assert any(not torch.allclose(x[1], y[1]) for x, y in zip(before, changed, strict=False))


def test_caches_grow_to_multiples_of_the_capacity_step() -> None:
    gen = Generator(model())
    cache = KVCache.empty(gen.config.backbone, 1, 10, "cpu", torch.float32)
    cache.ensure_capacity(11)
    assert cache.capacity == CAPACITY_STEP
    cache.ensure_capacity(CAPACITY_STEP + 1)
    assert cache.capacity == 2 * CAPACITY_STEP
    r = request(gen, [4, 20])
    assert r.prefix.cache.capacity % CAPACITY_STEP == 0
