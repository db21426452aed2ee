"""Audio going into the codec: checked and brought to 24 kHz mono float32 in [-1, 1], or refused clearly.

- unreadable, empty (0 samples) or NaN/inf audio: ``FlowTTSError`` with the reason;
- more than ``MAX_SECONDS``: refused (split the file);
- stereo / multichannel: mixed down (noted);
- another sample rate: resampled to 24 kHz with a band-limited polyphase filter (noted);
- float samples beyond ±1: scaled down to a peak of 1 (noted), never wrapped;
- clipping (many samples at full scale) and digital silence: encoded as they are, with a note, because
  that is a correct encoding of the input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from flowtts.audio import Audio, read_audio, resample
from flowtts.constants import SAMPLE_RATE
from flowtts.errors import FlowTTSError

MAX_SECONDS = 4 * 3600.0


@dataclass
class PreparedAudio:
    samples: torch.Tensor  # [S] float32 at 24 kHz in [-1, 1]
    notes: list[str] = field(default_factory=list)  # what was changed or is worth knowing, one line each


def prepare_for_codec(samples: np.ndarray, sample_rate: int, name: str = "audio") -> PreparedAudio:
    """``samples`` ``[N]`` or ``[N, C]`` at ``sample_rate`` -> 24 kHz mono float32 for ``Codec.encode``."""
    x = np.asarray(samples)
    notes: list[str] = []
    if x.ndim == 2:
        if x.shape[1] > 1:
            notes.append(f"{name}: {x.shape[1]} channels mixed down to mono")
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise FlowTTSError(f"{name}: expected [samples] or [samples, channels], got shape {x.shape}")
    if x.size == 0:
        raise FlowTTSError(f"{name}: empty audio (0 samples)")
    if sample_rate < 4000 or sample_rate > 384000:
        raise FlowTTSError(f"{name}: implausible sample rate {sample_rate} Hz")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise FlowTTSError(f"{name}: contains NaN or infinite samples")
    seconds = len(x) / sample_rate
    if seconds > MAX_SECONDS:
        raise FlowTTSError(
            f"{name}: {seconds / 3600:.1f} h is longer than the {MAX_SECONDS / 3600:.0f} h limit"
        )
    if sample_rate != SAMPLE_RATE:
        notes.append(f"{name}: resampled from {sample_rate} Hz to {SAMPLE_RATE} Hz")
        x = resample(x, sample_rate, SAMPLE_RATE)
    peak = float(np.abs(x).max())
    if peak > 1.0:
        notes.append(f"{name}: peak {peak:.2f} is above full scale; scaled down to 1.0")
        x = x / peak
        peak = 1.0
    if peak == 0.0:
        notes.append(f"{name}: digital silence")
    else:
        clipped = float(np.mean(np.abs(x) >= 0.999))
        if clipped > 0.001:
            notes.append(f"{name}: {100 * clipped:.1f} % of samples at full scale (clipped input)")
    return PreparedAudio(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), notes)


def load_for_codec(path: str | os.PathLike) -> PreparedAudio:
    """Reads an audio file (any format libsndfile knows) and prepares it for the codec."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError, OSError) as e:
        raise FlowTTSError(f"cannot read audio {path}: {e}") from e
    if info.frames / max(1, info.samplerate) > MAX_SECONDS:
        raise FlowTTSError(f"{path}: longer than the {MAX_SECONDS / 3600:.0f} h limit")
    audio: Audio = read_audio(path)  # mono mix, rejects empty and NaN/inf
    prepared = prepare_for_codec(audio.samples, audio.sample_rate, name=str(path))
    if info.channels > 1:
        prepared.notes.insert(0, f"{path}: {info.channels} channels mixed down to mono")
    return prepared
