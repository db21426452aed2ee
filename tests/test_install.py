"""The install works on a CPU-only torch: vocos (which imports torchaudio) loads and runs."""

import torch


def test_torch_is_the_cpu_build_or_has_its_gpu():
    assert torch.__version__.startswith("2.")
    assert not torch.cuda.is_available() or torch.version.cuda


def test_vocos_imports_and_decodes_on_cpu():
    from vocos.heads import ISTFTHead
    from vocos.loss import MelSpecReconstructionLoss
    from vocos.models import VocosBackbone

    backbone = VocosBackbone(input_channels=16, dim=32, intermediate_dim=64, num_layers=2)
    head = ISTFTHead(dim=32, n_fft=960, hop_length=240, padding="same")
    frames = torch.randn(1, 16, 100)  # [B, C, T] at 100 Hz
    wav = head(backbone(frames))  # [B, T * 240]
    assert wav.shape == (1, 24000) and torch.isfinite(wav).all()
    loss = MelSpecReconstructionLoss(sample_rate=24000)(wav, torch.zeros_like(wav))  # torchaudio mel
    assert torch.isfinite(loss)
