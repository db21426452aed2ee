"""Voices: codec frames of a 3–25 s clip (+ optional transcript), stored as one safetensors file each.

A ``Voice`` is what the backbone's voice prefix is built from. Presets ship in a model folder's
``voices/``; users add their own to a ``VoiceLibrary`` (default ``$FLOWTTS_HOME/voices``, else
``~/.local/share/flowtts/voices``). Names are ``[a-z0-9][a-z0-9_.-]{0,63}`` so a name can never address
a path outside its library; writes are atomic.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from flowtts.atomic import write_bytes_atomic
from flowtts.constants import FRAME_RATE
from flowtts.errors import FlowTTSError

FORMAT = "flowtts.voice"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MIN_SECONDS, MAX_SECONDS = 3.0, 25.0


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise FlowTTSError(
            f"bad voice name {name!r}: use 1–64 characters a-z 0-9 _ . - starting with a letter or digit"
        )
    return name


@dataclass(frozen=True, eq=False)
class Voice:
    name: str
    semantic: torch.Tensor  # [T] long, codec VQ ids
    acoustic: torch.Tensor  # [T, D] float, FSQ grid values
    transcript: str = ""
    lang: str = ""
    metadata: dict[str, str] = field(default_factory=dict)  # source, consent, created, codec, …

    @property
    def num_frames(self) -> int:
        return int(self.semantic.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / FRAME_RATE

    def save(self, path: str | os.PathLike) -> None:
        meta = {
            "format": FORMAT,
            "name": self.name,
            "transcript": self.transcript,
            "lang": self.lang,
            "metadata": json.dumps(self.metadata, ensure_ascii=False),
        }
        tensors = {
            "semantic": self.semantic.long().cpu().contiguous(),
            "acoustic": self.acoustic.float().cpu().contiguous(),
        }
        write_bytes_atomic(path, safetensors_save(tensors, metadata=meta))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Voice:
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if meta.get("format") != FORMAT:
                    raise FlowTTSError(f"{path}: not a flowtts voice file")
                semantic, acoustic = f.get_tensor("semantic"), f.get_tensor("acoustic")
        except (SafetensorError, OSError) as e:
            raise FlowTTSError(f"{path}: not a readable voice file ({e})") from e
        if semantic.dim() != 1 or acoustic.dim() != 2 or acoustic.shape[0] != semantic.shape[0]:
            raise FlowTTSError(f"{path}: voice tensors have wrong shapes")
        return cls(
            name=meta.get("name", Path(path).stem),
            semantic=semantic.long(),
            acoustic=acoustic.float(),
            transcript=meta.get("transcript", ""),
            lang=meta.get("lang", ""),
            metadata=json.loads(meta.get("metadata", "{}")),
        )


def voice_from_audio(
    codec,
    samples: np.ndarray,
    sample_rate: int,
    name: str,
    transcript: str = "",
    lang: str = "",
    metadata: dict[str, str] | None = None,
) -> Voice:
    """Encodes a clip into a ``Voice``: resampled to 24 kHz, silence trimmed, 3–25 s of speech required."""
    from codec.audio_input import prepare_for_codec
    from flowtts.audio import silence_ratio, trim_silence

    check_name(name)
    prepared = prepare_for_codec(samples, sample_rate, name=f"voice clip {name!r}")
    x = prepared.samples.numpy()
    x = trim_silence(x, 24000)
    seconds = len(x) / 24000
    if seconds < MIN_SECONDS:
        raise FlowTTSError(
            f"voice clip {name!r}: {seconds:.1f} s of audio after trimming silence; need at least 3 s"
        )
    if seconds > MAX_SECONDS:
        raise FlowTTSError(
            f"voice clip {name!r}: {seconds:.1f} s is longer than {MAX_SECONDS:.0f} s; cut it shorter"
        )
    if silence_ratio(x, 24000) > 0.7:
        raise FlowTTSError(f"voice clip {name!r}: mostly silence; record 3–25 s of speech")
    x = level_to_corpus(x)
    device = next(codec.parameters()).device  # the codec may run on a GPU; the clip is on the CPU
    frames = codec.encode(torch.from_numpy(np.ascontiguousarray(x)).to(device))
    meta = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(metadata or {})}
    return Voice(name, frames.semantic[0].cpu(), frames.acoustic[0].cpu(), transcript, lang, meta)


def level_to_corpus(x: np.ndarray, target_db: float = -23.0, peak: float = 0.89) -> np.ndarray:
    """Gain so the loud (speech) frames average ``target_db`` RMS, like the corpus (−23 LUFS, peak −1 dBFS).

    RMS of frames within 30 dB of the loudest stands in for LUFS here (no extra dependency at inference).
    """
    from flowtts.audio import frame_db

    db = frame_db(x, 24000)
    loud = db[db >= db.max() - 30]
    level = 10 * np.log10(np.mean(10 ** (loud / 10)) + 1e-12)
    gain = 10 ** ((target_db - level) / 20)
    top = float(np.abs(x).max()) * gain
    if top > peak:
        gain *= peak / top
    return (x * gain).astype(np.float32)


class VoiceLibrary:
    """A folder of ``<name>.safetensors`` voices.

    ``get`` returns the same ``Voice`` object for a file as long as the file is unchanged (same size and
    modification time), so callers that cache per voice object (the TTS's voice-prompt KV cache) hit their
    cache for voices named by string, and a file is read once, not per request.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._loaded: dict[str, tuple[tuple[int, int], Voice]] = {}  # name -> ((mtime_ns, size), voice)

    @staticmethod
    def default_root() -> Path:
        home = os.environ.get("FLOWTTS_HOME")
        base = Path(home) if home else Path.home() / ".local" / "share" / "flowtts"
        return base / "voices"

    def path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.safetensors"

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.safetensors") if NAME_RE.match(p.stem))

    def __contains__(self, name: str) -> bool:
        ok = isinstance(name, str) and NAME_RE.match(name) is not None and ".." not in name
        return ok and self.path(name).exists()

    def get(self, name: str) -> Voice:
        path = self.path(name)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise FlowTTSError(f"unknown voice {name!r}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        hit = self._loaded.get(name)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        voice = Voice.load(path)
        self._loaded[name] = (stamp, voice)
        return voice

    def add(self, voice: Voice, overwrite: bool = False) -> Path:
        path = self.path(voice.name)
        if path.exists() and not overwrite:
            raise FlowTTSError(f"voice {voice.name!r} already exists")
        self.root.mkdir(parents=True, exist_ok=True)
        voice.save(path)
        return path

    def remove(self, name: str) -> None:
        path = self.path(name)
        if not path.exists():
            raise FlowTTSError(f"unknown voice {name!r}")
        path.unlink()
