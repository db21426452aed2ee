"""Causal encoder: 24 kHz waveform -> one latent per 80 ms frame (12.5 Hz).

    wav [B, S]                          S = T·1920
    -> causal log-mel                   [B, 100, 8T]     100 Hz
    -> causal conv k3 + ConvNeXt ×2     [B, 256, 8T]
    -> causal conv k4 s2 + ConvNeXt ×2  [B, 256, 4T]     50 Hz
    -> causal conv k4 s2 + attention ×1 [B, 4T/2, 256]   25 Hz  (window 1.28 s)
    -> causal conv k4 s2 + attention ×2 [B, T, 256]      12.5 Hz (window 1.28 s)
    -> linear                           [B, T, vq.dim + fsq.dim]

Voxtral patchifies raw samples and strides down with conv + transformer blocks; we start from a log-mel
(much cheaper to learn from on a CPU budget) and keep the rest of the shape. Every layer is causal: frame
f reads samples up to the end of frame f only, so encoding a prefix of a signal gives the same frames as
encoding the whole signal (tested), and the encoder can follow a live stream.
"""

from __future__ import annotations

import torch
from torch import nn

from codec.config import CodecConfig
from codec.layers import CausalConv1d, CausalConvNeXtBlock, WindowedAttentionLayer
from codec.mel import CausalLogMel


class Encoder(nn.Module):
    def __init__(self, config: CodecConfig):
        super().__init__()
        e = config.encoder
        self.mel = CausalLogMel(e.n_fft, e.n_mels)
        self.stem = CausalConv1d(e.n_mels, e.dim, kernel_size=3)
        n100, n50 = e.conv_blocks
        scale = 1.0 / max(1, n100 + n50)
        self.blocks_100 = nn.ModuleList(
            CausalConvNeXtBlock(e.dim, 3 * e.dim, e.kernel_size, scale) for _ in range(n100)
        )
        self.down_50 = CausalConv1d(e.dim, e.dim, kernel_size=4, stride=2)
        self.blocks_50 = nn.ModuleList(
            CausalConvNeXtBlock(e.dim, 3 * e.dim, e.kernel_size, scale) for _ in range(n50)
        )
        self.down_25 = CausalConv1d(e.dim, e.attn_dim, kernel_size=4, stride=2)
        self.attn_25 = nn.ModuleList(
            WindowedAttentionLayer(e.attn_dim, e.heads, window=round(e.window_s * 25))
            for _ in range(e.attn_layers[0])
        )
        self.down_12 = CausalConv1d(e.attn_dim, e.attn_dim, kernel_size=4, stride=2)
        self.attn_12 = nn.ModuleList(
            WindowedAttentionLayer(e.attn_dim, e.heads, window=round(e.window_s * 12.5))
            for _ in range(e.attn_layers[1])
        )
        self.norm = nn.LayerNorm(e.attn_dim)
        self.out = nn.Linear(e.attn_dim, config.vq.dim + config.fsq.dim)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``wav`` ``[B, S]`` with S a multiple of 1920 -> latents ``[B, S / 1920, vq.dim + fsq.dim]``."""
        x = self.stem(self.mel(wav))  # [B, C, 8T]
        for block in self.blocks_100:
            x = block(x)
        x = self.down_50(x)  # [B, C, 4T]
        for block in self.blocks_50:
            x = block(x)
        x = self.down_25(x).transpose(1, 2)  # [B, 2T, C]
        for layer in self.attn_25:
            x = layer(x)
        x = self.down_12(x.transpose(1, 2)).transpose(1, 2)  # [B, T, C]
        for layer in self.attn_12:
            x = layer(x)
        return self.out(self.norm(x))  # [B, T, vq.dim + fsq.dim]

    @property
    def receptive_field_frames(self) -> int:
        """How many past frames can influence a frame (an exact bound, used for chunked encoding).

        Counted in 100 Hz hops: each layer adds its look-back times the hop length of its rate.
        """
        hops = self.mel.n_fft // 240 - 1  # analysis window reaches back n_fft - 240 samples
        hops += self.stem.pad
        hops += sum(b.history for b in self.blocks_100)
        hops += self.down_50.pad  # at 100 Hz
        hops += 2 * sum(b.history for b in self.blocks_50)
        hops += 2 * self.down_25.pad  # at 50 Hz
        hops += 4 * sum(layer.window for layer in self.attn_25)
        hops += 4 * self.down_12.pad  # at 25 Hz
        hops += 8 * sum(layer.window for layer in self.attn_12)
        return -(-hops // 8) + 1
