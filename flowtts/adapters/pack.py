"""Voice packs: what ``flowtts finetune`` writes, and ``flowtts say --voice-pack`` and
``TTS.load_voice_pack`` read.

A pack is a folder:

    adapter.safetensors   LoRA weights only (float16), header: format, version, base model identity,
                          rank, alpha, targets                               (kind "lora")
    model/                a complete model folder instead, for a full fine-tune     (kind "full")
    voice.safetensors     the reference prompt: codec frames of a 3–10 s clip of the speaker (a flowtts voice)
    pack.json             name, kind, base, adapter settings, data summary, training, metrics
    REPORT.md             the same for a person, with the audio samples
    samples/*.wav         before (zero-shot cloning from the reference) / after (the pack) samples

Every file is written atomically and ``pack.json`` last, so a folder with ``pack.json`` is complete.

A LoRA pack belongs to one base model: its header records the base's identity (a hash of the weights file,
the codec's frames id and a hash of the architecture), and attaching it to another base is refused with
one line: an adapter trained on other weights would silently produce garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from flowtts.adapters.lora import Adapter, LoRAConfig
from flowtts.atomic import write_bytes_atomic, write_text_atomic
from flowtts.errors import FlowTTSError
from flowtts.voices import Voice, check_name

PACK_FORMAT = "flowtts.voice_pack"
ADAPTER_FORMAT = "flowtts.adapter"
PACK_VERSION = 1
KINDS = ("lora", "full")


@dataclass(frozen=True)
class BaseIdentity:
    """Which base model a pack was made on."""

    name: str  # config.json "name", else the folder's name (for messages)
    model_id: str  # sha256 of model.safetensors, 16 hex digits: equal weights, equal id
    codec_id: str  # the codec's frames id (voice.safetensors holds frames of this codec)
    config_hash: str  # sha256 of the architecture (config.json "model"), 16 hex digits

    @classmethod
    def of_model_dir(cls, root: str | os.PathLike) -> BaseIdentity:
        from flowtts.release import ModelFiles, read_config

        root = Path(root)
        config = read_config(root)
        files = ModelFiles(root)
        digest = hashlib.sha256()
        try:
            with open(files.weights, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as e:
            raise FlowTTSError(f"{files.weights}: cannot read weights ({e.strerror or e})") from e
        arch = json.dumps(config.get("model", {}), sort_keys=True).encode()
        return cls(
            name=str(config.get("name") or root.resolve().name),
            model_id=digest.hexdigest()[:16],
            codec_id=str(config.get("codec_id", "")),
            config_hash=hashlib.sha256(arch).hexdigest()[:16],
        )

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str) -> BaseIdentity:
        try:
            return cls(**{k: str(d[k]) for k in ("name", "model_id", "codec_id", "config_hash")})
        except (KeyError, TypeError) as e:
            raise FlowTTSError(f"{where}: incomplete base model identity ({e})") from None


@dataclass(frozen=True)
class PackFiles:
    root: Path

    @property
    def adapter(self) -> Path:
        return self.root / "adapter.safetensors"

    @property
    def voice(self) -> Path:
        return self.root / "voice.safetensors"

    @property
    def info(self) -> Path:
        return self.root / "pack.json"

    @property
    def report(self) -> Path:
        return self.root / "REPORT.md"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def model(self) -> Path:
        return self.root / "model"


@dataclass(frozen=True, eq=False)
class VoicePack:
    """A loaded voice pack. ``adapter`` is None for a full fine-tune (its weights are ``model_dir``)."""

    name: str
    kind: str  # "lora" | "full"
    voice: Voice  # the reference prompt
    base: BaseIdentity
    adapter: Adapter | None = None
    info: dict = field(default_factory=dict)  # pack.json
    root: Path | None = None

    @property
    def model_dir(self) -> Path | None:
        return PackFiles(self.root).model if self.kind == "full" and self.root is not None else None

    def check_base(self, base: BaseIdentity) -> None:
        """Raises ``FlowTTSError`` unless this pack was made on ``base`` (same weights and codec)."""
        if self.kind == "full":
            raise FlowTTSError(
                f"voice pack {self.name!r} is a full fine-tune: it is a model of its own; load it with "
                f"flowtts.load('{self.model_dir}') (or `flowtts say --voice-pack`), not on another base"
            )
        if self.base.model_id != base.model_id or self.base.codec_id != base.codec_id:
            raise FlowTTSError(
                f"voice pack {self.name!r} was made for base model {self.base.name!r} "
                f"(weights {self.base.model_id}), not for {base.name!r} (weights {base.model_id}); "
                "fine-tune again on this model"
            )

    @classmethod
    def load(cls, root: str | os.PathLike) -> VoicePack:
        """Reads and validates a pack folder.

        Raises:
            FlowTTSError: anything missing, unreadable or inconsistent (one line).
        """
        files = PackFiles(Path(root))
        if not files.root.is_dir():
            raise FlowTTSError(f"voice pack {root}: no such folder")
        if not files.info.is_file():
            raise FlowTTSError(f"{root}: not a voice pack (no pack.json; an unfinished fine-tune?)")
        try:
            info = json.loads(files.info.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise FlowTTSError(f"{files.info}: not readable ({e})") from None
        if not isinstance(info, dict) or info.get("format") != PACK_FORMAT:
            raise FlowTTSError(f"{files.info}: not a flowtts voice pack")
        version = info.get("format_version")
        if not isinstance(version, int) or version > PACK_VERSION:
            raise FlowTTSError(f"{files.info}: pack format_version {version!r} is newer than this flowtts")
        kind = info.get("kind")
        if kind not in KINDS:
            raise FlowTTSError(f"{files.info}: unknown kind {kind!r} (expected lora or full)")
        try:
            name = check_name(str(info.get("name", "")))
        except FlowTTSError as e:
            raise FlowTTSError(f"{files.info}: {e}") from None
        base = BaseIdentity.from_dict(info.get("base") or {}, str(files.info))
        if not files.voice.is_file():
            raise FlowTTSError(f"voice pack {root}: voice.safetensors is missing")
        voice = Voice.load(files.voice)
        adapter = None
        if kind == "lora":
            adapter, adapter_base = load_adapter(files.adapter)
            if adapter_base != base:
                raise FlowTTSError(f"{files.adapter}: its base model differs from pack.json's")
        elif not (files.model / "config.json").is_file():
            raise FlowTTSError(f"voice pack {root}: a full fine-tune without model/config.json")
        return cls(name=name, kind=kind, voice=voice, base=base, adapter=adapter, info=info, root=files.root)


def save_adapter(
    path: str | os.PathLike, adapter: Adapter, base: BaseIdentity, dtype: torch.dtype = torch.float16
) -> int:
    """Writes the LoRA weights (``dtype`` on disk) with their settings and base in the header; returns
    the file's size in bytes."""
    tensors = {k: v.detach().cpu().to(dtype).contiguous() for k, v in adapter.lora_state().items()}
    c = adapter.config
    meta = {
        "format": ADAPTER_FORMAT,
        "format_version": str(PACK_VERSION),
        "rank": str(c.rank),
        "alpha": repr(float(c.alpha)),
        "targets": json.dumps(list(c.targets)),
        "base": json.dumps(base.to_dict()),
    }
    data = safetensors_save(tensors, metadata=meta)
    write_bytes_atomic(path, data)
    return len(data)


def load_adapter(path: str | os.PathLike) -> tuple[Adapter, BaseIdentity]:
    """Reads ``adapter.safetensors`` (float32 in memory) and the base it was made on.

    Raises:
        FlowTTSError: missing, unreadable, not an adapter, newer format, bad or non-finite tensors.
    """
    if not Path(path).is_file():
        raise FlowTTSError(f"{path}: no such adapter file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != ADAPTER_FORMAT:
                raise FlowTTSError(f"{path}: not a flowtts adapter file")
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise FlowTTSError(f"{path}: not a readable adapter file ({e})") from None
    try:
        version = int(meta.get("format_version", "0"))
        config = LoRAConfig(
            rank=int(meta["rank"]),
            alpha=float(meta["alpha"]),
            targets=tuple(json.loads(meta["targets"])),
        )
        base = BaseIdentity.from_dict(json.loads(meta["base"]), str(path))
    except (KeyError, ValueError, TypeError) as e:
        raise FlowTTSError(f"{path}: bad adapter header ({e})") from None
    if version > PACK_VERSION:
        raise FlowTTSError(f"{path}: adapter format_version {version} is newer than this flowtts")
    if not state:
        raise FlowTTSError(f"{path}: no adapter weights")
    for k, v in state.items():
        if not v.is_floating_point() or not torch.isfinite(v).all():
            raise FlowTTSError(f"{path}: tensor {k} is not finite floating point")
    try:
        adapter = Adapter.from_lora_state(state, config)
    except FlowTTSError as e:
        raise FlowTTSError(f"{path}: {e}") from None
    return adapter, base


def write_voice_pack(
    root: str | os.PathLike,
    name: str,
    voice: Voice,
    base: BaseIdentity,
    info: dict,
    report: str,
    adapter: Adapter | None = None,
) -> Path:
    """Writes a pack folder (samples and, for a full fine-tune, ``model/`` are written by the caller
    before this): ``adapter.safetensors`` (when given), ``voice.safetensors``, ``REPORT.md``, then
    ``pack.json`` (``info`` plus format, name, kind, base, files and sizes)."""
    files = PackFiles(Path(root))
    files.root.mkdir(parents=True, exist_ok=True)
    check_name(name)
    sizes = {}
    if adapter is not None:
        sizes["adapter.safetensors"] = save_adapter(files.adapter, adapter, base)
    voice.save(files.voice)
    sizes["voice.safetensors"] = files.voice.stat().st_size
    write_text_atomic(files.report, report)
    full = {
        "format": PACK_FORMAT,
        "format_version": PACK_VERSION,
        "name": name,
        "kind": "lora" if adapter is not None else "full",
        "base": base.to_dict(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **info,
        "file_bytes": sizes,
    }
    write_text_atomic(files.info, json.dumps(full, indent=1, ensure_ascii=False) + "\n")
    return files.root


def pack_bytes(root: str | os.PathLike) -> int:
    """Total size of the files of a pack folder."""
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
