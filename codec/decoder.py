"""Decoder: frames -> 24 kHz audio, with Vocos blocks (``vocos`` package) at hop 240.

    frame inputs [B, T, vq.dim + fsq.dim]     semantic codeword ⊕ acoustic FSQ values, 12.5 Hz
    -> linear + causal ConvNeXt ×2 (k3)       [B, 256, T]
    -> linear ×8 and unfold                   [B, 256, 8T]     100 Hz (hop 240)
    -> causal Vocos ConvNeXt ×8 (k7)          [B, 256, 8T]
    -> LayerNorm + Vocos ISTFTHead (n_fft 960, "same")  [B, 1920·T]

Every conv reads only the current and past steps. The only look-ahead is the ISTFT overlap: the last
(960 - 240) / 2 = 360 samples of a frame also receive the window of the next hop, so the streaming decoder
holds them back until the next frame arrives (15 ms, well inside the 2-frame budget). ``stream`` runs the
same layers on pieces with a ``DecoderState`` and gives the same samples as ``forward`` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from vocos.heads import ISTFTHead

from codec.config import CodecConfig
from codec.layers import CausalConvNeXtBlock, causal_pad
from flowtts.constants import HOP_SAMPLES

if TYPE_CHECKING:
    from codec.decoder_trace import TracedSteps

HOPS_PER_FRAME = 8
TRACE_MAX_FRAMES = 4  # pieces up to this long (streaming) take the traced graphs; longer ones run eagerly


@dataclass
class DecoderState:
    """Everything the decoder carries from one streamed piece to the next (batch-first tensors)."""

    # the input history of each conv block, frame blocks first, then backbone blocks: [B, C, k-1] (None
    # before the first piece, which reads zeros)
    pasts: list[torch.Tensor | None] = field(default_factory=list)
    ola: torch.Tensor | None = None  # [B, n_fft - hop] overlap-add sums of samples not final yet
    envelope: torch.Tensor | None = None  # [n_fft - hop] sum of squared windows over the same samples
    hops: int = 0  # hops decoded so far
    emitted: int = 0  # output samples returned so far


class Decoder(nn.Module):
    def __init__(self, config: CodecConfig):
        super().__init__()
        d = config.decoder
        self.n_fft = d.n_fft
        self.inp = nn.Linear(config.vq.dim + config.fsq.dim, d.frame_dim)
        self.frame_blocks = nn.ModuleList(
            CausalConvNeXtBlock(d.frame_dim, 3 * d.frame_dim, d.frame_kernel, 1.0 / max(1, d.frame_blocks))
            for _ in range(d.frame_blocks)
        )
        self.upsample = nn.Linear(d.frame_dim, HOPS_PER_FRAME * d.dim)
        self.norm = nn.LayerNorm(d.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            CausalConvNeXtBlock(d.dim, d.intermediate_dim, d.kernel_size, 1.0 / d.num_layers)
            for _ in range(d.num_layers)
        )
        self.final_norm = nn.LayerNorm(d.dim, eps=1e-6)
        self.head = ISTFTHead(d.dim, n_fft=d.n_fft, hop_length=HOP_SAMPLES, padding="same")
        self.traced: TracedSteps | None = None  # after trace_steps(): frozen graphs of the streaming step

    # --- shared by one-shot and streaming -------------------------------------------------------------

    @property
    def conv_blocks(self) -> list[CausalConvNeXtBlock]:
        """Every block with a streaming history, in the order of ``DecoderState.pasts``."""
        return [*self.frame_blocks, *self.blocks]

    def _hidden(self, x: torch.Tensor, pasts: list[torch.Tensor | None] | None) -> torch.Tensor:
        """Frame inputs ``[B, T, C_in]`` -> backbone output ``[B, 8T, dim]``; streaming when ``pasts`` (the
        blocks' histories, ``DecoderState.pasts``) is given, which it updates in place."""
        b, t, _ = x.shape
        nf = len(self.frame_blocks)
        h = self.inp(x).transpose(1, 2)  # [B, frame_dim, T]
        for i, block in enumerate(self.frame_blocks):
            h = self._run_block(block, h, pasts, i)
        h = self.upsample(h.transpose(1, 2)).reshape(b, t * HOPS_PER_FRAME, -1)  # [B, 8T, dim]
        h = self.norm(h).transpose(1, 2)  # [B, dim, 8T]
        for i, block in enumerate(self.blocks):
            h = self._run_block(block, h, pasts, nf + i)
        return self.final_norm(h.transpose(1, 2))  # [B, 8T, dim]

    @staticmethod
    def _run_block(
        block: CausalConvNeXtBlock, h: torch.Tensor, pasts: list[torch.Tensor | None] | None, i: int
    ) -> torch.Tensor:
        if pasts is None:
            return block(h)
        padded = causal_pad(h, pasts[i], block.history)  # [B, C, history + T]
        pasts[i] = padded[:, :, padded.shape[-1] - block.history :]
        return block.forward_padded(h, padded)

    def _spectrum(self, hidden: torch.Tensor) -> torch.Tensor:
        """What ``vocos.heads.ISTFTHead.forward`` computes before its ISTFT: ``[B, L, dim]`` -> complex
        ``[B, n_fft/2 + 1, L]`` (log-magnitude clipped at 100, phase as cos/sin)."""
        x = self.head.out(hidden).transpose(1, 2)
        mag, phase = x.chunk(2, dim=1)
        mag = torch.clip(torch.exp(mag), max=1e2)
        return mag * (torch.cos(phase) + 1j * torch.sin(phase))

    # --- one-shot -------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Frame inputs ``[B, T, C_in]`` -> audio ``[B, 1920·T]``."""
        return self.head.istft(self._spectrum(self._hidden(x, None)))

    # --- streaming ---------------------------------------------------------------------------------------

    def new_state(self) -> DecoderState:
        return DecoderState(pasts=[None] * len(self.conv_blocks))

    def stream(self, x: torch.Tensor, state: DecoderState) -> torch.Tensor:
        """Decodes the next frames ``[B, T, C_in]`` (T >= 1) of a stream; returns the samples that are final.

        A stream's first call returns ``1920·T - 360`` samples, later calls ``1920·T``; ``finish`` returns
        the last 360. Updates ``state`` in place.
        """
        # a running stream (its histories and overlap-add tail exist) may take the traced graph
        if self.traced is not None and x.shape[1] <= TRACE_MAX_FRAMES and state.ola is not None:
            steady = self.traced("steady", x, state.pasts, state.ola, state.envelope)
            if steady is not None:
                out, state.pasts, state.ola, state.envelope = steady
                state.hops += x.shape[1] * HOPS_PER_FRAME
                state.emitted += out.shape[-1]
                return out
        frames, state.pasts = self._windowed(x, state.pasts)
        return self._overlap_add(frames, state)

    def stream_many(self, x: torch.Tensor, states: list[DecoderState]) -> list[torch.Tensor]:
        """One piece for each of N independent streams in one batched pass: row i of ``x`` ``[N, T, C_in]``
        continues ``states[i]`` (each a batch-1 stream, new or not). Returns what ``stream`` would return
        for each, ``[1, n_i]``; the streams may be at different positions (continuous batching in serve).
        """
        n = x.shape[0]
        if n != len(states) or any(s.ola is not None and s.ola.shape[0] != 1 for s in states):
            raise ValueError(f"stream_many takes one batch-1 state per row ({n} rows, {len(states)} states)")
        use_trace = self.traced is not None and x.shape[1] <= TRACE_MAX_FRAMES
        rows = 1 << (n - 1).bit_length() if use_trace else n  # powers of two: few shapes to trace
        pasts = []
        for j, block in enumerate(self.conv_blocks):
            per = [s.pasts[j] for s in states]
            if rows > n or any(p is None for p in per):  # a new stream's history and the padding rows: zeros
                zero = x.new_zeros(1, block.dwconv.in_channels, block.history)
                per = [p if p is not None else zero for p in per] + [zero] * (rows - n)
            pasts.append(torch.cat(per))  # [rows, C, k-1]
        if rows > n:
            x = torch.cat([x, x.new_zeros(rows - n, *x.shape[1:])])
        traced = self.traced("windowed", x, pasts) if use_trace else None
        frames, new = traced if traced is not None else self._windowed(x, pasts)  # [rows, n_fft, 8T]
        out = []
        for i, s in enumerate(states):
            s.pasts = [p[i : i + 1] for p in new]
            out.append(self._overlap_add(frames[i : i + 1], s))
        return out

    def _overlap_add(self, frames: torch.Tensor, state: DecoderState) -> torch.Tensor:
        """Adds windowed ISTFT frames ``[B, n_fft, L]`` onto ``state``'s pending tail; returns the final
        samples ``[B, n]`` (the first call of a stream trims the 360 samples of "same" padding)."""
        window = self.head.istft.window.to(frames.dtype)
        b, n, length = frames.shape
        tail = n - HOP_SAMPLES
        # Overlap-add the new windows onto the pending tail, in the coordinates of the first new hop.
        span = length * HOP_SAMPLES + tail
        ola = F.fold(frames, (1, span), (1, n), stride=(1, HOP_SAMPLES))[:, 0, 0]  # [B, span]
        env = self._envelope(length, window).clone()  # [span]
        if state.ola is not None:
            ola[:, :tail] += state.ola
            env[:tail] += state.envelope
        state.ola, state.envelope = ola[:, -tail:].clone(), env[-tail:].clone()
        final = length * HOP_SAMPLES  # samples before the next hop's window starts are complete
        start = self._pad if state.hops == 0 else 0  # "same" padding trims the first 360 samples
        state.hops += length
        out = ola[:, start:final] / env[start:final]
        state.emitted += out.shape[-1]
        return out

    def _steady(
        self, x: torch.Tensor, pasts: list[torch.Tensor], ola: torch.Tensor, envelope: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """A running stream's whole step as a pure function (what ``codec.decoder_trace`` traces): frame
        inputs, conv histories and the pending overlap-add tail (``ola`` ``[B, n_fft - hop]`` and its
        ``envelope``) -> final samples ``[B, 1920·T]``, new histories, new tail and envelope."""
        frames, pasts = self._windowed(x, pasts)
        state = DecoderState(ola=ola, envelope=envelope, hops=1)  # hops > 0: no "same" trim
        out = self._overlap_add(frames, state)
        return out, pasts, state.ola, state.envelope

    def _windowed(
        self, x: torch.Tensor, pasts: list[torch.Tensor | None]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The pure part of ``stream``: frame inputs ``[B, T, C_in]`` and the conv histories
        (``DecoderState.pasts``) -> windowed ISTFT frames ``[B, n_fft, 8T]`` and the new histories. What
        ``codec.decoder_trace`` traces."""
        pasts = list(pasts)  # the caller's list stays as it was
        hidden = self._hidden(x, pasts)  # [B, 8T, dim]
        frames = torch.fft.irfft(self._spectrum(hidden), self.n_fft, dim=1)  # [B, n_fft, 8T]
        window = self.head.istft.window.to(frames.dtype)
        return frames * window[None, :, None], pasts

    def trace_steps(self) -> None:
        """Streams through traced, frozen graphs from now on (inference; see ``codec.decoder_trace``)."""
        from codec.decoder_trace import TracedSteps

        self.traced = TracedSteps(self)

    def _envelope(self, length: int, window: torch.Tensor) -> torch.Tensor:
        """Sum of squared windows of ``length`` consecutive hops ``[length·hop + n_fft - hop]`` (cached)."""
        key = (length, window.device, window.dtype)
        cache = self.__dict__.setdefault("_envelopes", {})
        if key not in cache:
            n = window.shape[0]
            span = length * HOP_SAMPLES + n - HOP_SAMPLES
            cache[key] = F.fold(
                window.square().expand(1, length, -1).transpose(1, 2),
                (1, span),
                (1, n),
                stride=(1, HOP_SAMPLES),
            )[0, 0, 0]
        return cache[key]

    def finish(self, state: DecoderState) -> torch.Tensor:
        """The held-back samples at the end of a stream (360 per item; empty if nothing was decoded)."""
        if state.ola is None:
            return torch.zeros(0)
        out = state.ola[:, : self._pad] / state.envelope[: self._pad]
        state.emitted += out.shape[-1]
        state.ola, state.envelope = state.ola[:, :0], state.envelope[:0]
        return out

    @property
    def _pad(self) -> int:
        return (self.n_fft - HOP_SAMPLES) // 2
