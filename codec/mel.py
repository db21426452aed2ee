"""Log-mel spectrograms: the encoder's causal 100 Hz analysis and the training losses' multi-scale mels."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchaudio.functional import melscale_fbanks

from flowtts.constants import HOP_SAMPLES, SAMPLE_RATE


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Slaney-normalised mel filterbank ``[n_fft // 2 + 1, n_mels]`` from 0 Hz to Nyquist."""
    return melscale_fbanks(
        n_freqs=n_fft // 2 + 1,
        f_min=0.0,
        f_max=sample_rate / 2,
        n_mels=n_mels,
        sample_rate=sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )


class CausalLogMel(nn.Module):
    """Waveform ``[B, S]`` (S a multiple of 240) -> log-mel ``[B, n_mels, S / 240]`` at 100 Hz, causally.

    Step t analyses the ``n_fft`` samples that end where hop t ends (``(t+1)·240``), zero-padded on the
    left at the start: nothing after hop t is read, so the encoder above it can run on a live stream.
    """

    def __init__(self, n_fft: int = 960, n_mels: int = 100):
        super().__init__()
        if n_fft < HOP_SAMPLES:
            raise ValueError(f"n_fft must be >= {HOP_SAMPLES}")
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fbank", mel_filterbank(n_fft, n_mels), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.shape[-1] % HOP_SAMPLES:
            raise ValueError(f"waveform length {wav.shape[-1]} is not a multiple of {HOP_SAMPLES}")
        x = F.pad(wav.float(), (self.n_fft - HOP_SAMPLES, 0))  # [B, S + n_fft - hop]
        spec = torch.stft(
            x, self.n_fft, HOP_SAMPLES, window=self.window, center=False, return_complex=True
        )  # [B, F, S / hop]
        power = spec.real.pow(2) + spec.imag.pow(2)
        mel = torch.einsum("bft,fm->bmt", power, self.fbank)  # [B, n_mels, T]
        # log power, shifted and scaled to about [-1.5, 1.5] for speech at -23 LUFS (silence -> -2.5)
        return (torch.log(mel.clamp_min(1e-7)) + 5.0) / 5.0


class MelSpectrogram(nn.Module):
    """Centered log-mel magnitude (losses, mel distance): ``[B, S]`` -> ``[B, n_mels, frames]``."""

    def __init__(self, n_fft: int, hop: int, n_mels: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fbank", mel_filterbank(n_fft, n_mels), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            wav.float(), self.n_fft, self.hop, window=self.window, center=True, return_complex=True
        )  # [B, F, frames]
        mag = spec.abs()
        return torch.log(torch.einsum("bft,fm->bmt", mag, self.fbank).clamp_min(1e-5))
