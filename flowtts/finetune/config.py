"""``FinetuneConfig``: every setting of a voice-adaptation run, frozen, validated and read in one place.

Defaults (why):
- LoRA rank 16, alpha 32 on the backbone's attention and feed-forward layers and on every Linear of the
  flow head: 1.05 M parameters on the default model (2.1 MB in float16), within the issue's 5 MB budget.
  The backbone carries rhythm and pronunciation (semantic ids), the flow head the timbre (acoustic
  latents), so both are adapted. Rank 16 rather than 8 because the flow head is small (256 wide) and a
  voice's timbre is what a pack is for; the budget allows it.
- Learning rate 1e-3 for LoRA (the usual range for rank 8–64 adapters of small transformers), 5e-5 for full
  fine-tuning (about 1/20 of the base model's peak, as fine-tuning recipes do), warm-up 20 steps, cosine
  decay to a tenth.
- A held-out tenth of the clips (at least 2) decides early stopping: validation every 50 steps, stop after
  6 validations without a 0.1 % improvement; the pack gets the best validation step's weights.
- ``min_minutes`` 3: the issue promises "from 5 minutes of audio upward"; 5 minutes of recordings keep about
  3.5–4.5 minutes after silence is trimmed and bad clips are rejected, and below 3 minutes the held-out
  clips (about 20 s) are too few for a validation loss that can stop training reliably.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from flowtts.adapters.lora import DEFAULT_TARGETS, LoRAConfig
from flowtts.errors import FlowTTSError

# Settings a resumed run may change (the rest must equal the interrupted run's).
RESUMABLE = frozenset({"steps", "max_epochs", "patience", "min_delta", "threads", "samples"})


@dataclass(frozen=True)
class FinetuneConfig:
    # what is trained
    full: bool = False  # True: every weight of the model trains (the pack holds a whole model)
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05  # on the LoRA branches' inputs
    targets: tuple[str, ...] = DEFAULT_TARGETS  # flowtts.adapters.lora.TARGET_GROUPS names or patterns
    # optimisation
    lr: float | None = None  # None: 1e-3 with LoRA, 5e-5 with full
    lr_min_ratio: float = 0.1  # cosine decay to lr · this
    warmup_steps: int = 20
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    flow_weight: float = 1.0  # loss = semantic cross-entropy + flow_weight · flow-matching MSE
    steps: int = 1000  # at most this many optimiser steps …
    max_epochs: int = 0  # … and at most this many passes over the training clips (0: no limit)
    batch_positions: int = 2000  # padded sequence positions per batch (memory and step time scale with it)
    # held-out split and early stopping
    valid_fraction: float = 0.1
    min_valid_clips: int = 2
    val_every: int = 50
    patience: int = 6  # validations without improvement before stopping
    min_delta: float = 0.001  # relative improvement of the validation loss that counts
    # data
    min_minutes: float = 3.0  # less usable audio stops the run before training
    min_clip_seconds: float = 1.0
    max_clip_seconds: float = 15.0  # longer files are split at sentence pauses (or rejected)
    # run
    samples: int = 2  # sentences synthesised before and after for the report (0: none)
    seed: int = 0
    threads: int = 0  # torch threads (0: torch's default)

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise FlowTTSError(f"fine-tune setting {what}")

        if not self.full:
            self.lora  # noqa: B018 - validates rank, alpha, dropout, targets
        need(self.lr is None or self.lr > 0, f"lr must be > 0, got {self.lr}")
        need(0 <= self.lr_min_ratio <= 1, f"lr_min_ratio must be in [0, 1], got {self.lr_min_ratio}")
        need(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        need(self.grad_clip > 0, f"grad_clip must be > 0, got {self.grad_clip}")
        need(self.flow_weight >= 0, f"flow_weight must be >= 0, got {self.flow_weight}")
        need(self.steps >= 1, f"steps must be >= 1, got {self.steps}")
        need(self.max_epochs >= 0, f"max_epochs must be >= 0, got {self.max_epochs}")
        need(self.batch_positions >= 64, f"batch_positions must be >= 64, got {self.batch_positions}")
        need(0 < self.valid_fraction < 0.5, f"valid_fraction must be in (0, 0.5), got {self.valid_fraction}")
        need(self.min_valid_clips >= 1, f"min_valid_clips must be >= 1, got {self.min_valid_clips}")
        need(self.val_every >= 1, f"val_every must be >= 1, got {self.val_every}")
        need(self.patience >= 1, f"patience must be >= 1, got {self.patience}")
        need(self.min_delta >= 0, f"min_delta must be >= 0, got {self.min_delta}")
        need(self.min_minutes >= 0, f"min_minutes must be >= 0, got {self.min_minutes}")
        need(
            0 < self.min_clip_seconds < self.max_clip_seconds,
            f"needs 0 < min_clip_seconds ({self.min_clip_seconds}) < max_clip_seconds "
            f"({self.max_clip_seconds})",
        )
        need(self.samples >= 0, f"samples must be >= 0, got {self.samples}")
        need(self.threads >= 0, f"threads must be >= 0, got {self.threads}")

    @property
    def lora(self) -> LoRAConfig:
        return LoRAConfig(rank=self.rank, alpha=self.alpha, dropout=self.dropout, targets=tuple(self.targets))

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 5e-5 if self.full else 1e-3

    @property
    def mode(self) -> str:
        return "full" if self.full else "lora"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["targets"] = list(self.targets)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FinetuneConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise FlowTTSError(f"fine-tune config: unknown keys {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def changed_for_resume(self, saved: FinetuneConfig) -> list[str]:
        """Settings that differ from ``saved`` and that a resumed run may not change."""
        mine, theirs = self.to_dict(), saved.to_dict()
        return sorted(k for k in mine if k not in RESUMABLE and mine[k] != theirs[k])
