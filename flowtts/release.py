"""Model folders (DESIGN.md "Artifacts"): what a release is, how it is written and read.

    config.json          {"format_version", "model": TTSConfig, "codec_id", "name", …}
    model.safetensors    backbone + heads (float16 on disk by default; loaded as float32)
    codec.safetensors    the codec (its config in its header)
    tokenizer.model      the sentencepiece tokenizer
    phonemes.json        the phone units, for a model that reads phonemes (``flowtts.text.phonemes``)
    voices/*.safetensors preset voices
    MODEL_CARD.md        data, licences, steps, metrics as measured

Weights load only through safetensors. ``write_model_dir`` replaces files atomically one by one.
Training-only modules (the text-CTC head, ``TTSConfig.text_ctc``) are never released: the folder holds
the inference model, its config with ``text_ctc`` off.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from flowtts.atomic import write_bytes_atomic, write_text_atomic
from flowtts.errors import FlowTTSError
from flowtts.model.config import TTSConfig
from flowtts.model.tts import TRAINING_ONLY_PREFIXES, TTSModel

FORMAT_VERSION = 1


@dataclass
class ModelFiles:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def weights(self) -> Path:
        return self.root / "model.safetensors"

    @property
    def codec(self) -> Path:
        return self.root / "codec.safetensors"

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer.model"

    @property
    def phonemes(self) -> Path:
        return self.root / "phonemes.json"

    def phonemes_if_any(self) -> Path | None:
        return self.phonemes if self.phonemes.is_file() else None

    @property
    def voices(self) -> Path:
        return self.root / "voices"


def write_model_dir(
    root: str | os.PathLike,
    model: TTSModel,
    codec_path: str | os.PathLike,
    tokenizer_path: str | os.PathLike,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float16,
    phonemes_path: str | os.PathLike | None = None,
) -> Path:
    """Writes ``model`` (its inference weights), the codec and tokenizer files (and ``phonemes_path``, the
    phone inventory a phoneme model needs) and config.json into ``root``."""
    from flowtts.data.frames_store import codec_id

    files = ModelFiles(Path(root))
    if model.config.text_frontend == "phonemes" and phonemes_path is None:
        raise FlowTTSError(f"{root}: a model that reads phonemes needs its phonemes.json")
    files.root.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.detach().cpu().to(dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in model.state_dict().items()
        if not k.startswith(TRAINING_ONLY_PREFIXES)
    }
    write_bytes_atomic(files.weights, safetensors_save(state, metadata={"format": "flowtts.model"}))
    copies = [(codec_path, files.codec), (tokenizer_path, files.tokenizer)]
    if phonemes_path is not None:
        copies.append((phonemes_path, files.phonemes))
    for src, dst in copies:
        if Path(src).resolve() != dst.resolve():
            write_bytes_atomic(dst, Path(src).read_bytes())
    config = {
        "format_version": FORMAT_VERSION,
        "model": replace(model.config, text_ctc=False).to_dict(),
        "codec_id": codec_id(files.codec),
        **(extra or {}),
    }
    write_text_atomic(files.config, json.dumps(config, indent=1) + "\n")
    files.voices.mkdir(exist_ok=True)
    return files.root


def copy_voices(src: str | os.PathLike, dst_root: str | os.PathLike) -> None:
    dst = ModelFiles(Path(dst_root)).voices
    dst.mkdir(parents=True, exist_ok=True)
    for p in Path(src).glob("*.safetensors"):
        shutil.copyfile(p, dst / p.name)


def read_config(root: str | os.PathLike) -> dict:
    files = ModelFiles(Path(root))
    try:
        config = json.loads(files.config.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise FlowTTSError(f"{root}: not a flowtts model folder ({e})") from e
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise FlowTTSError(
            f"{root}: model format_version {config['format_version']} is newer than this flowtts"
        )
    return config


def load_tokenizer(root: str | os.PathLike, config: TTSConfig):
    """The text encoder of a model folder: its sentencepiece ``Tokenizer``, or for a model that reads
    phonemes the ``PhonemeTokenizer`` over it and the folder's phonemes.json."""
    from flowtts.text.tokenizer import Tokenizer

    files = ModelFiles(Path(root))
    tokenizer = Tokenizer.load(files.tokenizer)
    if config.text_frontend != "phonemes":
        return tokenizer
    from flowtts.text.phonemes import PhonemeInventory, PhonemeTokenizer

    return PhonemeTokenizer(tokenizer, PhonemeInventory.load(files.phonemes))


def load_tts_model(root: str | os.PathLike, device: str | torch.device = "cpu") -> TTSModel:
    """The inference model of a model folder: never with training-only modules (if a folder's config or
    weights mention them anyway, they are left out)."""
    files = ModelFiles(Path(root))
    config = replace(TTSConfig.from_dict(read_config(root)["model"]), text_ctc=False)
    model = TTSModel(config)
    try:
        with safe_open(str(files.weights), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise FlowTTSError(f"{files.weights}: cannot read weights ({e})") from e
    state = {
        k: v.float() if v.is_floating_point() else v
        for k, v in state.items()
        if not k.startswith(TRAINING_ONLY_PREFIXES)
    }
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise FlowTTSError(f"{files.weights}: weights do not match config.json ({e})") from e
    return model.to(device).eval()
