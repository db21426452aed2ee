"""``CodecTrainConfig``: everything a codec training run reads, from one TOML file (``configs/codec.toml``).

    [train]            steps, batch, optimiser, loss weights, validation and checkpoint cadence
    [train.dropout]    quantizer noise (codec.model.QuantizerDropout)
    [train.adversarial] optional GAN stage (Vocos multi-resolution discriminator + feature matching)
    [codec.*]          the codec architecture (codec.config.CodecConfig)

Unknown keys are an error, so a typo cannot silently fall back to a default.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields

from codec.config import CodecConfig
from codec.model import QuantizerDropout
from flowtts.errors import FlowTTSError
from flowtts.training.config_file import read_train_toml


@dataclass(frozen=True)
class AdversarialConfig:
    start_step: int = -1  # step at which the discriminator joins; -1 = never (reconstruction only)
    fft_sizes: tuple[int, ...] = (2048, 1024, 512)  # Vocos MultiResolutionDiscriminator resolutions
    feature_matching_weight: float = 2.0
    generator_weight: float = 1.0  # hinge generator loss (Voxtral uses feature matching only: set 0)
    lr: float = 2e-4


@dataclass(frozen=True)
class CodecTrainConfig:
    codec: CodecConfig = field(default_factory=CodecConfig)
    steps: int = 100_000
    batch_seconds: float = 32.0  # padded audio per optimiser step (per process)
    max_item_seconds: float = 8.0  # longer utterances are cropped (and skip the CTC loss)
    lr: float = 6e-4
    lr_min: float = 2e-5
    warmup_steps: int = 500
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.8, 0.99)
    grad_clip: float = 5.0
    mel_weight: float = 2.0
    stft_weight: float = 1.0
    ctc_weight: float = 0.3
    # Train the decoder only, on the frames inference produces (Codec.freeze_frames): for a run started
    # with `--init` from a trained codec, whose frames (and frames_id) must not change.
    freeze_frames: bool = False
    min_phone_count: int = 5  # phones rarer than this in train are left out of the CTC inventory
    dropout: QuantizerDropout = field(default_factory=QuantizerDropout)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    log_every: int = 25
    val_every: int = 500
    val_items: int = 36
    checkpoint_minutes: float = 10.0
    keep_checkpoints: int = 2
    seed: int = 0
    threads: int = 0  # torch intra-op threads per process; 0 = leave torch's default

    def to_dict(self) -> dict:
        d = asdict(self)
        d["codec"] = self.codec.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CodecTrainConfig:
        d = dict(d)
        kwargs: dict = {}
        names = {f.name for f in fields(cls)}
        for key, value in d.items():
            if key == "codec":
                kwargs[key] = CodecConfig.from_dict(value)
            elif key == "dropout":
                kwargs[key] = _sub(QuantizerDropout, value, key)
            elif key == "adversarial":
                kwargs[key] = _sub(AdversarialConfig, value, key)
            elif key in names:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
            else:
                raise FlowTTSError(f"training config: unknown key {key!r}")
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CodecTrainConfig:
        """Reads a TOML file: ``[train]`` (this class's fields) and ``[codec]`` (the architecture)."""
        d = read_train_toml(path, "codec")
        try:
            return cls.from_dict(d)
        except (TypeError, ValueError) as e:
            raise FlowTTSError(f"{path}: {e}") from e

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False)


def _sub(cls: type, value: dict, where: str):
    names = {f.name for f in fields(cls)}
    unknown = set(value) - names
    if unknown:
        raise FlowTTSError(f"training config: unknown keys {sorted(unknown)} in [{where}]")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
