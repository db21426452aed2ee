"""Guided attention: a training-only loss that teaches some attention heads the monotonic text alignment.

A decoder-only TTS model has to discover by itself which text piece each frame speaks; on a small corpus and
a few thousand steps it does not (measured on the first default-model run: no head's attention to the text
moved with the frame index). Guided attention (Tachibana et al., 2018, "Efficiently Trainable Text-to-Speech
… with Guided Attention", DC-TTS) puts a diagonal prior on the attention instead. Here it is applied to the
first ``heads`` query heads of the ``layers`` listed: for the state of target frame j of T (f₁…f_T) and key k,

    W[j, k] = 1 − exp(−((n_k + ½)/S − (j + ½)/T)² / 2σ²)    when k is the n_k-th of the S text pieces
    W[j, k] = 1                                              for every other key (prompt, control, frames)

and the loss is Σ_k A[j, k]·W[j, k] (the attention weight a head puts off the text diagonal), averaged over
the guided heads, the target frames and the layers. Those heads learn to read the text piece that is being
spoken; the rest of the network reads the position from them. Generation is unchanged (no prior at
inference) and the loss adds no parameters, so a run can turn it on when resumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from flowtts.errors import FlowTTSError


@dataclass(frozen=True)
class GuidedAttention:
    """``[train.guided_attention]`` of a TTS training config (off while ``weight`` is 0)."""

    weight: float = 0.0  # the loss's weight in the total; 0 = off
    sigma: float = 0.2  # width of the diagonal band, in fractions of the utterance (DC-TTS's g)
    layers: tuple[int, ...] = (2, 5)  # backbone layers (0-based) whose heads are guided
    heads: int = 2  # the first query heads of each of those layers

    def validate(self, layers: int, heads: int) -> None:
        """Raises ``FlowTTSError`` unless the guide fits a backbone of ``layers`` layers × ``heads`` heads."""
        if not self.weight >= 0:
            raise FlowTTSError(f"guided_attention weight {self.weight}: must be 0 (off) or more")
        if self.weight == 0:
            return
        if not self.sigma > 0:
            raise FlowTTSError(f"guided_attention sigma {self.sigma}: must be more than 0")
        if not self.layers or any(not 0 <= i < layers for i in self.layers):
            raise FlowTTSError(
                f"guided_attention layers {list(self.layers)}: each must be in 0..{layers - 1}"
            )
        if not 1 <= self.heads <= heads:
            raise FlowTTSError(f"guided_attention heads {self.heads}: must be in 1..{heads}")


def guide_weights(
    frames: torch.Tensor, text_lengths: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The penalty ``W`` ``[B, L, L]`` (query, key) and the query mask ``[B, L]`` of a right-padded batch.

    ``frames`` ``[B, L]`` bool marks the target frames f₁…f_T of each row (``target_frame_positions``); the S
    text pieces of a row (``text_lengths`` ``[B]``) sit just before its ``<repeat> <begin_audio> f₁`` (the
    layout of ``flowtts.model.sequence``), so they are the positions [p − 2 − S, p − 2) where p is f₁'s.
    """
    b, length = frames.shape
    pos = torch.arange(length, device=frames.device)[None]  # [1, L]
    has = frames.any(1)  # [B]
    first = frames.float().argmax(1)  # [B]: position of f₁ (argmax gives the first True)
    t = frames.sum(1).clamp_min(1)  # [B]
    s = text_lengths.clamp_min(1)  # [B]
    start = first - 2 - s  # [B]
    is_text = (pos >= start[:, None]) & (pos < (first - 2)[:, None]) & has[:, None]  # [B, L]
    n = ((pos - start[:, None]).float() + 0.5) / s[:, None]  # [B, L] text progress of each key
    j = ((frames.cumsum(1) - 1).float() + 0.5) / t[:, None]  # [B, L] frame progress of each query
    w = 1 - torch.exp(-((j[:, :, None] - n[:, None, :]) ** 2) / (2 * sigma**2))  # [B, Lq, Lk]
    w = torch.where(is_text[:, None, :], w, torch.ones_like(w))
    return w, frames


def guided_attention_loss(
    probs: dict[int, torch.Tensor], frames: torch.Tensor, text_lengths: torch.Tensor, sigma: float
) -> torch.Tensor:
    """The mean off-diagonal attention of the probed heads (``probs``: layer → ``[B, heads, L, L]``)."""
    if not probs:
        raise FlowTTSError("guided attention: no attention probabilities were recorded")
    w, queries = guide_weights(frames, text_lengths, sigma)  # [B, L, L], [B, L]
    count = queries.sum().clamp_min(1) * next(iter(probs.values())).shape[1]
    losses = []
    for p in probs.values():
        off = (p.float() * w[:, None]).sum(-1)  # [B, heads, L]: attention off the diagonal, per query
        losses.append((off * queries[:, None]).sum() / count)
    return torch.stack(losses).mean()
