"""``TTSModel``: embeddings + backbone + semantic head + flow-matching head.

``forward`` is the training pass (teacher forcing over whole sequences, returns ``TTSLoss``); generation
lives in ``flowtts.generation`` and uses ``embed``, ``backbone`` with a KV cache, ``semantic_logits`` and
``flow.sample`` step by step.

Optional, training only (``TTSConfig.text_ctc``): a text-CTC head, one linear layer from the backbone state
at each generated frame f₁…f_T to the text vocabulary plus a blank, trained with CTC against the
utterance's text pieces (the ids after the language tag; no control tokens). Each frame's state must then
say which text is being spoken, what teaches the monotonic alignment to the text directly. Generation never
uses it and releases leave it out (``flowtts.release``).

Optional, training only, no parameters: guided attention (``flowtts.model.guided_attention``), a diagonal
prior on some heads' attention from the frames to the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from flowtts.errors import FlowTTSError
from flowtts.model.backbone import AttentionProbe, Backbone, KVCache
from flowtts.model.config import TTSConfig
from flowtts.model.flow import FlowMatching
from flowtts.model.flow_head import VelocityNet
from flowtts.model.guided_attention import GuidedAttention, guided_attention_loss

IGNORE = -100
TEXT_CTC_HEAD = "text_ctc_head."  # state_dict key prefix of the text-CTC head
# state_dict key prefixes of training-only modules: never part of a release
TRAINING_ONLY_PREFIXES = (TEXT_CTC_HEAD,)


@dataclass
class TTSBatch:
    """Right-padded training sequences (see ``flowtts.model.sequence`` for the layout)."""

    tokens: torch.Tensor  # [B, L] long
    is_frame: torch.Tensor  # [B, L] bool
    semantic: torch.Tensor  # [B, L] long, frame ids at frame positions
    acoustic: torch.Tensor  # [B, L, D] float, frame latents at frame positions
    target_semantic: torch.Tensor  # [B, L] long: next frame's id or END at predicting positions, else -100
    target_acoustic: torch.Tensor  # [B, L, D]: next frame's latent where target_semantic is a real frame
    # the text-CTC targets (read only when the CTC loss is on): each example's text pieces, without the
    # language tag and control tokens, right-padded with 0
    text: torch.Tensor | None = None  # [B, S] long
    text_lengths: torch.Tensor | None = None  # [B] long

    def to(self, device: torch.device | str) -> TTSBatch:
        return TTSBatch(**{k: None if v is None else v.to(device) for k, v in vars(self).items()})


def target_frame_positions(batch: TTSBatch) -> torch.Tensor:
    """``[B, L]`` bool: the target frames f₁…f_T of each example (what the text-CTC head reads, and the
    queries of guided attention).

    Those are the frame positions with a target (f_i predicts f_{i+1}, f_T predicts END); the voice prompt's
    frames predict nothing and the last ``<begin_audio>`` (which predicts f₁) is no frame, so neither is in.
    """
    return batch.is_frame & (batch.target_semantic != IGNORE)


@dataclass
class TTSLoss:
    # scalar: semantic + flow_weight · flow (+ ctc_weight · text_ctc, guide.weight · guided when on)
    total: torch.Tensor
    semantic: torch.Tensor  # cross-entropy of the next semantic id (incl. END)
    flow: torch.Tensor  # flow-matching MSE of the next acoustic latent
    semantic_accuracy: torch.Tensor  # top-1 accuracy of the next id (no grad)
    end_accuracy: torch.Tensor  # accuracy at the positions whose target is END (no grad)
    text_ctc: torch.Tensor  # text-CTC loss of the frames' states (0 when off: ctc_weight 0)
    guided: torch.Tensor  # guided-attention loss of the guided heads (0 when off)


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
        # Made after the others are initialised, so that with the head every other weight is the same as
        # without it (same seed), and registered last, so that the other parameters keep their order.
        # Outputs: text ids 0 … V-1, and the CTC blank at index V (the last, never a text id).
        self.text_ctc_head: nn.Linear | None = None
        if config.text_ctc:
            self.text_ctc_head = nn.Linear(config.backbone.dim, config.text_vocab_size + 1)
            self._init(self.text_ctc_head)

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

    def hidden(
        self, batch: TTSBatch, cache: KVCache | None = None, probe: AttentionProbe | None = None
    ) -> torch.Tensor:
        x = self.embed(batch.tokens, batch.is_frame, batch.semantic, batch.acoustic)
        return self.backbone(x, cache, probe)

    @property
    def text_ctc_blank(self) -> int:
        """The CTC blank's index in the text-CTC head's outputs: the last one, V."""
        return self.config.text_vocab_size

    def text_ctc_loss(self, hidden: torch.Tensor, batch: TTSBatch) -> torch.Tensor:
        """CTC of the text pieces from the head's outputs at the target frames (``target_frame_positions``).

        ``hidden`` ``[B, L, dim]``. Float32 log-probabilities; ``reduction="mean"``: each example's loss is
        divided by its number of text pieces, then averaged over the batch (a per-piece loss, comparable
        across batches and sentence lengths); ``zero_infinity``: an example with fewer frames than its
        text needs contributes 0 instead of inf.
        """
        if self.text_ctc_head is None:
            raise FlowTTSError("text-CTC loss: the model has no text-CTC head (model config text_ctc is off)")
        if batch.text is None or batch.text_lengths is None:
            raise FlowTTSError("text-CTC loss: the batch has no text targets (text, text_lengths)")
        mask = target_frame_positions(batch)  # [B, L]
        lengths = mask.sum(1)  # [B] frames per example
        b, t = mask.shape[0], int(lengths.max())
        if t == 0:  # no frames at all: a zero loss that still reaches the head (DDP expects its grads)
            return self.text_ctc_head(hidden[:, :1]).sum() * 0.0
        # the head over the N frame positions only, then laid out time-first as F.ctc_loss wants
        log_probs = self.text_ctc_head(hidden[mask]).float().log_softmax(-1)  # [N, V+1]
        rows = torch.arange(b, device=mask.device)[:, None].expand_as(mask)[mask]  # [N] example of each
        cols = (mask.cumsum(1) - 1)[mask]  # [N] frame index within its example
        padded = log_probs.new_zeros(b, t, log_probs.shape[-1])  # [B, T, V+1]; padding is never read
        padded = padded.index_put((rows, cols), log_probs)
        return F.ctc_loss(
            padded.transpose(0, 1),  # [T, B, V+1]
            batch.text,  # [B, S]
            lengths,
            batch.text_lengths,
            blank=self.text_ctc_blank,
            reduction="mean",
            zero_infinity=True,
        )

    def forward(
        self,
        batch: TTSBatch,
        flow_weight: float = 1.0,
        ctc_weight: float = 0.0,
        guide: GuidedAttention | None = None,
    ) -> TTSLoss:
        guided_on = guide is not None and guide.weight > 0
        probe = AttentionProbe(guide.layers, guide.heads) if guided_on else None
        h = self.hidden(batch, probe=probe)  # [B, L, dim]
        logits = self.semantic_logits(h)  # [B, L, K+1]
        target = batch.target_semantic
        semantic_loss = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=IGNORE)
        predicting = target != IGNORE
        real = predicting & (target != self.config.end_id)  # [B, L]: positions whose next is a frame
        flow_loss = self.flow.loss(batch.target_acoustic[real], h[real], target[real])
        total = semantic_loss + flow_weight * flow_loss
        if ctc_weight > 0:
            text_ctc = self.text_ctc_loss(h, batch)
            total = total + ctc_weight * text_ctc
        else:
            text_ctc = torch.zeros((), device=h.device)
        if probe is not None:
            if batch.text_lengths is None:
                raise FlowTTSError("guided attention: the batch has no text_lengths")
            frames = target_frame_positions(batch)
            guided = guided_attention_loss(probe.probs, frames, batch.text_lengths, guide.sigma)
            total = total + guide.weight * guided
        else:
            guided = torch.zeros((), device=h.device)
        with torch.no_grad():
            correct = (logits.argmax(-1) == target) & predicting
            accuracy = correct.sum() / predicting.sum().clamp_min(1)
            ends = target == self.config.end_id
            end_accuracy = (correct & ends).sum() / ends.sum().clamp_min(1)
        return TTSLoss(
            total=total,
            semantic=semantic_loss,
            flow=flow_loss,
            semantic_accuracy=accuracy,
            end_accuracy=end_accuracy,
            text_ctc=text_ctc,
            guided=guided,
        )
