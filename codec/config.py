"""The codec's configuration: frozen dataclasses, read in one place (``CodecConfig.from_dict`` / ``load``).

A released codec folder holds ``codec.json`` (this config, with ``format_version``) next to
``codec.safetensors``. Training configs (``codec/training/config.py``) embed a ``CodecConfig``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields

from codec.quantizers.fsq import FSQConfig
from codec.quantizers.vq import VQConfig
from flowtts.constants import FRAME_RATE, FRAME_SAMPLES, HOP_SAMPLES
from flowtts.errors import FlowTTSError

CONFIG_FORMAT_VERSION = 1


@dataclass(frozen=True)
class EncoderConfig:
    """Causal encoder: log-mel at 100 Hz -> ConvNeXt (100, 50 Hz) -> windowed attention (25, 12.5 Hz)."""

    n_mels: int = 100  # mel bands of the causal analysis (window ends at the current hop)
    n_fft: int = 960  # analysis window in samples (40 ms = 4 hops of look-back)
    dim: int = 256  # width at 100 and 50 Hz
    conv_blocks: tuple[int, int] = (2, 2)  # causal ConvNeXt blocks at 100 Hz and at 50 Hz
    kernel_size: int = 7  # depthwise kernel of those blocks (past-only)
    attn_dim: int = 256  # width at 25 and 12.5 Hz
    attn_layers: tuple[int, int] = (1, 2)  # causal transformer layers at 25 Hz and at 12.5 Hz
    heads: int = 4
    window_s: float = 1.28  # each attention layer sees this much past (plus the current step)


@dataclass(frozen=True)
class DecoderConfig:
    """Causal decoder: frame-rate ConvNeXt -> ×8 upsample -> Vocos ConvNeXt backbone -> ISTFT head."""

    frame_dim: int = 256  # width at 12.5 Hz
    frame_blocks: int = 2  # causal ConvNeXt blocks at 12.5 Hz
    frame_kernel: int = 3  # their depthwise kernel (past frames only)
    dim: int = 256  # Vocos backbone width at 100 Hz
    intermediate_dim: int = 768
    num_layers: int = 8
    kernel_size: int = 7  # depthwise kernel of the backbone (past hops only)
    n_fft: int = 960  # ISTFT size; hop is fixed at 240 (100 Hz)


@dataclass(frozen=True)
class PhonemeHeadConfig:
    """CTC head that reads only the semantic codewords (so: the ids) and predicts phonemes."""

    dim: int = 256
    blocks: int = 2  # non-causal ConvNeXt blocks at 12.5 Hz (this head never runs at inference)
    upsample: int = 3  # CTC steps per frame: phones can be faster than 12.5 per second


@dataclass(frozen=True)
class CodecConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    # Semantic VQ: 8192 codes compared by cosine in a 32-dim space (a low-dimensional lookup keeps codebook
    # use high, as in DAC); the encoder emits vq.dim + fsq.dim numbers per frame.
    vq: VQConfig = field(
        default_factory=lambda: VQConfig(codebook_size=8192, dim=32, dead_code_threshold=100, data_init=True)
    )
    fsq: FSQConfig = field(default_factory=FSQConfig)
    phoneme_head: PhonemeHeadConfig = field(default_factory=PhonemeHeadConfig)
    phonemes: tuple[str, ...] = ()  # the CTC inventory (index + 1; 0 is the CTC blank)

    def __post_init__(self) -> None:
        if HOP_SAMPLES * 8 != FRAME_SAMPLES:
            raise ValueError("the codec assumes 8 hops of 240 samples per 1920-sample frame")
        if self.decoder.n_fft < 2 * HOP_SAMPLES or self.decoder.n_fft % 2:
            raise ValueError(f"decoder.n_fft must be even and >= {2 * HOP_SAMPLES}")
        if (self.decoder.n_fft - HOP_SAMPLES) % 2:
            raise ValueError("decoder.n_fft - 240 must be even ('same' ISTFT padding)")

    # --- derived numbers ---------------------------------------------------------------------------------

    @property
    def bits_per_frame(self) -> float:
        """log2(K) for the semantic id + D·log2(L) for the acoustic vector."""
        return math.log2(self.vq.codebook_size) + self.fsq.dim * math.log2(self.fsq.levels)

    @property
    def bitrate(self) -> float:
        """Bits per second: 12.5 frames/s × (log2 K + D·log2 L). Defaults: 12.5 × (13 + 36·4.392) = 2139."""
        return FRAME_RATE * self.bits_per_frame

    @property
    def lookahead_samples(self) -> int:
        """Samples the streaming decoder holds back: the ISTFT overlap to the right, (n_fft - hop) / 2."""
        return (self.decoder.n_fft - HOP_SAMPLES) // 2

    # --- files -------------------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        d = asdict(self)
        d["format_version"] = CONFIG_FORMAT_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CodecConfig:
        """Builds a config from ``to_dict`` output; unknown keys are an error (typos must not pass)."""
        d = dict(d)
        version = d.pop("format_version", CONFIG_FORMAT_VERSION)
        if version > CONFIG_FORMAT_VERSION:
            raise FlowTTSError(f"codec config format_version {version} is newer than this flowtts")
        sub = {
            "encoder": EncoderConfig,
            "decoder": DecoderConfig,
            "vq": VQConfig,
            "fsq": FSQConfig,
            "phoneme_head": PhonemeHeadConfig,
        }
        kwargs = {}
        for key, value in d.items():
            if key in sub:
                kwargs[key] = _build(sub[key], value, key)
            elif key == "phonemes":
                kwargs[key] = tuple(value)
            elif key in {f.name for f in fields(cls)}:
                kwargs[key] = value
            else:
                raise FlowTTSError(f"codec config: unknown key {key!r}")
        return cls(**kwargs)

    def save(self, path: str | os.PathLike) -> None:
        from flowtts.atomic import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> CodecConfig:
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_dict(json.load(f))
        except (OSError, TypeError, ValueError) as e:  # ValueError: bad JSON, or a value the config refuses
            raise FlowTTSError(f"{path}: cannot read codec config ({e})") from e


def _build(cls: type, value: dict, where: str):
    names = {f.name for f in fields(cls)}
    unknown = set(value) - names
    if unknown:
        raise FlowTTSError(f"codec config: unknown keys {sorted(unknown)} in {where}")
    # JSON has no tuples; the dataclasses use tuples for fixed-size fields.
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
