"""``TTSTrainConfig``: a TTS training run, from one TOML file (``configs/tts.toml``).

    [train]       steps, optimiser, loss weights, cadence
    [train.data]  batch size in positions, prompt lengths (flowtts.training.tts_data.DataConfig)
    [train.guided_attention]  the optional alignment prior (flowtts.model.guided_attention.GuidedAttention)
    [model.*]     the architecture (flowtts.model.config.TTSConfig: backbone, flow, sampling)

Unknown keys are an error.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields

from flowtts.errors import FlowTTSError
from flowtts.model.config import TTSConfig
from flowtts.model.guided_attention import GuidedAttention
from flowtts.training.config_file import read_train_toml
from flowtts.training.tts_data import DataConfig


@dataclass(frozen=True)
class TTSTrainConfig:
    model: TTSConfig = field(default_factory=TTSConfig)
    data: DataConfig = field(default_factory=DataConfig)
    steps: int = 30_000
    lr: float = 1e-3
    lr_min: float = 5e-5
    warmup_steps: int = 500
    decay_steps: int = 0  # 0: cosine from lr to lr_min over all steps; > 0: constant lr, then a cosine
    # decay over the last decay_steps (warmup-stable-decay; fork a run and raise steps to release it)
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    flow_weight: float = 1.0
    # > 0: the text-CTC loss of the frames' backbone states (flowtts.model.tts), weighted into the total;
    # turns on the model's text-CTC head (model text_ctc), also when resuming a run trained without it
    ctc_weight: float = 0.0
    # a diagonal prior on some heads' attention to the text (weight 0: off); like ctc_weight it can be turned
    # on when a run is resumed (it has no parameters)
    guided_attention: GuidedAttention = field(default_factory=GuidedAttention)
    log_every: int = 25
    val_every: int = 1000
    val_samples: int = 4  # utterances synthesised to disk at each validation
    checkpoint_minutes: float = 10.0
    keep_checkpoints: int = 2
    seed: int = 0
    threads: int = 0
    bf16: bool = False  # autocast the backbone to bfloat16 (CUDA; on CPU it is usually slower)

    def __post_init__(self) -> None:
        backbone = self.model.backbone
        self.guided_attention.validate(backbone.layers, backbone.heads)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TTSTrainConfig:
        names = {f.name for f in fields(cls)}
        kwargs: dict = {}
        for key, value in d.items():
            if key == "model":
                kwargs[key] = TTSConfig.from_dict(value)
            elif key == "data":
                unknown = set(value) - {f.name for f in fields(DataConfig)}
                if unknown:
                    raise FlowTTSError(f"training config: unknown keys {sorted(unknown)} in [train.data]")
                kwargs[key] = DataConfig(
                    **{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
                )
            elif key == "guided_attention":
                unknown = set(value) - {f.name for f in fields(GuidedAttention)}
                if unknown:
                    raise FlowTTSError(
                        f"training config: unknown keys {sorted(unknown)} in [train.guided_attention]"
                    )
                kwargs[key] = GuidedAttention(
                    **{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
                )
            elif key in names:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
            else:
                raise FlowTTSError(f"training config: unknown key {key!r}")
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TTSTrainConfig:
        d = read_train_toml(path, "model")
        try:
            return cls.from_dict(d)
        except (FlowTTSError, TypeError, ValueError) as e:
            raise FlowTTSError(f"{path}: {e}") from e

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=1)
