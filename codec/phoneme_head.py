"""CTC phoneme head: reads only the semantic codewords, so what it predicts is carried by the semantic ids.

This is how the semantic branch learns linguistic content without an aligner (Voxtral distils Whisper
instead): the CTC loss flows through the VQ's straight-through estimator into the encoder, so the
semantic half of each frame is shaped to say *which sounds* are spoken; the acoustic half keeps the rest.
At evaluation, decoding phonemes from ``vq.embed(ids)`` alone measures how much the ids carry (PER).

    codewords [B, T, vq.dim] -> linear -> Vocos ConvNeXt ×2 (non-causal, k7) -> ×upsample -> [B, T·up, P+1]
"""

from __future__ import annotations

import torch
from torch import nn
from vocos.modules import ConvNeXtBlock

from codec.config import CodecConfig


class PhonemeHead(nn.Module):
    def __init__(self, config: CodecConfig):
        super().__init__()
        h = config.phoneme_head
        self.upsample = h.upsample
        self.inp = nn.Linear(config.vq.dim, h.dim)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(h.dim, 3 * h.dim, 1.0 / max(1, h.blocks)) for _ in range(h.blocks)
        )
        self.expand = nn.Linear(h.dim, h.upsample * h.dim)
        self.act = nn.GELU()
        self.out = nn.Linear(h.dim, len(config.phonemes) + 1)  # + the CTC blank at index 0

    def forward(self, codewords: torch.Tensor) -> torch.Tensor:
        """``[B, T, vq.dim]`` -> CTC log-probabilities ``[B, T·upsample, P + 1]``."""
        b, t, _ = codewords.shape
        x = self.inp(codewords).transpose(1, 2)  # [B, dim, T]
        for block in self.blocks:
            x = block(x)
        x = self.expand(x.transpose(1, 2)).reshape(b, t * self.upsample, -1)  # [B, T·up, dim]
        return self.out(self.act(x)).log_softmax(-1)
