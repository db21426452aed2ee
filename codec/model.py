"""``Codec``: encoder + quantizers (semantic VQ, acoustic FSQ) + Vocos decoder (+ the CTC phoneme head).

Users call ``encode(wav) -> Frames``, ``decode(Frames) -> wav`` and ``streaming_decoder()``; training
calls ``forward``, which returns a ``CodecOutput``. Long inputs are processed in chunks with enough left
context that the result equals a single pass (the encoder and decoder are causal with a finite
receptive field), so a one-hour file needs bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codec.config import CodecConfig
from codec.decoder import Decoder
from codec.encoder import Encoder
from codec.frames import Frames
from codec.phoneme_head import PhonemeHead
from codec.quantizers.fsq import FSQ, QuantizedResult
from codec.quantizers.vq import VectorQuantizer, VQResult
from codec.streaming import StreamingDecoder
from flowtts.constants import FRAME_SAMPLES

ENCODE_CHUNK_FRAMES = 375  # 30 s per encoder pass on long inputs
DECODE_CHUNK_FRAMES = 375


@dataclass(frozen=True)
class QuantizerDropout:
    """Training-time quantizer noise per item, after Voxtral (voxtral-spec.md §1.3).

    The decoder sometimes sees unquantized latents, which makes it learn a smooth map around the grid
    points and keeps gradients informative early in training. The CTC head always reads quantized codewords.
    """

    vq_bypass: float = 0.5  # share of items whose decoder input skips the VQ (continuous semantic latent)
    fsq_quantize: float = 0.5  # share of items quantized by FSQ
    fsq_dither: float = 0.25  # share with uniform noise of one grid step instead; the rest pass unquantized


@dataclass
class CodecOutput:
    """What ``Codec.forward`` returns (training)."""

    audio: torch.Tensor  # [B, S] reconstruction, S = T·1920
    semantic: VQResult  # ids [B, T], commitment loss, perplexity
    acoustic: QuantizedResult  # FSQ grid values [B, T, D] and codes
    phoneme_logprobs: torch.Tensor | None  # [B, T·up, P+1] CTC log-probabilities, None without a head


#: Parameter/buffer prefixes that decide the frames a codec produces (ids and acoustic codes). Two codecs
#: equal on these make the same frames from the same audio, whatever their decoders.
FRAME_PREFIXES = ("encoder.", "vq.", "fsq.")
#: Prefix of the CTC phoneme head's parameters: needed for training and the PER of ``flowtts eval codec``
#: only, so a release may leave it out (``codec.release.save_codec(phoneme_head=False)``).
PHONEME_HEAD_PREFIX = "phoneme_head."


class Codec(nn.Module):
    def __init__(self, config: CodecConfig | None = None):
        super().__init__()
        self.config = config or CodecConfig()
        self.frames_frozen = False
        self.encoder = Encoder(self.config)
        self.vq = VectorQuantizer(self.config.vq)
        self.fsq = FSQ(self.config.fsq)
        self.decoder = Decoder(self.config)
        self.phoneme_head = PhonemeHead(self.config) if self.config.phonemes else None

    # --- helpers -----------------------------------------------------------------------------------------

    def _split(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder output ``[B, T, vq.dim + D]`` -> (semantic ``[B, T, vq.dim]``, acoustic ``[B, T, D]``)."""
        return latents[..., : self.config.vq.dim], latents[..., self.config.vq.dim :]

    def freeze_frames(self) -> None:
        """Freezes what decides the frames (encoder, quantizers) and drops the CTC head's part in training.

        Afterwards only the decoder trains, on exactly the frames inference produces (no quantizer
        dropout), so frames computed before (a TTS corpus, saved voices) stay valid: ``frames_id`` does
        not change. The frozen modules stay in eval mode whatever ``train()`` is called with, so the VQ
        codebook no longer moves.
        """
        self.frames_frozen = True
        for module in (self.encoder, self.vq, self.fsq, self.phoneme_head):
            if module is not None:
                module.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> Codec:
        super().train(mode)
        if self.frames_frozen:
            for module in (self.encoder, self.vq, self.fsq, self.phoneme_head):
                if module is not None:
                    module.eval()
        return self

    def frame_inputs(self, frames: Frames) -> torch.Tensor:
        """Decoder input for ``frames``: semantic codeword ⊕ acoustic values ``[B, T, vq.dim + D]``."""
        if frames.codebook_size != self.config.vq.codebook_size or frames.acoustic_dim != self.config.fsq.dim:
            raise ValueError(
                f"frames (K={frames.codebook_size}, D={frames.acoustic_dim}) do not match this codec "
                f"(K={self.config.vq.codebook_size}, D={self.config.fsq.dim})"
            )
        codewords = self.vq.embed(frames.semantic)  # [B, T, vq.dim]
        return torch.cat([codewords, frames.acoustic.to(codewords.dtype)], dim=-1)

    @staticmethod
    def pad_to_frames(wav: torch.Tensor) -> torch.Tensor:
        """Zero-pads ``[B, S]`` on the right to a whole number of frames (at least one)."""
        frames = max(1, -(-wav.shape[-1] // FRAME_SAMPLES))
        return F.pad(wav, (0, frames * FRAME_SAMPLES - wav.shape[-1]))

    # --- training ----------------------------------------------------------------------------------------

    def forward(
        self,
        wav: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        dropout: QuantizerDropout | None = None,
    ) -> CodecOutput:
        """``wav`` ``[B, S]`` (S a multiple of 1920), ``frame_mask`` ``[B, T]`` True on real frames."""
        if self.frames_frozen:  # decoder-only training: the frames are what inference will produce
            with torch.no_grad():
                sem, ac = self._split(self.encoder(wav))
                vq, fsq = self.vq(sem, frame_mask), self.fsq(ac)
            audio = self.decoder(torch.cat([vq.quantized, fsq.values], dim=-1))
            return CodecOutput(audio=audio, semantic=vq, acoustic=fsq, phoneme_logprobs=None)
        latents = self.encoder(wav)  # [B, T, vq.dim + D]
        sem, ac = self._split(latents)
        vq = self.vq(sem, frame_mask)
        fsq = self.fsq(ac)
        semantic_in, acoustic_in = vq.quantized, fsq.values
        if dropout is not None and self.training:
            b = wav.shape[0]
            u = torch.rand(b, 1, 1, device=wav.device)
            # continuous semantic latent: the VQ's own (l2-normalised in cosine mode) input, with gradient
            z = F.normalize(sem, dim=-1) if self.config.vq.cosine else sem
            semantic_in = torch.where(u < dropout.vq_bypass, z, vq.quantized)
            soft = torch.tanh(ac)  # [B, T, D], the squash before rounding
            step = 2.0 / (self.config.fsq.levels - 1)
            dithered = soft + (torch.rand_like(soft) - 0.5) * step
            v = torch.rand(b, 1, 1, device=wav.device)
            acoustic_in = torch.where(
                v < dropout.fsq_quantize,
                fsq.values,
                torch.where(v < dropout.fsq_quantize + dropout.fsq_dither, dithered, soft),
            )
        audio = self.decoder(torch.cat([semantic_in, acoustic_in], dim=-1))
        logprobs = self.phoneme_head(vq.quantized) if self.phoneme_head is not None else None
        return CodecOutput(audio=audio, semantic=vq, acoustic=fsq, phoneme_logprobs=logprobs)

    # --- inference ---------------------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> Frames:
        """Audio ``[B, S]`` or ``[S]`` at 24 kHz (float in [-1, 1]) -> ``Frames`` with T = ceil(S / 1920).

        The tail is zero-padded to a whole frame. Inputs longer than 30 s are encoded in 30 s chunks, each
        with the encoder's receptive field of left context, which gives the same frames as one pass.
        """
        if wav.dim() == 1:
            wav = wav[None]
        wav = self.pad_to_frames(wav.float())
        total = wav.shape[-1] // FRAME_SAMPLES
        context = self.encoder.receptive_field_frames
        semantic, acoustic = [], []
        was_training = self.vq.training
        self.vq.eval()  # never move the codebook while encoding
        for start in range(0, total, ENCODE_CHUNK_FRAMES):
            left = max(0, start - context)
            end = min(total, start + ENCODE_CHUNK_FRAMES)
            latents = self.encoder(wav[:, left * FRAME_SAMPLES : end * FRAME_SAMPLES])[:, start - left :]
            sem, ac = self._split(latents)
            semantic.append(self.vq(sem).indices)
            acoustic.append(self.fsq(ac).values)
        self.vq.train(was_training)
        return Frames(
            semantic=torch.cat(semantic, dim=1),
            acoustic=torch.cat(acoustic, dim=1),
            codebook_size=self.config.vq.codebook_size,
            fsq_levels=self.config.fsq.levels,
        )

    @torch.no_grad()
    def decode(self, frames: Frames) -> torch.Tensor:
        """``Frames`` -> audio ``[B, 1920·T]``. Long inputs go through the streaming path in chunks (same
        samples, bounded memory)."""
        if frames.num_frames <= DECODE_CHUNK_FRAMES:
            return self.decoder(self.frame_inputs(frames))
        stream = self.streaming_decoder()
        parts = [
            stream.push(frames.slice(s, s + DECODE_CHUNK_FRAMES))
            for s in range(0, frames.num_frames, DECODE_CHUNK_FRAMES)
        ]
        parts.append(stream.flush())
        return torch.cat(parts, dim=-1)

    def streaming_decoder(self) -> StreamingDecoder:
        """A decoder that takes frames one (or a few) at a time; see ``codec.streaming``."""
        return StreamingDecoder(self)

    @torch.no_grad()
    def phonemes_from_ids(self, semantic: torch.Tensor) -> list[list[str]]:
        """Greedy CTC phonemes predicted from semantic ids ``[B, T]`` alone (needs the phoneme head)."""
        from codec.phonemes import ctc_greedy

        if self.phoneme_head is None:
            raise ValueError("this codec has no phoneme head")
        best = self.phoneme_head(self.vq.embed(semantic)).argmax(-1)  # [B, T·up]
        return [[self.config.phonemes[i - 1] for i in ctc_greedy(row.tolist())] for row in best]
