"""``Frames``: what the codec encoder emits and the decoder reads, one entry per 80 ms of audio.

Per frame: one semantic id (the VQ index, ``[B, T]`` long, raw codec ids without the language model's +2
shift of voxtral-spec.md §1.3) and one acoustic vector (``[B, T, D]`` float on the FSQ grid in [-1, 1]).
Frames are saved with safetensors (never pickle) with a small string metadata header, so a file says what
codec it belongs to.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from codec.quantizers.fsq import FSQ, FSQConfig
from codec.quantizers.vq import VQConfig
from flowtts.atomic import write_bytes_atomic
from flowtts.constants import FRAME_RATE, FRAME_SAMPLES, SAMPLE_RATE
from flowtts.errors import FlowTTSError

FORMAT_VERSION = 1  # bump on an incompatible change of the file layout; `load` refuses newer files


@dataclass(frozen=True, eq=False)
class Frames:
    """A batch of codec frames. Immutable; every method returns a new ``Frames``.

    Shapes and dtypes are checked on construction (cheap, no device sync); ``check_values`` also checks
    the contents (ids in range, acoustic values on the grid) and runs on ``load``.
    """

    semantic: torch.Tensor  # [B, T] long, VQ ids in [0, codebook_size)
    acoustic: torch.Tensor  # [B, T, D] float, FSQ grid values in [-1, 1]
    codebook_size: int = VQConfig.codebook_size  # K of the semantic VQ
    fsq_levels: int = FSQConfig.levels  # L of the acoustic FSQ

    def __post_init__(self) -> None:
        if self.semantic.dtype != torch.long:
            raise TypeError(f"Frames.semantic must be torch.long, got {self.semantic.dtype}")
        if not self.acoustic.is_floating_point():
            raise TypeError(f"Frames.acoustic must be a float tensor, got {self.acoustic.dtype}")
        if self.semantic.dim() != 2:
            raise ValueError(f"Frames.semantic must be [B, T], got shape {tuple(self.semantic.shape)}")
        if self.acoustic.dim() != 3 or self.acoustic.shape[2] == 0:
            raise ValueError(f"Frames.acoustic must be [B, T, D], got shape {tuple(self.acoustic.shape)}")
        if self.acoustic.shape[:2] != self.semantic.shape:
            raise ValueError(
                f"Frames.semantic {tuple(self.semantic.shape)} and acoustic {tuple(self.acoustic.shape)} "
                "disagree on [B, T]"
            )
        if self.semantic.device != self.acoustic.device:
            raise ValueError(
                f"Frames tensors on different devices: {self.semantic.device}, {self.acoustic.device}"
            )
        if self.codebook_size < 1 or self.fsq_levels < 2:
            raise ValueError(f"bad codebook_size {self.codebook_size} or fsq_levels {self.fsq_levels}")

    # --- sizes -------------------------------------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        return self.semantic.shape[0]

    @property
    def num_frames(self) -> int:
        """T: frames per item (80 ms each)."""
        return self.semantic.shape[1]

    @property
    def acoustic_dim(self) -> int:
        return self.acoustic.shape[2]

    @property
    def num_samples(self) -> int:
        """Audio samples at 24 kHz these frames decode to: T × 1920."""
        return self.num_frames * FRAME_SAMPLES

    @property
    def duration_s(self) -> float:
        return self.num_frames / FRAME_RATE

    # --- transforms --------------------------------------------------------------------------------------

    def to(self, device: torch.device | str) -> Frames:
        return replace(self, semantic=self.semantic.to(device), acoustic=self.acoustic.to(device))

    def slice(self, start: int, end: int | None = None) -> Frames:
        """Frames ``start`` .. ``end`` (exclusive) along time, Python slice rules (negative, clipping)."""
        return replace(self, semantic=self.semantic[:, start:end], acoustic=self.acoustic[:, start:end])

    @classmethod
    def cat(cls, parts: Sequence[Frames]) -> Frames:
        """Concatenates along time; batch size, acoustic dim, codec sizes and device must agree."""
        if not parts:
            raise ValueError("Frames.cat needs at least one Frames")
        first = parts[0]
        for p in parts[1:]:
            if (p.batch_size, p.acoustic_dim, p.codebook_size, p.fsq_levels) != (
                first.batch_size,
                first.acoustic_dim,
                first.codebook_size,
                first.fsq_levels,
            ):
                raise ValueError("Frames.cat: parts differ in batch size, acoustic dim or codec sizes")
        return replace(
            first,
            semantic=torch.cat([p.semantic for p in parts], dim=1),
            acoustic=torch.cat([p.acoustic for p in parts], dim=1),
        )

    @classmethod
    def stack(cls, rows: Sequence[Frames]) -> Frames:
        """Concatenates along the batch (the rows of several streams); length and codec sizes must agree."""
        if not rows:
            raise ValueError("Frames.stack needs at least one Frames")
        first = rows[0]
        key = (first.num_frames, first.acoustic_dim, first.codebook_size, first.fsq_levels)
        if any((r.num_frames, r.acoustic_dim, r.codebook_size, r.fsq_levels) != key for r in rows[1:]):
            raise ValueError("Frames.stack: rows differ in length, acoustic dim or codec sizes")
        return replace(
            first,
            semantic=torch.cat([r.semantic for r in rows], dim=0),
            acoustic=torch.cat([r.acoustic for r in rows], dim=0),
        )

    # --- contents ----------------------------------------------------------------------------------------

    def check_values(self) -> None:
        """Raises ``ValueError`` unless ids are in [0, K) and acoustic values sit on the FSQ grid.

        Reads the whole tensors (a device sync on GPU), so it is not part of construction. The grid test
        allows a quarter of the grid spacing, enough for bf16 storage.
        """
        if self.semantic.numel() and (self.semantic.min() < 0 or self.semantic.max() >= self.codebook_size):
            raise ValueError(f"Frames.semantic has ids outside [0, {self.codebook_size})")
        fsq = FSQ(FSQConfig(dim=self.acoustic_dim, levels=self.fsq_levels))
        acoustic = self.acoustic.float()
        off_grid = (acoustic - fsq.snap(acoustic)).abs() > 0.25 * (2.0 / (self.fsq_levels - 1))
        if acoustic.abs().gt(1.0 + 1e-3).any() or off_grid.any():
            raise ValueError(
                f"Frames.acoustic has values off the {self.fsq_levels}-level FSQ grid in [-1, 1]"
            )

    # --- files -------------------------------------------------------------------------------------------

    def metadata(self) -> dict[str, str]:
        """The safetensors header written by ``save`` (safetensors metadata values are strings)."""
        return {
            "format": "flowtts.codec.frames",
            "format_version": str(FORMAT_VERSION),
            "sample_rate": str(SAMPLE_RATE),
            "frame_rate": str(FRAME_RATE),
            "codebook_size": str(self.codebook_size),
            "fsq_levels": str(self.fsq_levels),
        }

    def save(self, path: str | os.PathLike) -> None:
        """Writes ``semantic`` and ``acoustic`` (on CPU) to a safetensors file, atomically."""
        tensors = {
            "semantic": self.semantic.detach().cpu().contiguous(),
            "acoustic": self.acoustic.detach().cpu().contiguous(),
        }
        write_bytes_atomic(path, safetensors_save(tensors, metadata=self.metadata()))

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> Frames:
        """Reads a file written by ``save``; refuses other formats, newer versions and other sample rates."""
        try:
            with safe_open(os.fspath(path), framework="pt", device="cpu") as f:
                meta = f.metadata() or {}
                _check_metadata(meta, path)
                if set(f.keys()) != {"semantic", "acoustic"}:
                    raise FlowTTSError(f"{path}: expected tensors semantic, acoustic; got {sorted(f.keys())}")
                semantic, acoustic = f.get_tensor("semantic"), f.get_tensor("acoustic")
        except (SafetensorError, OSError) as e:
            raise FlowTTSError(f"{path}: not a readable safetensors frames file ({e})") from e
        try:
            frames = cls(semantic, acoustic, int(meta["codebook_size"]), int(meta["fsq_levels"]))
            frames.check_values()
        except (TypeError, ValueError) as e:
            raise FlowTTSError(f"{path}: {e}") from e
        return frames.to(device)


def _check_metadata(meta: dict[str, str], path: str | os.PathLike) -> None:
    """Raises ``FlowTTSError`` unless ``meta`` is a frames header this version can read."""
    if meta.get("format") != "flowtts.codec.frames":
        raise FlowTTSError(f"{path}: not a flowtts frames file (format {meta.get('format')!r})")
    try:
        version = int(meta["format_version"])
        rates = (int(meta["sample_rate"]), float(meta["frame_rate"]))
        int(meta["codebook_size"]), int(meta["fsq_levels"])
    except (KeyError, ValueError) as e:
        raise FlowTTSError(f"{path}: bad frames metadata {meta} ({e})") from e
    if version > FORMAT_VERSION:
        raise FlowTTSError(
            f"{path}: frames format_version {version} is newer than this flowtts ({FORMAT_VERSION})"
        )
    if rates != (SAMPLE_RATE, FRAME_RATE):
        raise FlowTTSError(
            f"{path}: frames for {rates[0]} Hz / {rates[1]} fps, this codec is {SAMPLE_RATE} Hz"
        )
