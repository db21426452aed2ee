"""Release files: a codec is one ``codec.safetensors`` whose header holds its ``CodecConfig`` as JSON.

Weights load only through safetensors (never pickle). ``load_codec`` takes the file, or a model folder
that contains it (the default model's folder is ``flowtts.model_dir()``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from codec.config import CodecConfig
from codec.model import Codec
from flowtts.atomic import write_bytes_atomic
from flowtts.errors import FlowTTSError

FILE_NAME = "codec.safetensors"
FORMAT = "flowtts.codec"


def release_state(codec: Codec, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The tensors a release needs: parameters and persistent buffers, floats cast to ``dtype``.

    The VQ statistics stay float32 whatever ``dtype``: the codebook is their ratio, and rounding them
    would move codewords and change which id a frame gets.
    """
    state = {}
    for name, t in codec.state_dict().items():
        if name.endswith("unused_updates"):  # training bookkeeping of the VQ
            continue
        t = t.detach().cpu()
        keep = name.startswith("vq.") or not t.is_floating_point()
        state[name] = (t if keep else t.to(dtype)).contiguous()
    return state


def save_codec(
    codec: Codec,
    path: str | os.PathLike,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Writes ``codec.safetensors`` (to ``path``, or into it if a folder) atomically; returns the file."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    meta = {"format": FORMAT, "config": json.dumps(codec.config.to_dict()), **(extra or {})}
    write_bytes_atomic(path, safetensors_save(release_state(codec, dtype), metadata=meta))
    return path


def load_codec(
    path: str | os.PathLike | None = None, device: torch.device | str = "cpu", strict: bool = True
) -> Codec:
    """Loads a released codec (file or folder; ``None``: the default model's) in eval mode."""
    if path is None:
        from flowtts.model_dir import default_model_dir

        path = default_model_dir()
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    if not path.exists():
        raise FlowTTSError(f"no codec at {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise FlowTTSError(f"{path}: not a flowtts codec file (format {meta.get('format')!r})")
            config = CodecConfig.from_dict(json.loads(meta["config"]))
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as e:  # ValueError: bad JSON or values
        raise FlowTTSError(f"{path}: not a readable codec file ({e})") from e
    codec = Codec(config)
    try:
        missing, unexpected = codec.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False
        )
    except RuntimeError as e:  # a tensor whose shape does not fit the config (even with strict=False)
        raise FlowTTSError(f"{path}: weights do not match the config ({e})") from e
    missing = [m for m in missing if not m.endswith("unused_updates")]
    if strict and (missing or unexpected):
        raise FlowTTSError(
            f"{path}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return codec.to(device).eval()


def codec_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The header of a codec file (format, config JSON and whatever training recorded)."""
    with safe_open(str(path), framework="pt", device="cpu") as f:
        return dict(f.metadata() or {})
