"""Codec frames of a corpus, computed once for TTS training.

Layout: ``<corpus>/frames/<codec-id>/<shard>.safetensors``.

One file per manifest shard (the unit of resume and of atomic commit, as for the audio). Each file holds
the frames of its utterances end to end:

    semantic  [N] int16        VQ ids (K ≤ 8192 < 2^15)
    acoustic  [N, D] uint8     FSQ level indices 0 .. L-1 (value = 2·code/(L-1) − 1)
    offsets   [U + 1] int64    utterance u has frames offsets[u] .. offsets[u+1]

and its header lists the utterance ids in the same order. ``<codec-id>`` is the codec's ``frames_id`` (a
hash of its encoder and quantizers), so frames of different codecs never mix, while a codec whose decoder
alone was trained further (``freeze_frames``) reuses them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from flowtts.atomic import write_bytes_atomic
from flowtts.data.manifest import read_manifest
from flowtts.errors import FlowTTSError

FORMAT = "flowtts.frames_store"


def codec_id(codec_path: str | os.PathLike) -> str:
    """The codec's ``frames_id``: equal for two codec files that make the same frames (codec/release.py)."""
    from codec.release import frames_id

    return frames_id(codec_path)


@dataclass
class UtteranceFrames:
    id: str
    semantic: np.ndarray  # [T] int64
    acoustic_codes: np.ndarray  # [T, D] uint8


def encode_corpus(
    corpus: str | os.PathLike,
    codec_path: str | os.PathLike,
    device: str = "cpu",
    batch_seconds: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Encodes every utterance of ``corpus`` with the codec; resumes by skipping finished shards.

    Returns the frames folder.
    """
    from codec.release import load_codec
    from flowtts.audio import read_audio

    corpus = Path(corpus)
    manifests = sorted((corpus / "manifests").glob("*.jsonl"))
    if not manifests:
        raise FlowTTSError(f"{corpus}: not a corpus folder (no manifests/*.jsonl)")
    out = corpus / "frames" / codec_id(codec_path)
    out.mkdir(parents=True, exist_ok=True)
    codec = load_codec(codec_path, device=device)
    levels = codec.config.fsq.levels
    for k, manifest in enumerate(manifests):
        target = out / f"{manifest.stem}.safetensors"
        if target.exists():
            if progress:
                progress(k + 1, len(manifests))
            continue
        rows = list(read_manifest(manifest))
        semantic, acoustic, offsets = [], [], [0]
        for row in rows:
            audio = read_audio(corpus / row.audio)
            if audio.sample_rate != 24000:
                raise FlowTTSError(f"{row.audio}: {audio.sample_rate} Hz, corpus audio must be 24 kHz")
            frames = codec.encode(torch.from_numpy(audio.samples).to(device))
            semantic.append(frames.semantic[0].cpu().to(torch.int16))
            codes = codec.fsq.values_to_codes(frames.acoustic[0].cpu()).to(torch.uint8)
            acoustic.append(codes)
            offsets.append(offsets[-1] + frames.num_frames)
        tensors = {
            "semantic": torch.cat(semantic) if semantic else torch.zeros(0, dtype=torch.int16),
            "acoustic": torch.cat(acoustic)
            if acoustic
            else torch.zeros(0, codec.config.fsq.dim, dtype=torch.uint8),
            "offsets": torch.tensor(offsets, dtype=torch.int64),
        }
        meta = {
            "format": FORMAT,
            "ids": json.dumps([r.id for r in rows]),
            "fsq_levels": str(levels),
            "codebook_size": str(codec.config.vq.codebook_size),
        }
        write_bytes_atomic(target, safetensors_save(tensors, metadata=meta))
        if progress:
            progress(k + 1, len(manifests))
    return out


def load_frames(folder: str | os.PathLike) -> dict[str, UtteranceFrames]:
    """All utterances' frames in a frames folder, by utterance id."""
    result: dict[str, UtteranceFrames] = {}
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FlowTTSError(f"{folder}: no frames (run `flowtts data encode` first)")
    for path in files:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise FlowTTSError(f"{path}: not a frames-store file")
            ids = json.loads(meta["ids"])
            sem, ac, off = f.get_tensor("semantic"), f.get_tensor("acoustic"), f.get_tensor("offsets")
        for i, uid in enumerate(ids):
            a, b = int(off[i]), int(off[i + 1])
            result[uid] = UtteranceFrames(uid, sem[a:b].astype(np.int64), ac[a:b])
    return result


def codes_to_values(codes: np.ndarray | torch.Tensor, levels: int) -> torch.Tensor:
    """FSQ level indices -> grid values in [-1, 1] (float32), as the codec's FSQ defines them."""
    from codec.quantizers.fsq import FSQ, FSQConfig

    t = torch.as_tensor(codes)
    return FSQ(FSQConfig(dim=t.shape[-1], levels=levels)).codes_to_values(t)
