"""Reconstruction loss: multi-resolution STFT (spectral convergence + log magnitude) and multi-scale log-mel
L1, computed from one STFT per resolution. Padding is zeroed in both signals by the caller."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from codec.mel import mel_filterbank

# (n_fft, hop, n_mels); n_mels 0 = linear-magnitude terms only at this resolution
SCALES = ((256, 64, 0), (512, 128, 80), (1024, 256, 100), (2048, 512, 128))


@dataclass
class SpectralLosses:
    mel: torch.Tensor  # scalar: mean over mel scales of L1 between natural-log mel magnitudes
    stft: torch.Tensor  # scalar: mean over resolutions of spectral convergence + L1 of log magnitudes


class SpectralLoss(nn.Module):
    def __init__(self, scales: tuple[tuple[int, int, int], ...] = SCALES):
        super().__init__()
        self.scales = scales
        for n, _, m in scales:
            self.register_buffer(f"window_{n}", torch.hann_window(n), persistent=False)
            if m:
                self.register_buffer(f"fbank_{n}", mel_filterbank(n, m), persistent=False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> SpectralLosses:
        """``pred``, ``target`` ``[B, S]``."""
        mel_total = pred.new_zeros(())
        stft_total = pred.new_zeros(())
        n_mel = 0
        for n, hop, m in self.scales:
            window = getattr(self, f"window_{n}")
            p = torch.stft(pred.float(), n, hop, window=window, return_complex=True).abs()  # [B, F, frames]
            t = torch.stft(target.float(), n, hop, window=window, return_complex=True).abs()
            sc = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp_min(1e-7)
            log_mag = (torch.log(p.clamp_min(1e-5)) - torch.log(t.clamp_min(1e-5))).abs().mean()
            stft_total = stft_total + sc + log_mag
            if m:
                fbank = getattr(self, f"fbank_{n}")  # [F, M]
                pm = torch.log(torch.einsum("bft,fm->bmt", p, fbank).clamp_min(1e-5))
                tm = torch.log(torch.einsum("bft,fm->bmt", t, fbank).clamp_min(1e-5))
                mel_total = mel_total + (pm - tm).abs().mean()
                n_mel += 1
        return SpectralLosses(mel=mel_total / max(1, n_mel), stft=stft_total / len(self.scales))
