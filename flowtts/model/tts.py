"""``TTSModel``: embeddings + backbone + semantic head + flow-matching head.

``forward`` is the training pass (teacher forcing over whole sequences, returns ``TTSLoss``); generation
lives in ``flowtts.generation`` and uses ``embed``, ``backbone`` with a KV cache, ``semantic_logits`` and
``flow.sample`` step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from flowtts.model.backbone import Backbone, KVCache
from flowtts.model.config import TTSConfig
from flowtts.model.flow import FlowMatching
from flowtts.model.flow_head import VelocityNet

IGNORE = -100


@dataclass
class TTSBatch:
    """Right-padded training sequences (see ``flowtts.model.sequence`` for the layout)."""

    tokens: torch.Tensor  # [B, L] long
    is_frame: torch.Tensor  # [B, L] bool
    semantic: torch.Tensor  # [B, L] long, frame ids at frame positions
    acoustic: torch.Tensor  # [B, L, D] float, frame latents at frame positions
    target_semantic: torch.Tensor  # [B, L] long: next frame's id or END at predicting positions, else -100
    target_acoustic: torch.Tensor  # [B, L, D]: next frame's latent where target_semantic is a real frame

    def to(self, device: torch.device | str) -> TTSBatch:
        return TTSBatch(**{k: v.to(device) for k, v in vars(self).items()})


@dataclass
class TTSLoss:
    total: torch.Tensor  # scalar: semantic + flow_weight · flow
    semantic: torch.Tensor  # cross-entropy of the next semantic id (incl. END)
    flow: torch.Tensor  # flow-matching MSE of the next acoustic latent
    semantic_accuracy: torch.Tensor  # top-1 accuracy of the next id (no grad)
    end_accuracy: torch.Tensor  # accuracy at the positions whose target is END (no grad)


class TTSModel(nn.Module):
    def __init__(self, config: TTSConfig):
        super().__init__()
        self.config = config
        dim = config.backbone.dim
        self.text_embedding = nn.Embedding(config.text_vocab_size, dim)
        self.semantic_embedding = nn.Embedding(config.codebook_size + 1, dim)
        self.acoustic_projection = nn.Linear(config.acoustic_dim, dim)
        self.backbone = Backbone(config.backbone)
        # The semantic head is tied to the input table (as language models do): logits are hidden ·
        # embeddingᵀ + bias. The velocity net reads the same table. Together 5 M parameters fewer, what
        # keeps the default model's release files within their 60 MB.
        self.semantic_bias = nn.Parameter(torch.zeros(config.codebook_size + 1))  # + END_AUDIO
        self.velocity_net = VelocityNet(config, self.semantic_embedding)
        self.flow = FlowMatching(self.velocity_net, config.flow.cond_dropout, config.fsq_levels)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def embed(
        self, tokens: torch.Tensor, is_frame: torch.Tensor, semantic: torch.Tensor, acoustic: torch.Tensor
    ) -> torch.Tensor:
        """Input vectors ``[B, L, dim]``: frame positions get id embedding + acoustic projection."""
        text = self.text_embedding(tokens)  # [B, L, dim]
        frames = self.semantic_embedding(semantic) + self.acoustic_projection(acoustic.to(text.dtype))
        return torch.where(is_frame[..., None], frames, text)

    def semantic_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[..., dim]`` -> ``[..., K + 1]`` (index K = END_AUDIO)."""
        return F.linear(hidden, self.semantic_embedding.weight, self.semantic_bias)

    def hidden(self, batch: TTSBatch, cache: KVCache | None = None) -> torch.Tensor:
        return self.backbone(self.embed(batch.tokens, batch.is_frame, batch.semantic, batch.acoustic), cache)

    def forward(self, batch: TTSBatch, flow_weight: float = 1.0) -> TTSLoss:
        h = self.hidden(batch)  # [B, L, dim]
        logits = self.semantic_logits(h)  # [B, L, K+1]
        target = batch.target_semantic
        semantic_loss = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=IGNORE)
        predicting = target != IGNORE
        real = predicting & (target != self.config.end_id)  # [B, L]: positions whose next is a frame
        flow_loss = self.flow.loss(batch.target_acoustic[real], h[real], target[real])
        with torch.no_grad():
            correct = (logits.argmax(-1) == target) & predicting
            accuracy = correct.sum() / predicting.sum().clamp_min(1)
            ends = target == self.config.end_id
            end_accuracy = (correct & ends).sum() / ends.sum().clamp_min(1)
        return TTSLoss(
            total=semantic_loss + flow_weight * flow_loss,
            semantic=semantic_loss,
            flow=flow_loss,
            semantic_accuracy=accuracy,
            end_accuracy=end_accuracy,
        )
