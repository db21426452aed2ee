"""Traced decoder steps: the streaming decoder's per-piece work as frozen TorchScript graphs (inference).

A streamed frame is small (8 hops × 256 channels), so eager PyTorch spends most of its time between
kernels: Python dispatch of ~300 ops, and MKL re-packing each pointwise weight for an 8-row matmul. A
graph traced once per input shape and frozen (``torch.jit.freeze`` + ``optimize_for_inference``) runs
the same arithmetic with the weights pre-packed and the Python gone: on this project's 2-core CPU the
per-frame decoder work fell from 5.7 ms to 3.8–4.3 ms (``evals`` streaming figure; see the codec note).

What is traced are the decoder's pure step functions: ``_steady`` (a running stream's whole step:
frame inputs, conv histories and pending overlap-add tail in; final samples and the new state out) and
``_windowed`` (the same without the overlap-add, for ``stream_many``, which adds per stream). A
stream's first piece runs eagerly, so only steady-state shapes are traced; each shape is traced on
first use (about a second) and cached.

The graphs hold a copy of the weights taken when they were traced; ``TracedSteps`` checks the version
counters of the decoder's parameters on every call and retraces after any in-place change (an
optimizer step), so a stale graph can never be used. Results equal the eager path to float tolerance
(tested with the streamed == one-shot tests).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from codec.decoder import Decoder

MAX_CACHED_SHAPES = 64  # serve's continuous batching sees batch sizes 1..max-streams; keep each traced once


class _Core(nn.Module):
    """One of the decoder's pure step functions (``_windowed`` or ``_steady``) as a module whose inputs
    and outputs are tensors and lists of tensors (what tracing needs)."""

    def __init__(self, decoder: Decoder, kind: str):
        super().__init__()
        self.decoder = decoder
        self.fn = getattr(decoder, f"_{kind}")

    def forward(self, *args):
        return self.fn(*args)


class TracedSteps:
    """Per-shape traced and frozen decoder step functions; ``None`` from ``__call__`` means "run eagerly"."""

    def __init__(self, decoder: Decoder):
        self._decoder = decoder  # a plain object, not a module: nothing here enters the state_dict
        self._graphs: dict[tuple, torch.jit.ScriptModule] = {}
        self._versions: tuple[int, ...] = ()
        self._failed = False

    def _weights_version(self) -> tuple[int, ...]:
        return tuple(p._version for p in self._decoder.parameters())

    def __call__(self, kind: str, *args) -> tuple | None:
        """``kind`` is ``windowed`` or ``steady``; ``args`` that function's tensors (lists allowed)."""
        decoder = self._decoder
        if self._failed or decoder.training or torch.is_grad_enabled():
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
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # TracerWarnings about Python ints from shapes: expected
                    traced = torch.jit.trace(_Core(decoder, kind).eval(), args, check_trace=False)
                    graph = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            except Exception as e:  # noqa: BLE001 - an unsupported platform falls back to eager, once
                warnings.warn(f"traced decoder steps unavailable, decoding eagerly: {e}", stacklevel=2)
                self._failed = True
                return None
            self._graphs[key] = graph
        return tuple(list(o) if isinstance(o, (list, tuple)) else o for o in graph(*args))


def _shape_key(a) -> tuple:
    if isinstance(a, torch.Tensor):
        return (tuple(a.shape), a.dtype, a.device)
    return tuple(_shape_key(t) for t in a)
