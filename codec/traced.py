"""Traced graphs: a module's pure step functions as frozen TorchScript graphs, one per input shape.

For inference only.

Small per-step work (a streamed codec frame, a TTS decode step, a flow-head ODE solve) spends most of its
time between kernels on a CPU: Python dispatch of hundreds of ops, and MKL re-packing each weight for a
few-row matmul. A graph traced once per input shape and frozen (``torch.jit.freeze`` +
``optimize_for_inference``) runs the same arithmetic with the weights pre-packed and the Python gone.

``TracedGraphs(owner, build)`` keeps those graphs: ``graphs(kind, *args)`` runs ``build(kind)`` (a module
whose ``forward`` takes ``args``: tensors and lists of tensors) as a graph traced for the shapes of
``args`` on first use (about half a second to a second), and returns ``None`` ("run eagerly") when the
owner is training, gradients are on, the cache is full or tracing is not supported here (warned once).
Users: ``codec.decoder_trace`` (the streaming decoder) and ``flowtts.generation.traced`` (the generator).

The graphs hold a copy of the weights taken when they were traced; the version counters of the owner's
parameters are checked on every call and every graph is dropped after any in-place change (an optimizer
step, a ``load_state_dict``), so a stale graph is never used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

MAX_CACHED_SHAPES = 64  # e.g. serve's continuous batching sees batch sizes 1..max-streams; keep each once


class TracedGraphs:
    """Per-(kind, input shapes) traced and frozen graphs of ``build(kind)``; ``None`` means "run eagerly"."""

    def __init__(self, owner: nn.Module, build: Callable[[str], nn.Module], what: str):
        self._owner = owner  # a plain attribute of a plain object: nothing here enters a state_dict
        self._build, self._what = build, what
        self._graphs: dict[tuple, torch.jit.ScriptModule] = {}
        self._versions: tuple[int, ...] = ()
        self._failed = False

    def __len__(self) -> int:
        return len(self._graphs)

    def _weights_version(self) -> tuple[int, ...]:
        return tuple(p._version for p in self._owner.parameters())

    def __call__(self, kind: str, *args):
        """The graph's output for ``args`` (tensors, lists of tensors), or ``None``: run eagerly."""
        if self._failed or self._owner.training or torch.is_grad_enabled():
            return None
        version = self._weights_version()
        if version != self._versions:
            self._graphs.clear()
            self._versions = version
        key = (kind, *(_shape_key(a) for a in args))
        graph = self._graphs.get(key)
        if graph is None:
            if len(self._graphs) >= MAX_CACHED_SHAPES:
                return None
            # weights reached other than as registered parameters (a shared table kept in a list) become
            # constants of the graph, which tracing refuses while they require grad
            grads = [(p, p.requires_grad) for p in self._owner.parameters()]
            try:
                for p, _ in grads:
                    p.requires_grad_(False)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # TracerWarnings about Python ints from shapes: expected
                    traced = torch.jit.trace(self._build(kind).eval(), args, check_trace=False)
                    graph = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            except Exception as e:  # noqa: BLE001 - an unsupported platform falls back to eager, once
                warnings.warn(
                    f"traced {self._what} unavailable, running eagerly: {str(e)[:300]}", stacklevel=2
                )
                self._failed = True
                return None
            finally:
                for p, flag in grads:
                    p.requires_grad_(flag)
            self._graphs[key] = graph
        return graph(*args)


def _shape_key(a) -> tuple:
    if isinstance(a, torch.Tensor):
        return (tuple(a.shape), a.dtype, a.device)
    return tuple(_shape_key(t) for t in a)
