"""Hooks into a fine-tuning run: logging, custom loss terms, early looks at the data.

Subclass ``Callback`` and override what you need; every method has a do-nothing default:

    class PitchLoss(Callback):
        def extra_loss(self, model, batch, loss):
            return 0.1 * my_pitch_penalty(model, batch)      # a scalar tensor, added to loss.total

        def on_validation(self, step, metrics):
            wandb.log(metrics, step=step)

    flowtts.finetune.adapt("recordings/", out="my-voice/", callbacks=[PitchLoss()])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from flowtts.finetune.data import DataSummary
    from flowtts.model.tts import TTSBatch, TTSLoss, TTSModel


class Callback:
    def on_data(self, summary: DataSummary) -> None:
        """The data was prepared: minutes usable, every rejected file and why. Called before the check of
        the minimum, so a run that stops for too little data still reports what it skipped."""

    def on_step(self, step: int, logs: dict[str, float]) -> None:
        """After each optimiser step: loss, semantic, flow, accuracy, extra, grad_norm, lr."""

    def on_validation(self, step: int, metrics: dict[str, float]) -> None:
        """After each validation (step 0 is the base model): valid_loss, valid_semantic, valid_flow,
        valid_accuracy, best_valid_loss."""

    def extra_loss(self, model: TTSModel, batch: TTSBatch, loss: TTSLoss) -> torch.Tensor | None:
        """A scalar term added to the training loss of this batch (None: nothing). ``model`` runs with the
        adapter in training; the term is not part of the validation loss that early stopping watches."""
        return None
