"""The backbone's input sequence, one layout for training and generation (after Voxtral, §2.3):

    <s> <begin_audio> [voice prompt frames] <next>  <lang:xx> text pieces  <repeat> <begin_audio> [frames]
    └──────────────── voice prefix ──────────────┘  └──────── text part ───────────────────────┘

The voice prefix depends only on the voice, so its KV cache is computed once and reused for every
request. A frame position's input is the sum of its semantic-id embedding and its acoustic latent's
projection; every other position is a token embedding. The state at the last ``<begin_audio>`` predicts
frame 1; the state at frame i predicts frame i+1 or END_AUDIO.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from flowtts.text.tokenizer import SpecialIds


@dataclass
class Segment:
    """A piece of the input sequence: token ids, and codec frames at the ``is_frame`` positions."""

    tokens: torch.Tensor  # [L] long (the <audio> id at frame positions)
    is_frame: torch.Tensor  # [L] bool
    semantic: torch.Tensor  # [L] long, frame ids (0 elsewhere)
    acoustic: torch.Tensor  # [L, D] float, frame latents (0 elsewhere)

    @property
    def length(self) -> int:
        return self.tokens.shape[0]

    @staticmethod
    def cat(parts: list[Segment]) -> Segment:
        return Segment(
            tokens=torch.cat([p.tokens for p in parts]),
            is_frame=torch.cat([p.is_frame for p in parts]),
            semantic=torch.cat([p.semantic for p in parts]),
            acoustic=torch.cat([p.acoustic for p in parts]),
        )


def token_segment(ids: list[int], acoustic_dim: int) -> Segment:
    n = len(ids)
    return Segment(
        tokens=torch.tensor(ids, dtype=torch.long),
        is_frame=torch.zeros(n, dtype=torch.bool),
        semantic=torch.zeros(n, dtype=torch.long),
        acoustic=torch.zeros(n, acoustic_dim),
    )


def frame_segment(semantic: torch.Tensor, acoustic: torch.Tensor, audio_id: int) -> Segment:
    """Frames ``semantic`` ``[T]`` and ``acoustic`` ``[T, D]`` as sequence positions."""
    t = semantic.shape[0]
    return Segment(
        tokens=torch.full((t,), audio_id, dtype=torch.long),
        is_frame=torch.ones(t, dtype=torch.bool),
        semantic=semantic.long().cpu(),
        acoustic=acoustic.float().cpu(),
    )


def voice_prefix(
    specials: SpecialIds, prompt_semantic: torch.Tensor, prompt_acoustic: torch.Tensor
) -> Segment:
    """``<s> <begin_audio> [prompt frames] <next>`` (the prompt may have 0 frames: no voice)."""
    d = prompt_acoustic.shape[-1]
    return Segment.cat(
        [
            token_segment([specials.bos, specials.begin_audio], d),
            frame_segment(prompt_semantic, prompt_acoustic, specials.audio),
            token_segment([specials.next], d),
        ]
    )


def text_part(specials: SpecialIds, text_ids: list[int], acoustic_dim: int) -> Segment:
    """``<lang:xx> text… <repeat> <begin_audio>`` (``text_ids`` from ``Tokenizer.encode``, tag first)."""
    return token_segment([*text_ids, specials.repeat, specials.begin_audio], acoustic_dim)
