"""Shared by the codec and CLI tests: a tiny codec configuration and a tiny corpus on disk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec.config import CodecConfig, DecoderConfig, EncoderConfig, PhonemeHeadConfig
from codec.frames import Frames
from codec.model import Codec
from codec.quantizers.fsq import FSQConfig
from codec.quantizers.vq import VQConfig
from flowtts.constants import SAMPLE_RATE
from flowtts.data.manifest import Utterance, write_manifest

PHONEMES = ("a", "b", "c")


def tiny_config(**overrides: object) -> CodecConfig:
    """A codec small enough to run a forward pass in milliseconds; the time structure is the real one
    (mel n_fft 960, 8 hops per frame, decoder ISTFT n_fft 960: 360 samples of look-ahead)."""
    config = CodecConfig(
        encoder=EncoderConfig(
            n_mels=16,
            dim=16,
            conv_blocks=(1, 1),
            kernel_size=3,
            attn_dim=16,
            attn_layers=(1, 1),
            heads=2,
            window_s=0.32,  # 8 steps at 25 Hz, 4 at 12.5 Hz
        ),
        decoder=DecoderConfig(
            frame_dim=16,
            frame_blocks=1,
            frame_kernel=3,
            dim=16,
            intermediate_dim=32,
            num_layers=2,
            kernel_size=3,
        ),
        vq=VQConfig(codebook_size=16, dim=8),
        fsq=FSQConfig(dim=4, levels=5),
        phoneme_head=PhonemeHeadConfig(dim=16, blocks=1, upsample=3),
        phonemes=PHONEMES,
    )
    return replace(config, **overrides)  # type: ignore[arg-type]


def tiny_codec(seed: int = 0, **overrides: object) -> Codec:
    torch.manual_seed(seed)
    return Codec(tiny_config(**overrides)).eval()


def random_frames(codec: Codec, batch: int, frames: int, seed: int = 0) -> Frames:
    """Valid frames for ``codec``: random ids and random FSQ grid values."""
    g = torch.Generator().manual_seed(seed)
    k, d, levels = codec.config.vq.codebook_size, codec.config.fsq.dim, codec.config.fsq.levels
    semantic = torch.randint(0, k, (batch, frames), generator=g)
    acoustic = codec.fsq.codes_to_values(torch.randint(0, levels, (batch, frames, d), generator=g))
    return Frames(semantic, acoustic, codebook_size=k, fsq_levels=levels)


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """A non-stationary test signal at 24 kHz: gliding tones with noise bursts, peak about 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(100, 300) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / SAMPLE_RATE)
    envelope = (np.sin(2 * np.pi * rng.uniform(1, 4) * t) > 0).astype(np.float64)
    x += 0.2 * envelope * rng.standard_normal(n)
    return (x / max(1e-9, np.abs(x).max()) * 0.5).astype(np.float32)


# (seconds, IPA) of the train utterances; valid gets two more
_TRAIN = [
    (0.5, "hˈɛloʊ"),
    (0.8, "wˈɜːld"),
    (1.0, "tˈɛst t͡ʃiːz"),
    (1.2, "ðə kˈæt"),
    (1.5, "a b c"),
    (2.0, "bˈɔnʒuʁ (en)hˈaʊs(fr)"),
    (2.5, "ɡˈuːtn̩ tˈaːk"),
    (3.0, "ˈaːbɐ nˈaɪn"),
    (0.7, "hˈɛloʊ wˈɜːld"),
    (1.8, ""),  # no phonemes: never a CTC target
]
_VALID = [(1.0, "hˈɛloʊ"), (1.3, "tˈɛst")]


def make_corpus(root: Path, train: list[tuple[float, str]] | None = None) -> Path:
    """A corpus folder as ``flowtts data synth`` writes it: 24 kHz FLAC files + manifests/00000.jsonl."""
    rows = []
    for split, items in (("train", train if train is not None else _TRAIN), ("valid", _VALID)):
        for k, (seconds, ipa) in enumerate(items):
            uid = f"en-{split}-{k:06d}"
            rel = f"audio/00000/{uid}.flac"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(root / rel, speechlike(seconds, seed=len(rows)), SAMPLE_RATE, subtype="PCM_16")
            rows.append(
                Utterance(
                    id=uid,
                    audio=rel,
                    text="test",
                    normalized_text="test",
                    lang="en" if k % 2 == 0 else "fr",
                    voice="espeak-en",
                    speaker_group="espeak-en",
                    split=split,
                    seen_voice=True,
                    duration=seconds,
                    sample_rate=SAMPLE_RATE,
                    engine="espeak",
                    phonemes=ipa or None,
                )
            )
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    write_manifest(root / "manifests" / "00000.jsonl", rows)
    return root
