"""Vector quantizer for the semantic half of a codec frame: one id out of K (default 8192) per frame.

Design (each choice explained where it is coded):

- **EMA codebook, no codebook gradient.** The codebook is a running mean of the encoder outputs assigned to
  each code (van den Oord et al. 2017, appendix; SoundStream; Mimi). We keep the two running statistics
  ``embedding_sum`` ``[K, C]`` and ``cluster_usage`` ``[K]``; the codebook is their ratio. This is what
  Voxtral's released checkpoint stores (voxtral-spec.md §1.3). EMA rather than a learned codebook with a
  codebook loss: the update is a closed-form k-means step, independent of the optimizer and learning rate,
  and it averages over many batches, so it stays stable with the small batches a 1–2 GPU run gets.
- **Cosine (l2-normalised) lookup, on by default.** Encoder outputs and codewords are compared on the unit
  sphere (improved VQGAN, Yu et al. 2021; DAC). Scale cannot drift between encoder and codebook, the
  commitment loss is bounded, and a revived code lands where the data is. The semantic branch is read
  through a linear projection downstream (CTC head, decoder), so the norm carries nothing it needs.
  ``cosine=False`` gives plain Euclidean nearest neighbour (what Voxtral's reference code does).
- **Straight-through gradient** to the encoder, plus a **commitment loss** ``‖z - sg(q)‖²`` that keeps the
  encoder close to its codeword.
- **Dead-code revival.** A code that no frame picked for ``dead_code_threshold`` consecutive training updates
  is re-initialised from a random (valid) encoder output of the current batch (Jukebox, SoundStream).
- **Padding mask.** ``mask`` ``[B, T]`` is True on real frames. Padding frames are still quantized (the
  decoder needs a value there) but never update the codebook, never count in usage, and never enter the
  commitment loss or the perplexity.
- **DDP.** The per-batch counts and sums are all-reduced before the EMA step and the revival vectors are
  broadcast from rank 0, so every rank keeps the same codebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VQConfig:
    codebook_size: int = 8192  # K: number of codes (the semantic vocabulary); <= 8192 by design
    dim: int = 256  # C: width of the semantic latent (Voxtral: 256)
    commitment: float = 0.25  # weight the codec applies to `VQResult.commitment_loss` (β of VQ-VAE)
    ema_decay: float = 0.99  # EMA decay of the codebook statistics (0 < decay < 1)
    dead_code_threshold: int = 100  # revive a code after this many training updates unused; 0 = never
    cosine: bool = True  # l2-normalise latents and codewords before the lookup (see module docstring)
    epsilon: float = 1e-5  # floor on cluster usage when dividing (an empty cluster keeps a finite codeword)
    data_init: bool = False  # set the codebook from the first training batch's latents (see _data_init)

    def __post_init__(self) -> None:
        if not 2 <= self.codebook_size <= 8192:
            raise ValueError(f"codebook_size must be in [2, 8192], got {self.codebook_size}")
        if self.dim < 1:
            raise ValueError(f"dim must be >= 1, got {self.dim}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.dead_code_threshold < 0:
            raise ValueError(f"dead_code_threshold must be >= 0, got {self.dead_code_threshold}")

    @property
    def bits_per_frame(self) -> float:
        return math.log2(self.codebook_size)


@dataclass
class VQResult:
    """What ``VectorQuantizer.forward`` returns."""

    quantized: torch.Tensor  # [B, T, C] codewords, straight-through gradient to the input
    indices: torch.Tensor  # [B, T] long in [0, K)
    commitment_loss: torch.Tensor  # scalar, mean ‖z - sg(q)‖² over valid frames and channels (unweighted)
    perplexity: torch.Tensor  # scalar, exp(entropy) of code use over this batch's valid frames (no grad)


@dataclass(frozen=True)
class VQUsage:
    """Codebook use accumulated since the last ``reset_usage()``."""

    fraction_used: float  # codes picked at least once / K
    perplexity: float  # exp(entropy) of the accumulated code histogram; K means perfectly uniform
    frames: int  # valid frames counted


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_reduce_(t: torch.Tensor) -> torch.Tensor:
    """Sums ``t`` in place over all ranks when running under torch.distributed; a no-op otherwise."""
    if _distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def _perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of a histogram ``counts`` ``[K]``; 0 when it is empty."""
    total = counts.sum()
    p = counts / total.clamp_min(1e-12)  # [K]
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return torch.exp(entropy) * (total > 0)  # no host sync: an empty histogram gives 0


class VectorQuantizer(nn.Module):
    """EMA vector quantizer with cosine lookup, commitment loss, dead-code revival and a padding mask."""

    embedding_sum: torch.Tensor  # [K, C] EMA of the sum of latents assigned to each code
    cluster_usage: torch.Tensor  # [K] EMA of how many latents each code was assigned
    unused_updates: torch.Tensor  # [K] long, training updates since each code was last picked
    usage_counts: torch.Tensor  # [K] frames per code since reset_usage() (statistics, not saved)

    def __init__(self, config: VQConfig | None = None) -> None:
        super().__init__()
        self.config = config or VQConfig()
        k, c = self.config.codebook_size, self.config.dim
        # Random start: revival moves unused codes onto data within `dead_code_threshold` updates.
        init = self._normalize(torch.randn(k, c))
        self.register_buffer("embedding_sum", init.clone())
        self.register_buffer("cluster_usage", torch.ones(k))
        self.register_buffer("unused_updates", torch.zeros(k, dtype=torch.long))
        self.register_buffer("usage_counts", torch.zeros(k), persistent=False)
        self._cache: tuple | None = None  # (statistics version, codebook) in eval mode
        if self.config.data_init:
            self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    # --- codebook ----------------------------------------------------------------------------------------

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) if self.config.cosine else x

    @property
    def codebook(self) -> torch.Tensor:
        """The codewords ``[K, C]`` (float32): EMA sum / EMA count, unit-norm in cosine mode.

        Computed on every call in training (the statistics move); cached in eval mode, where decoding a
        stream frame by frame would otherwise recompute all K codewords for every frame.
        """
        if not self.training and self._cache is not None and self._cache[0] == self._stats_version():
            return self._cache[1]
        usage = self.cluster_usage.clamp_min(self.config.epsilon)[:, None]  # [K, 1]
        codebook = self._normalize(self.embedding_sum / usage)
        if not self.training:
            self._cache = (self._stats_version(), codebook)
        return codebook

    def _stats_version(self) -> tuple:
        """Changes whenever the statistics are modified in place or replaced (load, .to(), EMA step)."""
        return (
            self.embedding_sum._version,
            self.cluster_usage._version,
            self.embedding_sum.data_ptr(),
            self.cluster_usage.data_ptr(),
            self.embedding_sum.device,
        )

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices ``[B, T]`` (long) -> codewords ``[B, T, C]``: the decoder-side lookup."""
        return F.embedding(indices, self.codebook)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codeword for each row of ``z`` ``[N, C]`` (already normalised) -> ``[N]``."""
        codebook = self.codebook  # [K, C]
        if self.config.cosine:
            return (z @ codebook.t()).argmax(dim=-1)  # unit vectors: max cosine = min distance
        # ‖z - e‖² = ‖z‖² - 2 z·e + ‖e‖²; ‖z‖² is the same for every code and drops out of the argmin.
        return (codebook.pow(2).sum(-1)[None, :] - 2 * z @ codebook.t()).argmin(dim=-1)

    # --- forward -----------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> VQResult:
        """Quantizes ``x`` ``[B, T, C]``; ``mask`` ``[B, T]`` bool is True on real frames (default: all).

        In training mode the codebook statistics are updated (EMA) and dead codes revived, using only the
        frames where ``mask`` is True.
        """
        b, t, c = x.shape
        if c != self.config.dim:
            raise ValueError(f"VQ expects last dim {self.config.dim}, got shape {tuple(x.shape)}")
        if mask is None:
            mask = torch.ones(b, t, dtype=torch.bool, device=x.device)
        elif mask.shape != (b, t):
            raise ValueError(f"mask must be [B, T] = {(b, t)}, got {tuple(mask.shape)}")
        mask = mask.bool()

        z = self._normalize(x.float())  # [B, T, C], float32 for a stable lookup and EMA
        flat = z.reshape(b * t, c)  # [N, C]
        valid = mask.reshape(b * t)  # [N]
        with torch.no_grad():
            if self.training and self.config.data_init and not bool(self.initialized):
                self._data_init(flat[valid])
            indices = self.nearest(flat)  # [N]
            counts = torch.bincount(indices[valid], minlength=self.config.codebook_size).float()  # [K]
            if self.training:
                _all_reduce_(counts)  # every rank must see the global histogram
                self._ema_update(flat[valid], indices[valid], counts)
                self._revive_dead_codes(flat[valid], counts)
            self.usage_counts += counts

        # Looked up after the EMA step, so training returns the updated codewords (the indices are unchanged:
        # a code picked in this batch is never revived in it).
        q = F.embedding(indices, self.codebook).reshape(b, t, c)  # [B, T, C], no gradient (buffers)
        # Commitment loss: pulls the encoder output toward its (frozen) codeword; masked frames excluded.
        sq_err = (z - q.detach()).pow(2).mean(dim=-1)  # [B, T]
        commitment_loss = (sq_err * mask).sum() / mask.sum().clamp_min(1)
        # Straight-through estimator: forward uses the codeword q, backward copies the gradient of the
        # output onto z unchanged (the argmin is treated as the identity), so the encoder learns through VQ.
        quantized = z + (q - z).detach()  # [B, T, C]
        return VQResult(
            quantized=quantized.to(x.dtype),
            indices=indices.reshape(b, t),
            commitment_loss=commitment_loss,
            perplexity=_perplexity(counts),
        )

    @torch.no_grad()
    def _ema_update(self, z: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor) -> None:
        """One EMA k-means step from valid latents ``z`` ``[N, C]``, their ``indices`` ``[N]`` and the
        (already all-reduced) ``counts`` ``[K]``."""
        sums = torch.zeros_like(self.embedding_sum).index_add_(0, indices, z)  # [K, C]
        _all_reduce_(sums)
        decay = self.config.ema_decay
        self.cluster_usage.mul_(decay).add_(counts, alpha=1 - decay)
        self.embedding_sum.mul_(decay).add_(sums, alpha=1 - decay)

    @torch.no_grad()
    def _data_init(self, z: torch.Tensor) -> None:
        """First training batch: every codeword becomes a random valid latent plus a little noise.

        A random codebook far from the encoder's outputs lets one code win every frame at the start
        (collapse) until revival kicks in; starting on the data spreads the first assignments. Rank 0's
        draw is broadcast so all ranks agree.
        """
        if z.shape[0] == 0:
            return
        k = self.config.codebook_size
        new = z[torch.randint(0, z.shape[0], (k,), device=z.device)]  # [K, C]
        new = self._normalize(new + 0.1 * z.std() * torch.randn_like(new))
        if _distributed():
            dist.broadcast(new, src=0)
        self.embedding_sum.copy_(new)
        self.cluster_usage.fill_(1.0)
        self.unused_updates.zero_()
        self.initialized.fill_(True)

    @torch.no_grad()
    def _revive_dead_codes(self, z: torch.Tensor, counts: torch.Tensor) -> None:
        """Re-initialises codes unused for ``dead_code_threshold`` updates from random latents ``z`` [N, C].

        A dead code sits where no encoder output goes, so the EMA can never move it; putting it on a current
        encoder output (with a fresh count of 1) gives it a cluster to win. Rank 0 draws the vectors and
        broadcasts them, so all ranks stay identical.
        """
        self.unused_updates.add_(1).masked_fill_(counts > 0, 0)
        threshold = self.config.dead_code_threshold
        if threshold == 0:
            return
        dead = (self.unused_updates >= threshold).nonzero().squeeze(1)  # [n_dead], same on every rank
        if dead.numel() == 0:
            return
        new = self.embedding_sum[dead] / self.cluster_usage[dead].clamp_min(self.config.epsilon)[:, None]
        if z.shape[0] > 0:  # this rank has valid frames: sample with replacement from them
            new = z[torch.randint(0, z.shape[0], (dead.numel(),), device=z.device)]  # [n_dead, C]
            if dead.numel() > 1 and z.shape[0] > 1:
                # Many codes can die at once (early training: thousands) while a batch has a few hundred
                # frames, so draws repeat. Exact duplicates tie forever (argmax picks the first); a little
                # noise, a tenth of the spread of the batch, lets duplicates split the cluster between them.
                new = self._normalize(new + 0.1 * z.std(dim=0, keepdim=True) * torch.randn_like(new))
        if _distributed():
            dist.broadcast(new, src=0)
        self.embedding_sum[dead] = new
        self.cluster_usage[dead] = 1.0
        self.unused_updates[dead] = 0

    # --- statistics --------------------------------------------------------------------------------------

    def usage(self) -> VQUsage:
        """Fraction of codes used and perplexity since the last ``reset_usage()`` (valid frames only)."""
        counts = self.usage_counts
        return VQUsage(
            fraction_used=(counts > 0).float().mean().item(),
            perplexity=_perplexity(counts).item(),
            frames=int(counts.sum().item()),
        )

    def reset_usage(self) -> None:
        """Starts a new window for ``usage()``."""
        self.usage_counts.zero_()
