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

The graph cache, its staleness check (a graph is dropped after any in-place change of the weights) and
the eager fallback are ``codec.traced.TracedGraphs``. Results equal the eager path to float tolerance
(tested with the streamed == one-shot tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from codec.traced import TracedGraphs

if TYPE_CHECKING:
    from codec.decoder import Decoder


class _Core(nn.Module):
    """One of the decoder's pure step functions (``_windowed`` or ``_steady``) as a module whose inputs
    and outputs are tensors and lists of tensors (what tracing needs)."""

    def __init__(self, decoder: Decoder, kind: str):
        super().__init__()
        self.decoder = decoder
        self.fn = getattr(decoder, f"_{kind}")

    def forward(self, *args):
        return self.fn(*args)


class TracedSteps(TracedGraphs):
    """The decoder's traced step functions: ``traced("windowed" | "steady", *args)`` -> that function's
    outputs (lists as lists), or ``None``: run eagerly."""

    def __init__(self, decoder: Decoder):
        super().__init__(decoder, lambda kind: _Core(decoder, kind), "decoder steps")

    def __call__(self, kind: str, *args) -> tuple | None:
        out = super().__call__(kind, *args)
        if out is None:
            return None
        return tuple(list(o) if isinstance(o, (list, tuple)) else o for o in out)
