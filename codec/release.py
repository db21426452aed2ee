"""Release files: a codec is one ``codec.safetensors`` whose header holds its ``CodecConfig`` as JSON.

Weights load only through safetensors (never pickle). ``load_codec`` takes the file, or a model folder
that contains it (the default model's folder is ``flowtts.model_dir()``).

A release may leave out the CTC phoneme head (``save_codec(phoneme_head=False)``): the header's config then
has no phoneme inventory, so ``load_codec`` builds a codec without a head (``codec.phoneme_head is None``)
and loads it strictly; encoding, decoding and ``frames_id`` are unchanged, only PER cannot be measured.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from codec.config import CodecConfig
from codec.model import FRAME_PREFIXES, PHONEME_HEAD_PREFIX, Codec
from flowtts.atomic import write_bytes_atomic
from flowtts.errors import FlowTTSError

FILE_NAME = "codec.safetensors"
FORMAT = "flowtts.codec"


def codec_file(path: str | os.PathLike) -> Path:
    """The codec file ``path`` names: ``path`` itself, or the ``codec.safetensors`` in it if a folder."""
    path = Path(path)
    return path / FILE_NAME if path.is_dir() else path


def release_state(
    codec: Codec,
    dtype: torch.dtype = torch.float32,
    phoneme_head: bool = True,
    exact_frames: bool = False,
) -> dict[str, torch.Tensor]:
    """The tensors a release needs: parameters and persistent buffers, floats cast to ``dtype``.

    The VQ statistics stay float32 whatever ``dtype``: the codebook is their ratio, and rounding them
    would move codewords and change which id a frame gets. ``exact_frames``: everything that decides the
    frames (encoder, VQ, FSQ) stays float32, so the file makes bit-identical frames and keeps the
    ``frames_id`` of ``codec`` (a float16 encoder makes nearly the same frames, under another id).
    ``phoneme_head=False`` leaves out the CTC phoneme head (training and PER only).
    """
    keep_float32 = FRAME_PREFIXES if exact_frames else ("vq.",)
    state = {}
    for name, t in codec.state_dict().items():
        if name.endswith("unused_updates"):  # training bookkeeping of the VQ
            continue
        if not phoneme_head and name.startswith(PHONEME_HEAD_PREFIX):
            continue
        t = t.detach().cpu()
        keep = name.startswith(keep_float32) or not t.is_floating_point()
        state[name] = (t if keep else t.to(dtype)).contiguous()
    return state


def frames_id_of(state: dict[str, torch.Tensor], config: CodecConfig) -> str:
    """12 hex digits naming the frames a codec makes: a sha256 over the tensors and config sections that
    decide them (encoder, VQ, FSQ), not the decoder's. A decoder fine-tuned after ``freeze_frames`` keeps
    its codec's id, so the TTS corpus frames and saved voices made with the earlier file stay usable."""
    h = hashlib.sha256()
    c = config.to_dict()
    h.update(json.dumps({k: c[k] for k in ("encoder", "vq", "fsq")}, sort_keys=True).encode())
    for name in sorted(state):
        if name.startswith(FRAME_PREFIXES) and not name.endswith("unused_updates"):
            t = state[name].detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:12]


def frames_id(path: str | os.PathLike) -> str:
    """The ``frames_id`` of a codec file: from its header, or computed from its tensors (older files)."""
    path = codec_file(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            if meta.get("frames_id"):
                return meta["frames_id"]
            config = CodecConfig.from_dict(json.loads(meta["config"]))
            state = {k: f.get_tensor(k) for k in f.keys() if k.startswith(FRAME_PREFIXES)}
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as e:
        raise FlowTTSError(f"{path}: not a readable codec file ({e})") from e
    return frames_id_of(state, config)


def save_codec(
    codec: Codec,
    path: str | os.PathLike,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
    phoneme_head: bool = True,
    exact_frames: bool = False,
) -> Path:
    """Writes ``codec.safetensors`` (to ``path``, or into it if a folder) atomically; returns the file.

    ``phoneme_head=False``: without the CTC phoneme head; the header's config then lists no phonemes, which
    is what tells ``load_codec`` to build the codec without one. ``exact_frames``: see ``release_state``.
    """
    path = codec_file(path)
    state = release_state(codec, dtype, phoneme_head=phoneme_head, exact_frames=exact_frames)
    config = codec.config if phoneme_head else replace(codec.config, phonemes=())
    meta = {
        "format": FORMAT,
        "config": json.dumps(config.to_dict()),
        "frames_id": frames_id_of(state, config),
        **(extra or {}),
    }
    write_bytes_atomic(path, safetensors_save(state, metadata=meta))
    return path


def load_codec(
    path: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
    strict: bool = True,
    trace_steps: bool = False,
) -> Codec:
    """Loads a released codec (file or folder; ``None``: the default model's) in eval mode.

    A file saved without the CTC phoneme head (its config lists no phonemes) loads with
    ``phoneme_head`` None: it encodes and decodes as before; ``phonemes_from_ids`` refuses.
    ``trace_steps``: stream through traced, frozen decoder graphs (``codec.decoder_trace``: same samples,
    faster per frame, but each new shape costs about a second to trace; servers turn them on with
    ``codec.streaming.warm_up``).
    """
    if path is None:
        from flowtts.model_dir import default_model_dir

        path = default_model_dir()
    path = codec_file(path)
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
    codec = codec.to(device).eval()
    if trace_steps:
        codec.decoder.trace_steps()
    return codec


def codec_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The header of a codec file (format, config JSON and whatever training recorded)."""
    with safe_open(str(path), framework="pt", device="cpu") as f:
        return dict(f.metadata() or {})
